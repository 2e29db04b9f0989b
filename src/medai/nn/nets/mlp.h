#pragma once
// A two-hidden-layer tanh perceptron (the actor and the critic of PPO): l1, l2, l3.
#include <torch/nn.h>

namespace medai::nn {

class TorchScriptEmitter;

struct MlpOptions {
  MlpOptions(int64_t in, int64_t hidden, int64_t out) : in_(in), hidden_(hidden), out_(out) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, hidden);
  TORCH_ARG(int64_t, out);
};

struct MlpImpl : torch::nn::Module {
  explicit MlpImpl(const MlpOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  std::string emit_torchscript(TorchScriptEmitter& e);  // nn/torchscript.h
  MlpOptions options;
  torch::nn::Linear l1{nullptr}, l2{nullptr}, l3{nullptr};
};
TORCH_MODULE(Mlp);

}  // namespace medai::nn
