#pragma once
// The glucose forecaster's network: an LSTM over the input window, its last output through a
// ReLU layer to one value per forecast step (lstm, fc1, fc2).
#include <torch/nn.h>

namespace medai::nn {

class TorchScriptEmitter;

struct LstmForecasterNetOptions {
  LstmForecasterNetOptions(int64_t features, int64_t hidden, int64_t outputs)
      : features_(features), hidden_(hidden), outputs_(outputs) {}
  TORCH_ARG(int64_t, features);
  TORCH_ARG(int64_t, hidden);
  TORCH_ARG(int64_t, outputs);
  TORCH_ARG(int64_t, layers) = 2;
  TORCH_ARG(double, dropout) = 0.0;  // between LSTM layers
};

struct LstmForecasterNetImpl : torch::nn::Module {
  explicit LstmForecasterNetImpl(const LstmForecasterNetOptions& options);
  // x: batch x steps x features -> batch x outputs
  torch::Tensor forward(const torch::Tensor& x);
  std::string emit_torchscript(TorchScriptEmitter& e);  // nn/torchscript.h
  LstmForecasterNetOptions options;
  torch::nn::LSTM lstm{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(LstmForecasterNet);

}  // namespace medai::nn
