#include "medai/nn/nets/mlp.h"

#include <torch/torch.h>

namespace medai::nn {

MlpImpl::MlpImpl(const MlpOptions& o)
    : options(o),
      l1(register_module("l1", torch::nn::Linear(o.in(), o.hidden()))),
      l2(register_module("l2", torch::nn::Linear(o.hidden(), o.hidden()))),
      l3(register_module("l3", torch::nn::Linear(o.hidden(), o.out()))) {}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return l3->forward(torch::tanh(l2->forward(torch::tanh(l1->forward(x)))));
}

}  // namespace medai::nn
