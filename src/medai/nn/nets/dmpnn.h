#pragma once
// A directed message-passing network (D-MPNN; Yang et al., J Chem Inf Model 2019, Chemprop v1):
// hidden states live on directed bonds; a bond u->v gathers the messages into u except the one
// from v, for `depth` steps; atoms then sum their incoming bonds, the molecule averages its
// atoms, and a feed-forward head (optionally with extra molecule-level features, e.g. RDKit
// descriptors) gives one output per task.
#include <torch/nn.h>

namespace medai::nn {

// Molecules concatenated into one graph.
struct GraphBatch {
  torch::Tensor atoms;      // [A, atom features]
  torch::Tensor bonds;      // [B, bond features], directed; bond b's reverse is b ^ 1
  torch::Tensor bond_from;  // [B] int64 atom index
  torch::Tensor bond_to;    // [B]
  torch::Tensor atom_mol;   // [A] int64 molecule of each atom
  torch::Tensor extra;      // [N, extra features] or undefined
  int64_t molecules = 0;
};

struct DmpnnOptions {
  int64_t atom_features = 0, bond_features = 0, extra_features = 0, tasks = 1;
  int64_t hidden = 300, depth = 3, ffn_hidden = 300;
  double dropout = 0.0;
};

struct DmpnnImpl : torch::nn::Module {
  explicit DmpnnImpl(const DmpnnOptions& options);
  torch::Tensor forward(const GraphBatch& batch);  // [N, tasks]
  // Per-atom hidden states [A, hidden] after the message passing (before the readout).
  torch::Tensor encode_atoms(const GraphBatch& batch);
  torch::Tensor readout(const torch::Tensor& atom_hidden, const GraphBatch& batch);
  DmpnnOptions options;
  torch::nn::Linear w_i{nullptr}, w_h{nullptr}, w_o{nullptr}, ffn1{nullptr}, ffn2{nullptr};
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(Dmpnn);

}  // namespace medai::nn
