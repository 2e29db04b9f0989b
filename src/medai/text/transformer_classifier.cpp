#include "medai/text/transformer_classifier.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/precision.h"
#include "medai/core/run_folder.h"
#include "medai/metrics/multiclass.h"
#include "medai/text/bert_folder.h"
#include "medai/train/torch_helpers.h"
#include "medai/train/trainer.h"

namespace medai::text {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr int64_t kInferenceBatch = 32;
}

struct TransformerTextClassifier::Impl {
  BertFolder bert;
  torch::nn::Linear head{nullptr};
  torch::nn::Dropout dropout{nullptr};
  std::vector<std::string> classes;
  int64_t max_length = 256;
  bool bf16 = false;

  std::vector<torch::Tensor> parameters() const {
    auto p = bert.encoder->parameters();
    for (const auto& t : head->parameters()) p.push_back(t);
    return p;
  }
  torch::Tensor logits(const EncodedBatch& b) {
    train::AutocastGuard autocast(bf16);
    const auto hidden = bert.encoder->forward(b.ids, b.attention);
    return head(dropout(mean_pool(hidden, b.attention))).to(torch::kFloat);
  }
  void train_mode(bool on) {
    bert.encoder->train(on);
    head->train(on);
    dropout->train(on);
  }
  std::vector<std::vector<double>> probabilities(const std::vector<std::string>& texts) {
    train_mode(false);
    torch::NoGradGuard ng;
    std::vector<std::vector<double>> out;
    // Batches of similar lengths pad less: sort by length, answer in the input order.
    std::vector<size_t> order(texts.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return texts[a].size() < texts[b].size(); });
    out.resize(texts.size());
    for (size_t at = 0; at < order.size(); at += kInferenceBatch) {
      std::vector<const std::string*> batch;
      for (size_t i = at; i < std::min(order.size(), at + kInferenceBatch); ++i) batch.push_back(&texts[order[i]]);
      const auto p = torch::softmax(logits(encode_batch(*bert.tokenizer, batch, static_cast<size_t>(max_length))), 1)
                         .to(torch::kDouble)
                         .contiguous();
      for (size_t i = 0; i < batch.size(); ++i) {
        const double* row = p.data_ptr<double>() + static_cast<int64_t>(i) * p.size(1);
        out[order[at + i]].assign(row, row + p.size(1));
      }
    }
    return out;
  }
};

namespace {

int argmax(const std::vector<double>& p) { return static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin()); }

void check_options(const FineTuneOptions& o) {
  if (o.epochs < 1 || o.epochs > 1000) fail_invalid("epochs must be 1..1000");
  if (o.batch_size < 1 || o.batch_size > 1024) fail_invalid("batch size must be 1..1024");
  if (o.max_length < 8) fail_invalid("max-length must be at least 8 tokens");
  if (!(o.lr > 0 && o.lr < 1)) fail_invalid("learning rate must be in (0, 1)");
}

}  // namespace

TransformerTextClassifier TransformerTextClassifier::fine_tune(
    const fs::path& init, const std::vector<std::string>& texts, const std::vector<int>& labels,
    std::vector<std::string> classes, const FineTuneOptions& o, const std::vector<std::string>& valid_texts,
    const std::vector<int>& valid_labels) {
  check_options(o);
  if (texts.empty() || texts.size() != labels.size()) fail_invalid("fine-tuning needs labelled training texts");
  train::apply_torch_threads();
  torch::manual_seed(static_cast<uint64_t>(o.seed));
  TransformerTextClassifier model;
  model.impl_ = std::make_shared<Impl>();
  Impl& m = *model.impl_;
  m.bert = load_bert_folder(init);
  m.classes = std::move(classes);
  m.max_length = std::min(o.max_length, m.bert.encoder->config.max_positions);
  m.bf16 = core::resolve_precision(o.precision) == core::Precision::Bf16;
  const auto k = static_cast<int64_t>(m.classes.size());
  m.head = torch::nn::Linear(m.bert.encoder->config.hidden, k);
  m.dropout = torch::nn::Dropout(o.dropout);
  {
    torch::NoGradGuard ng;
    m.head->weight.normal_(0, 0.02);
    m.head->bias.zero_();
  }
  std::vector<double> weight(static_cast<size_t>(k), 1.0);
  if (o.balanced) {
    std::vector<double> count(static_cast<size_t>(k), 0.0);
    for (int y : labels) count[static_cast<size_t>(y)] += 1;
    for (size_t c = 0; c < count.size(); ++c)
      weight[c] = count[c] > 0 ? static_cast<double>(labels.size()) / (static_cast<double>(k) * count[c]) : 0.0;
  }
  const auto class_weight = torch::tensor(weight).to(torch::kFloat);
  auto optimizer = train::make_adamw(m.parameters(), o.lr, o.weight_decay);
  const int64_t steps = std::max<int64_t>(1, (static_cast<int64_t>(texts.size()) + o.batch_size - 1) / o.batch_size);

  train::TrainerOptions to;
  to.epochs = static_cast<int>(o.epochs);
  to.steps_per_epoch = steps;
  to.schedule = {train::ScheduleKind::Cosine, o.lr, steps * o.epochs,
                 static_cast<int64_t>(o.warmup_fraction * static_cast<double>(steps * o.epochs)), 0.0};
  const bool validating = !valid_texts.empty();
  to.monitor = validating ? "val_macro_f1" : "epoch";
  to.patience = static_cast<int>(o.epochs);
  to.label = "fine-tune";
  to.unit = "texts";
  to.units_per_epoch = static_cast<int64_t>(texts.size());
  to.progress = o.progress;
  to.log_epochs = o.progress;
  to.run_dir = o.run_dir;
  std::vector<size_t> order(texts.size());
  train::ParameterSnapshot best;
  train::TrainerHooks hooks;
  hooks.begin_epoch = [&](int epoch) {
    m.train_mode(true);
    std::iota(order.begin(), order.end(), size_t{0});
    std::mt19937_64 rng(static_cast<uint64_t>(o.seed) * 1000003 + static_cast<uint64_t>(epoch));
    std::shuffle(order.begin(), order.end(), rng);
  };
  hooks.train_step = [&](int64_t step, double lr) -> std::optional<std::pair<double, int64_t>> {
    train::set_lr(*optimizer, lr);
    std::vector<const std::string*> batch;
    std::vector<int64_t> y;
    for (size_t i = static_cast<size_t>(step * o.batch_size);
         i < std::min(order.size(), static_cast<size_t>((step + 1) * o.batch_size)); ++i) {
      batch.push_back(&texts[order[i]]);
      y.push_back(labels[order[i]]);
    }
    if (batch.empty()) return std::nullopt;
    const auto logits = m.logits(encode_batch(*m.bert.tokenizer, batch, static_cast<size_t>(m.max_length)));
    const auto loss = torch::nn::functional::cross_entropy(
        logits, torch::tensor(y), torch::nn::functional::CrossEntropyFuncOptions().weight(class_weight));
    return std::pair{train::optimise(*optimizer, loss, m.parameters(), 1.0), static_cast<int64_t>(batch.size())};
  };
  hooks.validate = [&](int epoch) {
    if (!validating) return train::Metrics{{"epoch", static_cast<double>(epoch)}};
    std::vector<int> predicted;
    for (const auto& p : m.probabilities(valid_texts)) predicted.push_back(argmax(p));
    const auto r = metrics::multiclass_metrics(valid_labels, predicted, static_cast<int>(k));
    return train::Metrics{{"val_macro_f1", r.macro_f1}, {"val_accuracy", r.accuracy}};
  };
  hooks.save_best = [&] { best.capture(m.parameters()); };
  hooks.save_checkpoint = [&](const fs::path& ck) {
    train::save_module(*m.bert.encoder, ck / "encoder.pt");
    train::save_module(*m.head, ck / "head.pt");
    train::save_optimizer(*optimizer, ck / "optimizer.pt");
    best.save(ck / "best.pt");
  };
  hooks.load_checkpoint = [&](const fs::path& ck) {
    train::load_module(*m.bert.encoder, ck / "encoder.pt");
    train::load_module(*m.head, ck / "head.pt");
    train::load_optimizer(*optimizer, ck / "optimizer.pt");
    best.load(ck / "best.pt");
  };
  if (!o.run_dir.empty())
    hooks.end_epoch = [&](const std::vector<train::EpochRecord>& history) {
      std::vector<train::CurvePanel> panels{
          {"fine-tuning loss", "epoch", "cross-entropy", "epoch", {"train_loss"}, {"train"}}};
      if (validating)
        panels.push_back(
            {"validation", "epoch", "score", "epoch", {"val_macro_f1", "val_accuracy"}, {"macro-F1", "accuracy"}});
      train::epoch_curves(history).write(o.run_dir, panels);
    };
  train::fit(to, hooks);
  if (!best.empty()) best.restore(m.parameters());
  m.train_mode(false);
  return model;
}

std::vector<std::vector<double>> TransformerTextClassifier::probabilities(const std::vector<std::string>& texts) const {
  return impl_->probabilities(texts);
}

std::vector<double> TransformerTextClassifier::probabilities(const std::string& text) const {
  return impl_->probabilities({text}).front();
}

const std::vector<std::string>& TransformerTextClassifier::classes() const { return impl_->classes; }

std::string TransformerTextClassifier::description() const {
  const auto& c = impl_->bert.encoder->config;
  return std::to_string(c.layers) + "-layer BERT encoder, hidden " + std::to_string(c.hidden) +
         ", mean-pooled, up to " + std::to_string(impl_->max_length) + " tokens";
}

void TransformerTextClassifier::save(const fs::path& dir) const {
  Impl& m = *impl_;
  fs::create_directories(dir);
  nn::save_hf_bert(m.bert.encoder, dir, {{"classifier.weight", m.head->weight}, {"classifier.bias", m.head->bias}});
  json config = m.bert.encoder->config.to_json();
  json id2label = json::object(), label2id = json::object();
  for (size_t c = 0; c < m.classes.size(); ++c) {
    id2label[std::to_string(c)] = m.classes[c];
    label2id[m.classes[c]] = c;
  }
  config["id2label"] = id2label;
  config["label2id"] = label2id;
  config["medai_pooling"] = "mean";
  config["medai_max_length"] = m.max_length;
  core::write_file_atomic(dir / "config.json", config.dump(2) + "\n");
  m.bert.tokenizer->save(dir, m.max_length);
}

TransformerTextClassifier TransformerTextClassifier::load(const fs::path& dir) {
  TransformerTextClassifier model;
  model.impl_ = std::make_shared<Impl>();
  Impl& m = *model.impl_;
  const auto config_path = dir / "config.json";
  if (!fs::exists(config_path)) load_bert_folder(dir);  // fails naming what the folder lacks
  const json config = core::read_json_file(config_path);
  if (!config.contains("id2label") || !config["id2label"].is_object() || config["id2label"].size() < 2)
    fail_invalid(config_path.string() + ": no 'id2label' with at least two classes (not a text classifier)");
  for (size_t c = 0; c < config["id2label"].size(); ++c) {
    const auto key = std::to_string(c);
    if (!config["id2label"].contains(key) || !config["id2label"][key].is_string())
      fail_invalid(config_path.string() + ": 'id2label' lacks class " + key);
    m.classes.push_back(config["id2label"][key].get<std::string>());
  }
  const auto bert_config = nn::BertConfig::from_json(config, config_path.string());
  m.head = torch::nn::Linear(bert_config.hidden, static_cast<int64_t>(m.classes.size()));
  m.dropout = torch::nn::Dropout(0.0);
  // The encoder and the head from one reading of model.safetensors.
  m.bert = load_bert_folder(dir, {{"classifier.weight", m.head->weight}, {"classifier.bias", m.head->bias}});
  m.max_length =
      std::min<int64_t>(config.value("medai_max_length", int64_t{512}), m.bert.encoder->config.max_positions);
  m.train_mode(false);
  return model;
}

TextClassifierModel TextClassifierModel::load(const fs::path& run_dir) {
  TextClassifierModel m;
  if (fs::exists(run_dir / "text_classifier.bin")) {
    m.tfidf_ = std::make_shared<TfidfTextClassifier>(TfidfTextClassifier::load(run_dir / "text_classifier.bin"));
    m.method_ = "tfidf-lr";
  } else if (fs::exists(run_dir / "model.safetensors")) {
    m.transformer_ = std::make_shared<TransformerTextClassifier>(TransformerTextClassifier::load(run_dir));
    m.method_ = "transformer";
  } else {
    fail_invalid(run_dir.string() + ": not a text classifier run (neither text_classifier.bin nor model.safetensors)");
  }
  return m;
}

std::vector<std::vector<double>> TextClassifierModel::probabilities(const std::vector<std::string>& texts) const {
  if (transformer_) return transformer_->probabilities(texts);
  std::vector<std::vector<double>> out;
  for (const auto& t : texts) out.push_back(tfidf_->probabilities(t));
  return out;
}

std::vector<double> TextClassifierModel::probabilities(const std::string& text) const {
  return transformer_ ? transformer_->probabilities(text) : tfidf_->probabilities(text);
}

const std::vector<std::string>& TextClassifierModel::classes() const {
  return transformer_ ? transformer_->classes() : tfidf_->classes();
}

TextClassifierFactory transformer_classifier_factory(const fs::path& init, const FineTuneOptions& options) {
  return [init, options](const std::vector<std::string>& texts, const std::vector<int>& labels, int classes) {
    auto model = std::make_shared<TransformerTextClassifier>(TransformerTextClassifier::fine_tune(
        init, texts, labels, std::vector<std::string>(static_cast<size_t>(classes)), options));
    return std::function<int(const std::string&)>(
        [model](const std::string& s) { return argmax(model->probabilities(s)); });
  };
}

}  // namespace medai::text
