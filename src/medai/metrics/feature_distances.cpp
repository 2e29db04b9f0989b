#include "medai/metrics/feature_distances.h"

#include <torch/torch.h>

#include <algorithm>

#include "medai/core/error.h"

namespace medai::metrics {

namespace {

void check_pair(const torch::Tensor& a, const torch::Tensor& b, const char* what) {
  if (a.dim() != 2 || b.dim() != 2 || a.size(1) != b.size(1))
    fail_invalid(std::string(what) + ": two N x D feature matrices of the same D are needed");
  if (a.size(0) < 2 || b.size(0) < 2) fail_invalid(std::string(what) + ": at least two samples on each side");
}

torch::Tensor covariance(const torch::Tensor& x) {
  const auto c = x - x.mean(0);
  return c.t().mm(c) / std::max<int64_t>(1, x.size(0) - 1);
}

}  // namespace

double frechet_distance(const torch::Tensor& a_in, const torch::Tensor& b_in) {
  check_pair(a_in, b_in, "Frechet distance");
  const auto a = a_in.to(torch::kDouble), b = b_in.to(torch::kDouble);
  const auto s1 = covariance(a), s2 = covariance(b);
  const auto [e1, v1] = torch::linalg_eigh(s1);
  const auto root1 = v1.mm(torch::diag(e1.clamp_min(0).sqrt())).mm(v1.t());
  const auto m = root1.mm(s2).mm(root1);
  const auto em = torch::linalg_eigvalsh((m + m.t()) / 2).clamp_min(0);
  return ((a.mean(0) - b.mean(0)).pow(2).sum() + s1.trace() + s2.trace() - 2 * em.sqrt().sum()).item<double>();
}

double kernel_distance(const torch::Tensor& a_in, const torch::Tensor& b_in, int subsets, int64_t subset_size,
                       uint64_t seed) {
  check_pair(a_in, b_in, "kernel distance");
  const auto a = a_in.to(torch::kDouble), b = b_in.to(torch::kDouble);
  const int64_t m = std::min({subset_size, a.size(0), b.size(0)});
  const double d = static_cast<double>(a.size(1));
  auto gen = at::detail::createCPUGenerator(seed);
  const auto kernel = [d](const torch::Tensor& x, const torch::Tensor& y) { return (x.mm(y.t()) / d + 1).pow(3); };
  double total = 0;
  for (int s = 0; s < subsets; ++s) {
    const auto x = a.index_select(0, torch::randperm(a.size(0), gen, torch::kLong).slice(0, 0, m));
    const auto y = b.index_select(0, torch::randperm(b.size(0), gen, torch::kLong).slice(0, 0, m));
    const auto kxx = kernel(x, x), kyy = kernel(y, y), kxy = kernel(x, y);
    const double mm = static_cast<double>(m);
    total += ((kxx.sum() - kxx.trace()) / (mm * (mm - 1)) + (kyy.sum() - kyy.trace()) / (mm * (mm - 1)) -
              2 * kxy.sum() / (mm * mm))
                 .item<double>();
  }
  return total / subsets;
}

torch::Tensor squared_distances(const torch::Tensor& a_in, const torch::Tensor& b_in) {
  const auto a = a_in.to(torch::kDouble), b = b_in.to(torch::kDouble);
  const auto bn = b.pow(2).sum(1).unsqueeze(0);
  std::vector<torch::Tensor> blocks;
  constexpr int64_t kBlock = 2048;
  for (int64_t i = 0; i < a.size(0); i += kBlock) {
    const auto x = a.slice(0, i, std::min(a.size(0), i + kBlock));
    blocks.push_back((x.pow(2).sum(1).unsqueeze(1) + bn - 2 * x.mm(b.t())).clamp_min(0));
  }
  return torch::cat(blocks, 0);
}

Nearest nearest_neighbours(const torch::Tensor& queries, const torch::Tensor& reference, bool exclude_self) {
  if (queries.dim() != 2 || reference.dim() != 2 || queries.size(1) != reference.size(1))
    fail_invalid("nearest neighbours: two N x D matrices of the same D are needed");
  if (reference.size(0) < (exclude_self ? 2 : 1)) fail_invalid("nearest neighbours: the reference set is too small");
  auto d2 = squared_distances(queries, reference);
  if (exclude_self) d2.diagonal().fill_(std::numeric_limits<double>::infinity());
  const auto [dist, idx] = d2.min(1);
  return {idx, dist.sqrt()};
}

PrecisionRecall manifold_precision_recall(const torch::Tensor& real, const torch::Tensor& generated, int k) {
  check_pair(real, generated, "precision/recall");
  if (real.size(0) <= k || generated.size(0) <= k) fail_invalid("precision/recall: more than k samples on each side");
  // The k-th neighbour radius of each member of a set, itself excluded (kthvalue counts the zero
  // self-distance as the first).
  const auto radii = [k](const torch::Tensor& x) { return std::get<0>(squared_distances(x, x).kthvalue(k + 1, 1)); };
  const auto covered = [](const torch::Tensor& queries, const torch::Tensor& set, const torch::Tensor& r) {
    const auto d2 = squared_distances(queries, set);
    return (d2 <= r.unsqueeze(0)).any(1).to(torch::kDouble).mean().item<double>();
  };
  return {covered(generated, real, radii(real)), covered(real, generated, radii(generated))};
}

}  // namespace medai::metrics
