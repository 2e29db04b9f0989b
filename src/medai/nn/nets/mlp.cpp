#include "medai/nn/nets/mlp.h"

#include <torch/torch.h>

#include "medai/nn/torchscript.h"

namespace medai::nn {

MlpImpl::MlpImpl(const MlpOptions& o)
    : options(o),
      l1(register_module("l1", torch::nn::Linear(o.in(), o.hidden()))),
      l2(register_module("l2", torch::nn::Linear(o.hidden(), o.hidden()))),
      l3(register_module("l3", torch::nn::Linear(o.hidden(), o.out()))) {}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return l3->forward(torch::tanh(l2->forward(torch::tanh(l1->forward(x)))));
}

std::string MlpImpl::emit_torchscript(TorchScriptEmitter& e) {
  const std::string h1 = e.call("torch.tanh(" + e.linear("l1", *l1, "x") + ")");
  const std::string h2 = e.call("torch.tanh(" + e.linear("l2", *l2, h1) + ")");
  return e.linear("l3", *l3, h2);
}

}  // namespace medai::nn
