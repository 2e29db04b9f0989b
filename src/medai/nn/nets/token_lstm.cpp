#include "medai/nn/nets/token_lstm.h"

#include <torch/torch.h>

namespace medai::nn {

TokenLstmImpl::TokenLstmImpl(const TokenLstmOptions& o) : options(o) {
  namespace tnn = torch::nn;
  embed = register_module("embed", tnn::Embedding(o.vocabulary, o.embedding));
  lstm = register_module("lstm", tnn::LSTM(tnn::LSTMOptions(o.embedding, o.hidden)
                                               .num_layers(o.layers)
                                               .batch_first(true)
                                               .dropout(o.layers > 1 ? o.dropout : 0.0)));
  head = register_module("head", tnn::Linear(o.hidden, o.vocabulary));
}

std::pair<torch::Tensor, TokenLstmImpl::State> TokenLstmImpl::forward(const torch::Tensor& tokens, const State& state) {
  const auto x = embed(tokens);
  auto [out, next] = std::get<0>(state).defined() ? lstm(x, state) : lstm(x);
  return {head(out), next};
}

}  // namespace medai::nn
