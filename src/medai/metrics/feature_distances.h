#pragma once
// Distances between two samples of feature vectors (rows of N x D tensors): what generative
// models are judged by. libtorch behind this header's users.
#include <torch/types.h>

#include <cstdint>

namespace medai::metrics {

// Fréchet distance between Gaussians fitted to a and b (Heusel et al. 2017's FID formula):
// |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^1/2), the root through symmetric eigendecompositions.
double frechet_distance(const torch::Tensor& a, const torch::Tensor& b);

// Kernel inception distance (Binkowski et al. 2018): the unbiased MMD^2 with the cubic polynomial
// kernel (x.y / D + 1)^3, averaged over `subsets` random subsets of `subset_size` rows of each
// (all rows when fewer), from torch's generator seeded with `seed`.
double kernel_distance(const torch::Tensor& a, const torch::Tensor& b, int subsets = 20, int64_t subset_size = 1000,
                       uint64_t seed = 1);

struct PrecisionRecall {
  double precision = 0;  // share of b (generated) inside a's k-NN manifold
  double recall = 0;     // share of a (real) inside b's manifold
};
// Kynkäänniemi et al. 2019: a sample is inside a set's manifold when it lies within the k-th
// nearest-neighbour radius of some member of the set.
PrecisionRecall manifold_precision_recall(const torch::Tensor& real, const torch::Tensor& generated, int k = 3);

// Squared Euclidean distances between rows, N x M (double), in blocks.
torch::Tensor squared_distances(const torch::Tensor& a, const torch::Tensor& b);
// For each row of `queries`, the index and distance (not squared) of its nearest row of `reference`;
// with `exclude_self` (queries == reference) a row is not its own neighbour.
struct Nearest {
  torch::Tensor index;     // N (int64)
  torch::Tensor distance;  // N (double)
};
Nearest nearest_neighbours(const torch::Tensor& queries, const torch::Tensor& reference, bool exclude_self = false);

}  // namespace medai::metrics
