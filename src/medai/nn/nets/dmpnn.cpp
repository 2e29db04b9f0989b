#include "medai/nn/nets/dmpnn.h"

#include <torch/torch.h>

namespace medai::nn {

DmpnnImpl::DmpnnImpl(const DmpnnOptions& o) : options(o) {
  namespace tnn = torch::nn;
  w_i =
      register_module("w_i", tnn::Linear(tnn::LinearOptions(o.atom_features + o.bond_features, o.hidden).bias(false)));
  w_h = register_module("w_h", tnn::Linear(tnn::LinearOptions(o.hidden, o.hidden).bias(false)));
  w_o = register_module("w_o", tnn::Linear(o.atom_features + o.hidden, o.hidden));
  ffn1 = register_module("ffn1", tnn::Linear(o.hidden + o.extra_features, o.ffn_hidden));
  ffn2 = register_module("ffn2", tnn::Linear(o.ffn_hidden, o.tasks));
  drop = register_module("drop", tnn::Dropout(o.dropout));
}

torch::Tensor DmpnnImpl::encode_atoms(const GraphBatch& b) {
  const int64_t n_atoms = b.atoms.size(0);
  const auto sum_into_atoms = [&](const torch::Tensor& h) {
    return torch::zeros({n_atoms, h.size(1)}, h.options()).index_add_(0, b.bond_to, h);
  };
  torch::Tensor message;
  if (b.bonds.size(0) > 0) {
    const auto h0 = torch::relu(w_i(torch::cat({b.atoms.index_select(0, b.bond_from), b.bonds}, 1)));
    // Bond b = u->v and its reverse v->u are neighbours (2k, 2k + 1): b ^ 1.
    const auto reverse = torch::arange(b.bonds.size(0), b.bond_from.options()).bitwise_xor(1);
    auto h = h0;
    for (int64_t step = 1; step < options.depth; ++step) {
      const auto m = sum_into_atoms(h).index_select(0, b.bond_from) - h.index_select(0, reverse);
      h = drop(torch::relu(h0 + w_h(m)));
    }
    message = sum_into_atoms(h);
  } else {
    message = torch::zeros({n_atoms, options.hidden}, b.atoms.options());
  }
  return drop(torch::relu(w_o(torch::cat({b.atoms, message}, 1))));
}

torch::Tensor DmpnnImpl::readout(const torch::Tensor& atom_hidden, const GraphBatch& b) {
  const auto opts = atom_hidden.options();
  auto mol = torch::zeros({b.molecules, atom_hidden.size(1)}, opts).index_add_(0, b.atom_mol, atom_hidden);
  const auto counts =
      torch::zeros({b.molecules}, opts).index_add_(0, b.atom_mol, torch::ones({b.atom_mol.size(0)}, opts));
  mol = mol / counts.clamp_min(1).unsqueeze(1);
  if (options.extra_features > 0) mol = torch::cat({mol, b.extra}, 1);
  return ffn2(drop(torch::relu(ffn1(mol))));
}

torch::Tensor DmpnnImpl::forward(const GraphBatch& b) { return readout(encode_atoms(b), b); }

}  // namespace medai::nn
