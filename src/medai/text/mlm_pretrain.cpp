#include "medai/text/mlm_pretrain.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <unordered_set>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/precision.h"
#include "medai/core/progress.h"
#include "medai/core/runtime.h"
#include "medai/io/csv.h"
#include "medai/nn/nets/bert.h"
#include "medai/text/bert_folder.h"
#include "medai/text/sentencepiece.h"
#include "medai/text/text_util.h"
#include "medai/text/wordpiece.h"
#include "medai/text/wordpiece_trainer.h"
#include "medai/train/stored_options.h"
#include "medai/train/torch_helpers.h"
#include "medai/train/trainer.h"

namespace medai::text {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<std::string> read_corpus(const std::vector<fs::path>& files, const std::vector<std::string>& columns,
                                     size_t* skipped) {
  if (files.empty()) fail_invalid("corpus: give at least one CSV file");
  if (columns.empty()) fail_invalid("column: name the text column");
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  size_t empty = 0;
  for (const auto& file : files) {
    const io::CsvTable t = io::read_csv(file);
    std::optional<size_t> col;
    std::string name;
    for (const auto& c : columns)
      if ((col = t.find_column(c))) {
        name = c;
        break;
      }
    if (!col) {
      std::string listed;
      for (const auto& c : columns) listed += (listed.empty() ? "'" : ", '") + c + "'";
      fail_invalid(file.string() + ": no column " + listed);
    }
    for (size_t r = 0; r < t.rows.size(); ++r) {
      const std::string& s = t.rows[r][*col];
      if (!is_valid_utf8(s))
        fail_invalid(file.string() + " row " + std::to_string(r) + ", column '" + name + "': not valid UTF-8 text");
      std::string n = normalise_whitespace(s);
      if (n.empty()) {
        ++empty;
        continue;
      }
      if (seen.insert(n).second) out.push_back(std::move(n));
    }
  }
  if (skipped) *skipped = empty;
  if (out.empty()) fail_invalid("corpus: no non-empty text in the given files");
  return out;
}

namespace {

constexpr const char* kCardFile = "model.json";
constexpr int64_t kSpecialIds = 5;  // [PAD] [UNK] [CLS] [SEP] [MASK] come first in a learned vocabulary
constexpr size_t kMaxValidationWindows = 512;

template <class F>
void stored_fields(F&& f, PretrainOptions& o) {
  std::vector<std::string> corpus;
  for (const auto& p : o.corpus) corpus.push_back(p.string());
  std::string vocab = o.vocab.string();
  f("corpus", corpus)("columns", o.columns)("vocab", vocab)("vocab_size", o.vocab_size)("hidden", o.hidden);
  f("layers", o.layers)("heads", o.heads)("intermediate", o.intermediate)("max_length", o.max_length);
  f("batch_size", o.batch_size)("steps", o.steps)("steps_per_epoch", o.steps_per_epoch)("lr", o.lr);
  f("weight_decay", o.weight_decay)("warmup_fraction", o.warmup_fraction)("mask_probability", o.mask_probability);
  f("validation_fraction", o.validation_fraction)("seed", o.seed)("lower_case", o.lower_case);
  f("precision", o.precision)("tokenizer", o.tokenizer)("time_budget_minutes", o.time_budget_minutes);
  o.corpus.assign(corpus.begin(), corpus.end());
  o.vocab = vocab;
}

void validate(const PretrainOptions& o) {
  if (o.hidden < 8 || o.hidden > 4096 || o.heads < 1 || o.hidden % o.heads != 0)
    fail_invalid("hidden must be 8..4096 and a multiple of heads");
  if (o.layers < 1 || o.layers > 48) fail_invalid("layers must be 1..48");
  if (o.intermediate < 1 || o.intermediate > 16384) fail_invalid("intermediate must be 1..16384");
  if (o.max_length < 8 || o.max_length > 1024) fail_invalid("max-length must be 8..1024 tokens");
  if (o.batch_size < 1 || o.batch_size > 4096) fail_invalid("batch size must be 1..4096");
  if (o.steps < 0 || o.steps_per_epoch < 1)
    fail_invalid("steps must be >= 0 (0: fit the time budget), steps per epoch positive");
  if (o.steps == 0 && !(o.time_budget_minutes > 0 && o.time_budget_minutes <= 100000))
    fail_invalid("time budget must be a positive number of minutes");
  if (!(o.lr > 0 && o.lr < 1)) fail_invalid("learning rate must be in (0, 1)");
  if (!(o.mask_probability > 0 && o.mask_probability < 1)) fail_invalid("mask probability must be in (0, 1)");
  if (!(o.validation_fraction > 0 && o.validation_fraction < 0.5))
    fail_invalid("validation fraction must be in (0, 0.5)");
  if (o.vocab.empty() && (o.vocab_size < 100 || o.vocab_size > 200000)) fail_invalid("vocab size must be 100..200000");
  if (o.tokenizer != "wordpiece" && o.tokenizer != "sentencepiece")
    fail_invalid("tokenizer '" + o.tokenizer + "': use wordpiece or sentencepiece");
}

using Window = std::vector<int32_t>;  // token ids without [CLS] / [SEP]

// Each document's ids cut into windows of `room` tokens; a tail shorter than 8 tokens joins
// nothing and is dropped unless it is the whole document.
std::vector<Window> windows_of(const std::vector<std::string>& docs, const SubwordTokenizer& tok, size_t room,
                               bool progress) {
  std::vector<Window> out;
  core::ProgressBar bar("tokenise", static_cast<int64_t>(docs.size()), "docs", progress);
  for (const auto& d : docs) {
    Window ids;
    for (const auto id : tok.token_ids(d)) ids.push_back(static_cast<int32_t>(id));
    for (size_t at = 0; at < ids.size(); at += room) {
      const size_t n = std::min(room, ids.size() - at);
      if (n < 8 && at > 0) break;
      out.emplace_back(ids.begin() + static_cast<std::ptrdiff_t>(at),
                       ids.begin() + static_cast<std::ptrdiff_t>(at + n));
    }
    bar.advance();
  }
  bar.finish();
  return out;
}

struct MaskedBatch {
  torch::Tensor ids, attention, positions, targets;  // positions: flat indices into (N * S)
};

// [CLS] window [SEP], padded to the longest in the batch; BERT's 80/10/10 masking.
MaskedBatch mask_batch(const std::vector<const Window*>& rows, const SubwordTokenizer& tok, double p,
                       std::mt19937_64& rng) {
  size_t s = 0;
  for (const auto* w : rows) s = std::max(s, w->size() + 2);
  const auto n = static_cast<int64_t>(rows.size());
  auto ids = torch::full({n, static_cast<int64_t>(s)}, tok.pad_id(), torch::kInt64);
  auto att = torch::zeros({n, static_cast<int64_t>(s)}, torch::kInt64);
  auto* id = ids.data_ptr<int64_t>();
  auto* a = att.data_ptr<int64_t>();
  std::vector<int64_t> positions, targets;
  std::uniform_real_distribution<double> u(0, 1);
  std::uniform_int_distribution<int64_t> random_token(kSpecialIds, static_cast<int64_t>(tok.size()) - 1);
  for (int64_t b = 0; b < n; ++b) {
    const Window& w = *rows[static_cast<size_t>(b)];
    int64_t* row = id + b * static_cast<int64_t>(s);
    row[0] = tok.cls_id();
    for (size_t i = 0; i < w.size(); ++i) row[i + 1] = w[i];
    row[w.size() + 1] = tok.sep_id();
    std::fill(a + b * static_cast<int64_t>(s), a + b * static_cast<int64_t>(s) + static_cast<int64_t>(w.size()) + 2, 1);
    for (size_t i = 1; i <= w.size(); ++i) {
      if (u(rng) >= p) continue;
      positions.push_back(b * static_cast<int64_t>(s) + static_cast<int64_t>(i));
      targets.push_back(row[i]);
      const double r = u(rng);
      if (r < 0.8) row[i] = tok.mask_id();
      else if (r < 0.9) row[i] = random_token(rng);
    }
  }
  if (positions.empty()) {  // at least one prediction per batch
    positions.push_back(1);
    targets.push_back(id[1]);
    id[1] = tok.mask_id();
  }
  return {ids, att, torch::tensor(positions), torch::tensor(targets)};
}

struct MlmModel {
  nn::BertEncoder encoder{nullptr};
  nn::BertMlmHead head{nullptr};
  std::vector<torch::Tensor> parameters() const {
    auto p = encoder->parameters();
    for (const auto& t : head->parameters()) p.push_back(t);
    return p;
  }
  // (loss, correct predictions, predictions)
  std::tuple<torch::Tensor, int64_t, int64_t> loss(const MaskedBatch& b) {
    const auto hidden = encoder->forward(b.ids, b.attention);
    const auto picked = hidden.reshape({-1, hidden.size(-1)}).index_select(0, b.positions);
    const auto logits = head->forward(picked, encoder->word->weight).to(torch::kFloat);
    const auto loss = torch::nn::functional::cross_entropy(logits, b.targets);
    const int64_t correct = logits.argmax(1).eq(b.targets).sum().item<int64_t>();
    return {loss, correct, b.targets.size(0)};
  }
};

// Seconds per optimisation step of this configuration on this machine: five timed steps (after
// three warm-up ones) of a scratch copy of the model on real batches; the run's own model is untouched.
double seconds_per_step(const nn::BertConfig& config, const std::vector<Window>& windows, const SubwordTokenizer& tok,
                        const PretrainOptions& o, bool bf16) {
  MlmModel scratch{nn::BertEncoder(config, 0.1), nn::BertMlmHead(config)};
  auto optimizer = train::make_adamw(scratch.parameters(), o.lr, o.weight_decay);
  std::mt19937_64 rng(12345);
  double seconds = 0;
  for (int s = 0; s < 8; ++s) {
    std::vector<const Window*> rows;
    for (int64_t b = 0; b < o.batch_size; ++b) rows.push_back(&windows[rng() % windows.size()]);
    const auto t0 = std::chrono::steady_clock::now();
    const auto batch = mask_batch(rows, tok, o.mask_probability, rng);
    torch::Tensor loss;
    {
      train::AutocastGuard autocast(bf16);
      loss = std::get<0>(scratch.loss(batch));
    }
    train::optimise(*optimizer, loss, scratch.parameters(), 1.0);
    if (s >= 3) seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return seconds / 5;
}

// The given vocabulary (vocab.txt or a SentencePiece .model), the run's own on resume, or one
// learned from the training documents.
std::shared_ptr<const SubwordTokenizer> make_tokenizer(const PretrainOptions& o, const std::vector<std::string>& docs) {
  WordPieceOptions wp;
  wp.lower_case = wp.strip_accents = o.lower_case;
  if (o.resume) return load_folder_tokenizer(o.out);
  if (!o.vocab.empty()) {
    if (o.vocab.extension() == ".model")
      return std::make_shared<SentencePieceTokenizer>(SentencePieceTokenizer::load(o.vocab));
    return std::make_shared<WordPieceTokenizer>(WordPieceTokenizer::load(o.vocab, wp));
  }
  spdlog::info("text pretrain: learning a {} vocabulary of {} from the training documents", o.tokenizer, o.vocab_size);
  if (o.tokenizer == "sentencepiece") {
    SentencePieceTrainOptions so;
    so.vocab_size = static_cast<size_t>(o.vocab_size);
    so.lower_case = o.lower_case;
    so.threads = core::runtime_threads();
    return std::make_shared<SentencePieceTokenizer>(SentencePieceTokenizer::train(docs, o.out, so));
  }
  WordPieceTrainerOptions to;
  to.vocab_size = static_cast<size_t>(o.vocab_size);
  to.basic = wp;
  return std::make_shared<WordPieceTokenizer>(
      WordPieceTokenizer::from_tokens(learn_wordpiece_vocab(docs, to), wp, "learned vocabulary"));
}

// The corpus read, split into training and validation documents, tokenised into windows.
struct Prepared {
  size_t documents = 0, skipped = 0, validation_documents = 0;
  std::shared_ptr<const SubwordTokenizer> tokenizer;
  std::vector<Window> train, validation;
  int64_t train_tokens = 0;
};

Prepared prepare(const PretrainOptions& o) {
  Prepared p;
  const auto docs = read_corpus(o.corpus, o.columns, &p.skipped);
  if (docs.size() < 2) fail_invalid("corpus: at least two documents are needed (one is held out for validation)");
  p.documents = docs.size();
  // Documents for validation: a seeded random share, never trained on.
  std::vector<size_t> order(docs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::mt19937_64 split_rng(static_cast<uint64_t>(o.seed));
  std::shuffle(order.begin(), order.end(), split_rng);
  const size_t n_val =
      std::max<size_t>(1, static_cast<size_t>(o.validation_fraction * static_cast<double>(docs.size())));
  std::vector<std::string> train_docs, val_docs;
  for (size_t i = 0; i < order.size(); ++i) (i < n_val ? val_docs : train_docs).push_back(docs[order[i]]);
  p.validation_documents = val_docs.size();
  spdlog::info("text pretrain: {} documents ({} train, {} validation; {} empty rows skipped)", docs.size(),
               train_docs.size(), val_docs.size(), p.skipped);

  p.tokenizer = make_tokenizer(o, train_docs);
  p.tokenizer->save(o.out, o.max_length);
  const size_t room = static_cast<size_t>(o.max_length) - 2;
  p.train = windows_of(train_docs, *p.tokenizer, room, o.progress);
  p.validation = windows_of(val_docs, *p.tokenizer, room, false);
  if (p.validation.size() > kMaxValidationWindows) p.validation.resize(kMaxValidationWindows);
  if (p.train.empty()) fail_invalid("corpus: no training text left after tokenisation");
  for (const auto& w : p.train) p.train_tokens += static_cast<int64_t>(w.size());
  spdlog::info("text pretrain: {} training windows ({} tokens), {} validation windows, vocabulary {}", p.train.size(),
               p.train_tokens, p.validation.size(), p.tokenizer->size());
  return p;
}

MlmModel make_model(const PretrainOptions& o, size_t vocab_size) {
  torch::manual_seed(static_cast<uint64_t>(o.seed));
  nn::BertConfig config;
  config.vocab_size = static_cast<int64_t>(vocab_size);
  config.hidden = o.hidden, config.layers = o.layers, config.heads = o.heads, config.intermediate = o.intermediate;
  config.max_positions = o.max_length;
  config.layer_norm_eps = 1e-12;
  MlmModel model{nn::BertEncoder(config, 0.1), nn::BertMlmHead(config)};
  torch::NoGradGuard ng;  // BERT's initialisation: N(0, 0.02) weights, zero biases
  for (auto& t : model.parameters())
    if (t.dim() >= 2) t.normal_(0, 0.02);
  return model;
}

// A fixed masking of the validation windows, so epochs compare like with like.
std::vector<MaskedBatch> validation_batches(const Prepared& p, const PretrainOptions& o) {
  std::vector<MaskedBatch> out;
  std::mt19937_64 rng(static_cast<uint64_t>(o.seed) * 31 + 7);
  const auto batch = static_cast<size_t>(o.batch_size);
  for (size_t at = 0; at < p.validation.size(); at += batch) {
    std::vector<const Window*> rows;
    for (size_t i = at; i < std::min(p.validation.size(), at + batch); ++i) rows.push_back(&p.validation[i]);
    out.push_back(mask_batch(rows, *p.tokenizer, o.mask_probability, rng));
  }
  return out;
}

// The training windows of one step: a fresh shuffle per pass over them, a function of the pass
// alone, so a resumed run sees the batches an uninterrupted one would.
class WindowSampler {
 public:
  WindowSampler(const std::vector<Window>& windows, uint64_t seed) : windows_(windows), seed_(seed) {}
  std::vector<const Window*> batch(int64_t global_step, int64_t size) {
    std::vector<const Window*> rows;
    const auto n = static_cast<int64_t>(windows_.size());
    for (int64_t b = 0; b < size; ++b) {
      const int64_t k = global_step * size + b, pass = k / n;
      if (pass != pass_) {
        order_.resize(windows_.size());
        std::iota(order_.begin(), order_.end(), size_t{0});
        std::mt19937_64 rng(seed_ * 1000003 + static_cast<uint64_t>(pass));
        std::shuffle(order_.begin(), order_.end(), rng);
        pass_ = pass;
      }
      rows.push_back(&windows_[order_[static_cast<size_t>(k % n)]]);
    }
    return rows;
  }

 private:
  const std::vector<Window>& windows_;
  uint64_t seed_;
  std::vector<size_t> order_;
  int64_t pass_ = -1;
};

train::TrainResult fit_mlm(const PretrainOptions& o, const Prepared& p, MlmModel& model, torch::optim::AdamW& optimizer,
                           bool bf16, const json& stored) {
  const int64_t epochs = (o.steps + o.steps_per_epoch - 1) / o.steps_per_epoch;
  train::TrainerOptions to;
  to.epochs = static_cast<int>(epochs);
  to.steps_per_epoch = o.steps_per_epoch;
  to.schedule = {train::ScheduleKind::Cosine, o.lr, epochs * o.steps_per_epoch,
                 static_cast<int64_t>(o.warmup_fraction * static_cast<double>(epochs * o.steps_per_epoch)), 0.0};
  to.monitor = "val_loss";
  to.maximize = false;
  to.patience = static_cast<int>(epochs);  // pretraining runs its steps
  to.label = "pretrain";
  to.unit = "windows";
  to.units_per_epoch = o.steps_per_epoch * o.batch_size;
  to.progress = o.progress;
  to.run_dir = o.out;
  to.resume = o.resume;
  to.run_options = &stored;
  const auto val_batches = validation_batches(p, o);
  WindowSampler sampler(p.train, static_cast<uint64_t>(o.seed));
  int epoch_now = 1;
  train::TrainerHooks hooks;
  hooks.begin_epoch = [&](int epoch) {
    model.encoder->train();
    model.head->train();
    epoch_now = epoch;
  };
  hooks.train_step = [&](int64_t step, double lr) -> std::optional<std::pair<double, int64_t>> {
    train::set_lr(optimizer, lr);
    const int64_t global = (epoch_now - 1) * o.steps_per_epoch + step;
    std::mt19937_64 rng(static_cast<uint64_t>(o.seed) * 7919 + static_cast<uint64_t>(global));  // same masks on resume
    const auto batch = mask_batch(sampler.batch(global, o.batch_size), *p.tokenizer, o.mask_probability, rng);
    torch::Tensor loss;
    {
      train::AutocastGuard autocast(bf16);
      loss = std::get<0>(model.loss(batch));
    }
    return std::pair{train::optimise(optimizer, loss, model.parameters(), 1.0), o.batch_size};
  };
  hooks.validate = [&](int) {
    model.encoder->eval();
    model.head->eval();
    torch::NoGradGuard ng;
    train::AutocastGuard autocast(bf16);
    double loss = 0;
    int64_t correct = 0, total = 0;
    for (const auto& b : val_batches) {
      const auto [l, c, n] = model.loss(b);
      loss += l.item<double>() * static_cast<double>(n);
      correct += c, total += n;
    }
    const auto t = static_cast<double>(std::max<int64_t>(1, total));
    return train::Metrics{{"val_loss", loss / t}, {"val_accuracy", static_cast<double>(correct) / t}};
  };
  hooks.save_best = [&] { nn::save_hf_bert(model.encoder, o.out, model.head->hf_named_tensors()); };
  hooks.save_checkpoint = [&](const fs::path& ck) {
    train::save_module(*model.encoder, ck / "encoder.pt");
    train::save_module(*model.head, ck / "head.pt");
    train::save_optimizer(optimizer, ck / "optimizer.pt");
    train::save_rng_state(ck / "rng.pt");  // dropout continues its stream on resume
  };
  hooks.load_checkpoint = [&](const fs::path& ck) {
    train::load_module(*model.encoder, ck / "encoder.pt");
    train::load_module(*model.head, ck / "head.pt");
    train::load_optimizer(optimizer, ck / "optimizer.pt");
    train::load_rng_state(ck / "rng.pt");
  };
  hooks.end_epoch = [&](const std::vector<train::EpochRecord>& history) {
    train::epoch_curves(history).write(
        o.out,
        {{"masked-LM loss", "epoch", "cross-entropy", "epoch", {"train_loss", "val_loss"}, {"train", "validation"}},
         {"masked-token accuracy", "epoch", "accuracy", "epoch", {"val_accuracy"}, {"validation"}}});
  };
  return train::fit(to, hooks);
}

json make_card(const PretrainOptions& o, const Prepared& p, MlmModel& model, const train::TrainResult& fitted,
               const json& stored) {
  const auto best = std::find_if(fitted.history.begin(), fitted.history.end(),
                                 [&](const auto& r) { return r.epoch == fitted.best_epoch; });
  std::vector<std::string> corpus_names;
  for (const auto& f : o.corpus) corpus_names.push_back(f.filename().string());
  int64_t parameters = 0;
  for (const auto& t : model.encoder->parameters()) parameters += t.numel();
  return {
      {"kind", "text_encoder"},
      {"method", "bert-mlm"},
      {"architecture", std::to_string(o.layers) + "-layer BERT encoder (post-LN), hidden " + std::to_string(o.hidden) +
                           ", " + std::to_string(o.heads) + " heads, feed-forward " + std::to_string(o.intermediate)},
      {"parameters", parameters},
      {"corpus",
       {{"files", corpus_names},
        {"documents", p.documents},
        {"empty_rows_skipped", p.skipped},
        {"training_windows", p.train.size()},
        {"training_tokens", p.train_tokens},
        {"validation_documents", p.validation_documents}}},
      {"vocabulary",
       {{"size", p.tokenizer->size()},
        {"tokenizer", p.tokenizer->kind()},
        {"source", o.vocab.empty() ? "learned from the training documents" : o.vocab.filename().string()}}},
      {"training", stored},
      {"epochs_run", fitted.history.size()},
      {"best_epoch", fitted.best_epoch},
      {"seconds", fitted.seconds},
      {"validation",
       {{"mlm_loss", best != fitted.history.end() ? best->metric("val_loss") : 0.0},
        {"masked_token_accuracy", best != fitted.history.end() ? best->metric("val_accuracy") : 0.0}}},
      {"intended_use_and_limits",
       "A small general-purpose encoder of medical English learned from the given corpus by masked-token "
       "prediction: a starting point for fine-tuning (text train/cv --init), not a model that answers, "
       "classifies or diagnoses by itself. It knows only the vocabulary and style of its corpus."}};
}

}  // namespace

json pretrain_mlm(const PretrainOptions& cli) {
  if (cli.out.empty()) fail_invalid("out: a run folder is required");
  train::apply_torch_threads();
  PretrainOptions o = cli;
  if (cli.resume)
    stored_fields(train::LoadOptions{train::resume_options(cli.out), (cli.out / train::kTrainStateFile).string()}, o);
  else train::check_fresh_run_folder(o.out);
  validate(o);
  if (o.precision == "auto") o.precision = core::cpu_has_amx_bf16() ? "bf16" : "fp32";
  const bool bf16 = core::resolve_precision(o.precision) == core::Precision::Bf16;
  const auto started = std::chrono::steady_clock::now();
  fs::create_directories(o.out);
  const Prepared p = prepare(o);
  MlmModel model = make_model(o, p.tokenizer->size());
  auto optimizer = train::make_adamw(model.parameters(), o.lr, o.weight_decay);
  if (o.steps == 0) {
    const double left =
        o.time_budget_minutes * 60 - std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double step = seconds_per_step(model.encoder->config, p.train, *p.tokenizer, o, bf16);
    // A quarter kept for validation, checkpoints and the drift in step time over a run (measured:
    // 0.60 s per step calibrated, 0.76 s on average over the 25-minute default run).
    const int64_t fit = static_cast<int64_t>(std::max(0.0, 0.75 * left / step));
    o.steps = std::max<int64_t>(o.steps_per_epoch, fit / o.steps_per_epoch * o.steps_per_epoch);
    spdlog::info("text pretrain: {:.2f} s per step here ({}): {} steps fit the {:.0f}-minute budget", step, o.precision,
                 o.steps, o.time_budget_minutes);
  }
  json stored = json::object();
  stored_fields(train::StoreOptions{stored}, o);
  const train::TrainResult fitted = fit_mlm(o, p, model, *optimizer, bf16, stored);
  const json card = make_card(o, p, model, fitted, stored);
  core::write_file_atomic(o.out / kCardFile, card.dump(2) + "\n");
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  spdlog::info(
      "text pretrain: best epoch {} (validation MLM loss {:.3f}, masked-token accuracy {:.3f}) in {:.0f} s -> {}",
      fitted.best_epoch, card["validation"]["mlm_loss"].get<double>(),
      card["validation"]["masked_token_accuracy"].get<double>(), wall, o.out.string());
  return card;
}

}  // namespace medai::text
