#pragma once
// A BERT-family transformer encoder (Devlin et al. 2019) with Hugging Face's parameter layout,
// so that a checkpoint folder (config.json, vocab.txt, model.safetensors) of BERT, a clinical
// BERT or a small BERT loads as it is. Batch-first throughout: the attention is written out with
// matmul rather than torch::nn::MultiheadAttention, whose libtorch 1.13 interface is (S, N, E)
// (TOOLCHAIN.md). Post-LN as BERT; pre-LN as an option for models trained from scratch.
#include <torch/nn.h>

#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

namespace medai::io {
class SafetensorsFile;
}

namespace medai::nn {

struct BertConfig {
  int64_t vocab_size = 30522, hidden = 768, layers = 12, heads = 12, intermediate = 3072;
  int64_t max_positions = 512, type_vocab = 2;
  double layer_norm_eps = 1e-12;
  std::string activation = "gelu";  // gelu (erf), gelu_new / gelu_pytorch_tanh (tanh), relu
  bool pre_ln = false;
  // From a HF config.json; fails naming `source` on a missing or inconsistent field.
  static BertConfig from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
};

struct BertLayerImpl : torch::nn::Module {
  explicit BertLayerImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask);
  BertConfig config;
  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr}, attention_out{nullptr};
  torch::nn::LayerNorm attention_norm{nullptr};
  torch::nn::Linear intermediate{nullptr}, output{nullptr};
  torch::nn::LayerNorm output_norm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(BertLayer);

struct BertEncoderImpl : torch::nn::Module {
  explicit BertEncoderImpl(const BertConfig& c, double dropout = 0.1);
  // ids, attention_mask, token_type_ids: (N, S) int64 -> hidden states (N, S, hidden).
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& attention_mask,
                        const torch::Tensor& token_type_ids = {});
  BertConfig config;
  torch::nn::Embedding word{nullptr}, position{nullptr}, token_type{nullptr};
  torch::nn::LayerNorm embedding_norm{nullptr}, final_norm{nullptr};  // final_norm: pre-LN only
  torch::nn::Dropout dropout{nullptr};
  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(BertEncoder);

// Predicts the masked tokens from the encoder's hidden states (HF's BertOnlyMLMHead: dense,
// activation, LayerNorm, then the word embeddings transposed plus a bias: tied weights).
struct BertMlmHeadImpl : torch::nn::Module {
  explicit BertMlmHeadImpl(const BertConfig& c);
  // hidden: (..., hidden) -> logits (..., vocab_size).
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& word_embeddings);
  std::vector<std::pair<std::string, torch::Tensor>> hf_named_tensors();  // "cls.predictions...."
  BertConfig config;
  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::Tensor bias;
};
TORCH_MODULE(BertMlmHead);

// The encoder's parameters under their HF names (without the "bert." prefix), in a fixed order.
std::vector<std::pair<std::string, torch::Tensor>> hf_named_tensors(BertEncoder& encoder);
// Copies tensors of `weights` named `prefix` + name into the targets; fails naming the file and
// tensor on a missing tensor or a shape mismatch.
void copy_named_tensors(const std::vector<std::pair<std::string, torch::Tensor>>& targets,
                        const io::SafetensorsFile& weights, const std::string& prefix = "");
// Writes `dir`/config.json and `dir`/model.safetensors (the encoder as "bert.*", then `extra`
// under their own names), each atomically: a folder that load_hf_bert and HF transformers read.
void save_hf_bert(BertEncoder& encoder, const std::filesystem::path& dir,
                  const std::vector<std::pair<std::string, torch::Tensor>>& extra = {});

// Copies HF-named weights ("embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight",
// with or without a "bert." prefix, LayerNorm as weight/bias or gamma/beta) into `encoder`.
// Fails naming the file and tensor on a missing tensor or a shape mismatch; unused tensors
// (pooler, MLM head) are ignored. Returns how many tensors were copied.
size_t load_hf_weights(BertEncoder& encoder, const io::SafetensorsFile& weights);
// config.json + model.safetensors of a HF-layout folder; `extra` (a task head, say) is copied from
// the same file under its own names, so the weights are read once.
BertEncoder load_hf_bert(const std::filesystem::path& dir,
                         const std::vector<std::pair<std::string, torch::Tensor>>& extra = {});

}  // namespace medai::nn
