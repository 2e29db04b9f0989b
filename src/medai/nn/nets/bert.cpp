#include "medai/nn/nets/bert.h"

#include <torch/torch.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/io/safetensors.h"

namespace medai::nn {

BertConfig BertConfig::from_json(const nlohmann::json& j, const std::string& source) {
  BertConfig c;
  const auto get = [&](const char* key, auto& field) {
    if (!j.contains(key)) return;
    try {
      j.at(key).get_to(field);
    } catch (const std::exception&) {
      fail_invalid(source + ": field '" + key + "' has the wrong type");
    }
  };
  if (!j.is_object()) fail_invalid(source + ": not a JSON object");
  for (const char* key : {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads"})
    if (!j.contains(key)) fail_invalid(source + ": missing field '" + key + "'");
  get("vocab_size", c.vocab_size);
  get("hidden_size", c.hidden);
  get("num_hidden_layers", c.layers);
  get("num_attention_heads", c.heads);
  get("intermediate_size", c.intermediate);
  get("max_position_embeddings", c.max_positions);
  get("type_vocab_size", c.type_vocab);
  get("layer_norm_eps", c.layer_norm_eps);
  get("hidden_act", c.activation);
  get("medai_pre_ln", c.pre_ln);
  if (c.vocab_size <= 0 || c.hidden <= 0 || c.layers <= 0 || c.heads <= 0 || c.intermediate <= 0 ||
      c.max_positions <= 0 || c.type_vocab <= 0)
    fail_invalid(source + ": sizes must be positive");
  if (c.hidden % c.heads != 0)
    fail_invalid(source + ": hidden_size " + std::to_string(c.hidden) + " is not a multiple of num_attention_heads " +
                 std::to_string(c.heads));
  if (c.activation != "gelu" && c.activation != "gelu_new" && c.activation != "gelu_pytorch_tanh" &&
      c.activation != "relu")
    fail_invalid(source + ": hidden_act '" + c.activation + "' is not supported (gelu, gelu_new, relu)");
  if (j.contains("position_embedding_type") && j["position_embedding_type"] != "absolute")
    fail_invalid(source + ": only absolute position embeddings are supported");
  return c;
}

nlohmann::json BertConfig::to_json() const {
  return {{"model_type", "bert"},
          {"vocab_size", vocab_size},
          {"hidden_size", hidden},
          {"num_hidden_layers", layers},
          {"num_attention_heads", heads},
          {"intermediate_size", intermediate},
          {"max_position_embeddings", max_positions},
          {"type_vocab_size", type_vocab},
          {"layer_norm_eps", layer_norm_eps},
          {"hidden_act", activation},
          {"position_embedding_type", "absolute"},
          {"medai_pre_ln", pre_ln}};
}

namespace {
torch::nn::LayerNorm layer_norm(const BertConfig& c) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden}).eps(c.layer_norm_eps));
}
torch::Tensor activate(const torch::Tensor& x, const std::string& a) {
  if (a == "relu") return torch::relu(x);
  if (a == "gelu") return torch::gelu(x);
  return torch::gelu(x, "tanh");
}
}  // namespace

BertLayerImpl::BertLayerImpl(const BertConfig& c) : config(c) {
  query = register_module("query", torch::nn::Linear(c.hidden, c.hidden));
  key = register_module("key", torch::nn::Linear(c.hidden, c.hidden));
  value = register_module("value", torch::nn::Linear(c.hidden, c.hidden));
  attention_out = register_module("attention_out", torch::nn::Linear(c.hidden, c.hidden));
  attention_norm = register_module("attention_norm", layer_norm(c));
  intermediate = register_module("intermediate", torch::nn::Linear(c.hidden, c.intermediate));
  output = register_module("output", torch::nn::Linear(c.intermediate, c.hidden));
  output_norm = register_module("output_norm", layer_norm(c));
  dropout = register_module("dropout", torch::nn::Dropout(0.1));
}

torch::Tensor BertLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
  const int64_t n = x.size(0), s = x.size(1), h = config.heads, d = config.hidden / config.heads;
  const auto heads = [&](const torch::Tensor& t) { return t.view({n, s, h, d}).transpose(1, 2); };  // (N, H, S, D)
  const torch::Tensor in = config.pre_ln ? attention_norm(x) : x;
  const auto q = heads(query(in)), k = heads(key(in)), v = heads(value(in));
  auto scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(d)) + additive_mask;
  // Softmax in fp32 (the mask is fp32); the product with v in v's precision (bf16 under autocast).
  auto context = torch::matmul(dropout(torch::softmax(scores, -1)).to(v.scalar_type()), v)
                     .transpose(1, 2)
                     .reshape({n, s, config.hidden});
  torch::Tensor a = dropout(attention_out(context)) + x;
  if (!config.pre_ln) a = attention_norm(a);
  const torch::Tensor f_in = config.pre_ln ? output_norm(a) : a;
  torch::Tensor out = dropout(output(activate(intermediate(f_in), config.activation))) + a;
  return config.pre_ln ? out : output_norm(out);
}

BertEncoderImpl::BertEncoderImpl(const BertConfig& c, double p) : config(c) {
  word = register_module("word", torch::nn::Embedding(c.vocab_size, c.hidden));
  position = register_module("position", torch::nn::Embedding(c.max_positions, c.hidden));
  token_type = register_module("token_type", torch::nn::Embedding(c.type_vocab, c.hidden));
  embedding_norm = register_module("embedding_norm", layer_norm(c));
  if (c.pre_ln) final_norm = register_module("final_norm", layer_norm(c));
  dropout = register_module("dropout", torch::nn::Dropout(p));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.layers; ++i) {
    auto layer = BertLayer(c);
    layer->dropout->options.p(p);
    layers->push_back(layer);
  }
}

torch::Tensor BertEncoderImpl::forward(const torch::Tensor& ids, const torch::Tensor& attention_mask,
                                       const torch::Tensor& token_type_ids) {
  const int64_t s = ids.size(1);
  if (s > config.max_positions)
    fail_invalid("BERT input of " + std::to_string(s) + " tokens exceeds max_position_embeddings " +
                 std::to_string(config.max_positions));
  const auto positions = torch::arange(s, ids.options()).unsqueeze(0);
  auto x =
      word(ids) + position(positions) + token_type(token_type_ids.defined() ? token_type_ids : torch::zeros_like(ids));
  x = dropout(embedding_norm(x));
  // (N, 1, 1, S): 0 where attended, the float minimum where masked (as HF).
  const auto additive =
      (1.0 - attention_mask.to(x.dtype()).unsqueeze(1).unsqueeze(2)) * std::numeric_limits<float>::lowest();
  for (const auto& m : *layers) x = m->as<BertLayerImpl>()->forward(x, additive);
  return config.pre_ln ? final_norm(x) : x;
}

std::vector<std::pair<std::string, torch::Tensor>> hf_named_tensors(BertEncoder& encoder) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  auto& e = *encoder;
  out.emplace_back("embeddings.word_embeddings.weight", e.word->weight);
  out.emplace_back("embeddings.position_embeddings.weight", e.position->weight);
  out.emplace_back("embeddings.token_type_embeddings.weight", e.token_type->weight);
  out.emplace_back("embeddings.LayerNorm.weight", e.embedding_norm->weight);
  out.emplace_back("embeddings.LayerNorm.bias", e.embedding_norm->bias);
  for (size_t i = 0; i < e.layers->size(); ++i) {
    auto& l = *e.layers[i]->as<BertLayerImpl>();
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    const auto linear = [&](const torch::nn::Linear& m, const std::string& name) {
      out.emplace_back(p + name + ".weight", m->weight);
      out.emplace_back(p + name + ".bias", m->bias);
    };
    linear(l.query, "attention.self.query");
    linear(l.key, "attention.self.key");
    linear(l.value, "attention.self.value");
    linear(l.attention_out, "attention.output.dense");
    out.emplace_back(p + "attention.output.LayerNorm.weight", l.attention_norm->weight);
    out.emplace_back(p + "attention.output.LayerNorm.bias", l.attention_norm->bias);
    linear(l.intermediate, "intermediate.dense");
    linear(l.output, "output.dense");
    out.emplace_back(p + "output.LayerNorm.weight", l.output_norm->weight);
    out.emplace_back(p + "output.LayerNorm.bias", l.output_norm->bias);
  }
  if (e.config.pre_ln) {
    out.emplace_back("encoder.final_norm.weight", e.final_norm->weight);
    out.emplace_back("encoder.final_norm.bias", e.final_norm->bias);
  }
  return out;
}

namespace {
std::string dims(const std::vector<int64_t>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += 'x';
    out += std::to_string(v[i]);
  }
  return out;
}
}  // namespace

void copy_named_tensors(const std::vector<std::pair<std::string, torch::Tensor>>& targets, const io::SafetensorsFile& w,
                        const std::string& prefix) {
  const std::string file = w.source().string();
  torch::NoGradGuard no_grad;
  for (const auto& [name, target] : targets) {
    std::string key = prefix + name;
    if (!w.contains(key)) {  // older checkpoints: LayerNorm.gamma / LayerNorm.beta
      const auto alias = [&](const std::string& from, const std::string& to) {
        const size_t at = key.rfind(from);
        return at != std::string::npos && at + from.size() == key.size() ? key.substr(0, at) + to : key;
      };
      const std::string old = alias("LayerNorm.weight", "LayerNorm.gamma");
      key = w.contains(old) ? old : alias("LayerNorm.bias", "LayerNorm.beta");
    }
    const auto& t = w.at(key);
    if (t.shape != target.sizes().vec())
      fail_invalid(file + ", tensor '" + key + "': shape " + dims(t.shape) + " where the config needs " +
                   dims(target.sizes().vec()));
    target.copy_(torch::from_blob(const_cast<float*>(t.values.data()), target.sizes(), torch::kFloat32));
  }
}

size_t load_hf_weights(BertEncoder& encoder, const io::SafetensorsFile& w) {
  std::string prefix;
  if (!w.contains("embeddings.word_embeddings.weight") && w.contains("bert.embeddings.word_embeddings.weight"))
    prefix = "bert.";
  const auto targets = hf_named_tensors(encoder);
  copy_named_tensors(targets, w, prefix);
  return targets.size();
}

void save_hf_bert(BertEncoder& encoder, const std::filesystem::path& dir,
                  const std::vector<std::pair<std::string, torch::Tensor>>& extra) {
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>> tensors;
  const auto add = [&](const std::string& name, const torch::Tensor& t) {
    const auto c = t.detach().to(torch::kFloat32).contiguous();
    tensors[name] = {c.sizes().vec(), std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel())};
  };
  for (const auto& [name, t] : hf_named_tensors(encoder)) add("bert." + name, t);
  for (const auto& [name, t] : extra) add(name, t);
  std::filesystem::create_directories(dir);
  io::write_safetensors(dir / "model.safetensors", tensors);
  core::write_file_atomic(dir / "config.json", encoder->config.to_json().dump(2) + "\n");
}

BertMlmHeadImpl::BertMlmHeadImpl(const BertConfig& c) : config(c) {
  dense = register_module("dense", torch::nn::Linear(c.hidden, c.hidden));
  norm = register_module("norm", layer_norm(c));
  bias = register_parameter("bias", torch::zeros({c.vocab_size}));
}

torch::Tensor BertMlmHeadImpl::forward(const torch::Tensor& hidden, const torch::Tensor& word_embeddings) {
  // LayerNorm in its weights' precision (under bf16 autocast the dense output is bf16).
  const auto h = activate(dense(hidden), config.activation).to(norm->weight.scalar_type());
  return torch::nn::functional::linear(norm(h), word_embeddings, bias);
}

std::vector<std::pair<std::string, torch::Tensor>> BertMlmHeadImpl::hf_named_tensors() {
  return {{"cls.predictions.transform.dense.weight", dense->weight},
          {"cls.predictions.transform.dense.bias", dense->bias},
          {"cls.predictions.transform.LayerNorm.weight", norm->weight},
          {"cls.predictions.transform.LayerNorm.bias", norm->bias},
          {"cls.predictions.bias", bias}};
}

BertEncoder load_hf_bert(const std::filesystem::path& dir,
                         const std::vector<std::pair<std::string, torch::Tensor>>& extra) {
  const auto config_path = dir / "config.json";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(core::read_file(config_path));
  } catch (const nlohmann::json::exception& e) {
    fail_invalid(config_path.string() + ": not JSON (" + e.what() + ")");
  }
  BertEncoder encoder(BertConfig::from_json(j, config_path.string()), 0.1);
  const auto weights = io::SafetensorsFile::read(dir / "model.safetensors");
  load_hf_weights(encoder, weights);
  copy_named_tensors(extra, weights);
  encoder->eval();
  return encoder;
}

}  // namespace medai::nn
