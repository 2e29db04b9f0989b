#include "medai/nn/nets/lstm_forecaster_net.h"

#include <torch/torch.h>

#include "medai/nn/torchscript.h"

namespace medai::nn {

LstmForecasterNetImpl::LstmForecasterNetImpl(const LstmForecasterNetOptions& o)
    : options(o),
      lstm(register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(o.features(), o.hidden())
                                                       .num_layers(o.layers())
                                                       .dropout(o.layers() > 1 ? o.dropout() : 0.0)
                                                       .batch_first(true)))),
      fc1(register_module("fc1", torch::nn::Linear(o.hidden(), o.hidden()))),
      fc2(register_module("fc2", torch::nn::Linear(o.hidden(), o.outputs()))) {}

torch::Tensor LstmForecasterNetImpl::forward(const torch::Tensor& x) {
  auto out = std::get<0>(lstm->forward(x));
  auto last = out.select(1, out.size(1) - 1);
  return fc2->forward(torch::relu(fc1->forward(last)));
}

std::string LstmForecasterNetImpl::emit_torchscript(TorchScriptEmitter& e) {
  const std::string out = e.lstm("lstm", *lstm, "x");
  const std::string last = e.call(out + ".select(1, " + out + ".size(1) - 1)");
  return e.linear("fc2", *fc2, e.call("torch.relu(" + e.linear("fc1", *fc1, last) + ")"));
}

}  // namespace medai::nn
