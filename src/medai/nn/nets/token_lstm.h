#pragma once
// A token-level LSTM language model (embedding -> stacked LSTM -> vocabulary logits), the
// SMILES generator of chem/smiles_lm.h. Batch-first: tokens [N, T] -> logits [N, T, V].
#include <torch/nn.h>

#include <tuple>

namespace medai::nn {

struct TokenLstmOptions {
  int64_t vocabulary = 0, embedding = 128, hidden = 512, layers = 2;
  double dropout = 0.0;
};

struct TokenLstmImpl : torch::nn::Module {
  explicit TokenLstmImpl(const TokenLstmOptions& options);
  using State = std::tuple<torch::Tensor, torch::Tensor>;
  // Logits for every position and the final (h, c); `state` undefined = zeros.
  std::pair<torch::Tensor, State> forward(const torch::Tensor& tokens, const State& state = {});
  TokenLstmOptions options;
  torch::nn::Embedding embed{nullptr};
  torch::nn::LSTM lstm{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(TokenLstm);

}  // namespace medai::nn
