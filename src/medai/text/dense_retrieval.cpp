#include "medai/text/dense_retrieval.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include "medai/core/error.h"
#include "medai/core/precision.h"
#include "medai/core/progress.h"
#include "medai/text/bert_folder.h"
#include "medai/train/torch_helpers.h"
#include "medai/train/trainer.h"

namespace medai::text {

namespace fs = std::filesystem;

struct DenseRetriever::Impl {
  BertFolder bert;
  bool bf16 = false;
  torch::Tensor embed(const std::vector<const std::string*>& texts, int64_t max_length) {
    const auto b = encode_batch(*bert.tokenizer, texts, static_cast<size_t>(max_length));
    train::AutocastGuard autocast(bf16);
    const auto pooled = mean_pool(bert.encoder->forward(b.ids, b.attention).to(torch::kFloat), b.attention);
    return torch::nn::functional::normalize(pooled, torch::nn::functional::NormalizeFuncOptions().dim(1));
  }
};

DenseRetriever DenseRetriever::fine_tune(const fs::path& init, const std::vector<std::string>& questions,
                                         const std::vector<size_t>& answer_ids, const std::vector<std::string>& answers,
                                         const DenseOptions& o) {
  if (questions.empty() || questions.size() != answer_ids.size()) fail_invalid("dense retrieval needs training pairs");
  if (o.epochs < 1 || o.batch_size < 2) fail_invalid("dense retrieval: epochs >= 1 and a batch of at least 2");
  train::apply_torch_threads();
  torch::manual_seed(static_cast<uint64_t>(o.seed));
  DenseRetriever r;
  r.impl_ = std::make_shared<Impl>();
  Impl& m = *r.impl_;
  m.bert = load_bert_folder(init);
  const std::string precision = o.precision == "auto" ? (core::cpu_has_amx_bf16() ? "bf16" : "fp32") : o.precision;
  m.bf16 = core::resolve_precision(precision) == core::Precision::Bf16;
  auto params = m.bert.encoder->parameters();
  auto optimizer_ptr = train::make_adamw(params, o.lr, o.weight_decay);
  auto& optimizer = *optimizer_ptr;
  const int64_t steps = static_cast<int64_t>(questions.size()) / o.batch_size;
  if (steps < 1) fail_invalid("dense retrieval: fewer training pairs than one batch");

  train::TrainerOptions to;
  to.epochs = static_cast<int>(o.epochs);
  to.steps_per_epoch = steps;
  to.schedule = {train::ScheduleKind::Cosine, o.lr, steps * o.epochs,
                 static_cast<int64_t>(o.warmup_fraction * static_cast<double>(steps * o.epochs)), 0.0};
  to.monitor = "epoch";
  to.patience = static_cast<int>(o.epochs);
  to.label = "bi-encoder";
  to.unit = "pairs";
  to.units_per_epoch = steps * o.batch_size;
  to.progress = o.progress;
  std::vector<size_t> order(questions.size());
  train::TrainerHooks hooks;
  hooks.begin_epoch = [&](int epoch) {
    m.bert.encoder->train();
    std::iota(order.begin(), order.end(), size_t{0});
    std::mt19937_64 rng(static_cast<uint64_t>(o.seed) * 1000003 + static_cast<uint64_t>(epoch));
    std::shuffle(order.begin(), order.end(), rng);
  };
  hooks.train_step = [&](int64_t step, double lr) -> std::optional<std::pair<double, int64_t>> {
    train::set_lr(optimizer, lr);
    std::vector<const std::string*> q, a;
    std::vector<size_t> ids;
    for (int64_t b = 0; b < o.batch_size; ++b) {
      const size_t i = order[static_cast<size_t>(step * o.batch_size + b)];
      q.push_back(&questions[i]);
      a.push_back(&answers[answer_ids[i]]);
      ids.push_back(answer_ids[i]);
    }
    const auto qv = m.embed(q, o.question_length), av = m.embed(a, o.answer_length);
    auto logits = torch::matmul(qv, av.t()) / o.temperature;
    // The same answer elsewhere in the batch is a positive too, not a negative: mask it out.
    const auto n = static_cast<int64_t>(ids.size());
    auto same = torch::zeros({n, n}, torch::kBool);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j)
        if (i != j && ids[static_cast<size_t>(i)] == ids[static_cast<size_t>(j)]) same[i][j] = true;
    logits = logits.masked_fill(same, -1e4);
    const auto target = torch::arange(n, torch::kInt64);
    const auto loss = (torch::nn::functional::cross_entropy(logits, target) +
                       torch::nn::functional::cross_entropy(logits.t(), target)) /
                      2;
    return std::pair{train::optimise(optimizer, loss, params, 1.0), n};
  };
  hooks.validate = [&](int epoch) { return train::Metrics{{"epoch", static_cast<double>(epoch)}}; };
  train::fit(to, hooks);
  m.bert.encoder->eval();
  return r;
}

std::vector<float> DenseRetriever::encode(const std::vector<std::string>& texts, int64_t max_length,
                                          bool progress) const {
  Impl& m = *impl_;
  m.bert.encoder->eval();
  torch::NoGradGuard ng;
  const int64_t dim = m.bert.encoder->config.hidden;
  std::vector<float> out(texts.size() * static_cast<size_t>(dim));
  // Similar lengths batched together pad less.
  std::vector<size_t> order(texts.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return texts[a].size() < texts[b].size(); });
  core::ProgressBar bar("encode", static_cast<int64_t>(texts.size()), "texts", progress);
  constexpr size_t kBatch = 64;
  for (size_t at = 0; at < order.size(); at += kBatch) {
    std::vector<const std::string*> batch;
    for (size_t i = at; i < std::min(order.size(), at + kBatch); ++i) batch.push_back(&texts[order[i]]);
    const auto v = m.embed(batch, max_length).contiguous();
    for (size_t i = 0; i < batch.size(); ++i)
      std::copy(v.data_ptr<float>() + static_cast<int64_t>(i) * dim,
                v.data_ptr<float>() + static_cast<int64_t>(i + 1) * dim,
                out.begin() + static_cast<std::ptrdiff_t>(order[at + i] * static_cast<size_t>(dim)));
    bar.advance(static_cast<int64_t>(batch.size()));
  }
  bar.finish();
  return out;
}

int64_t DenseRetriever::dim() const { return impl_->bert.encoder->config.hidden; }

std::vector<float> cosine_scores(const std::vector<float>& matrix, const float* query, int64_t dim) {
  const size_t n = matrix.size() / static_cast<size_t>(dim);
  std::vector<float> out(n);
  for (size_t r = 0; r < n; ++r) {
    const float* row = matrix.data() + r * static_cast<size_t>(dim);
    float s = 0;
    for (int64_t k = 0; k < dim; ++k) s += row[k] * query[k];
    out[r] = s;
  }
  return out;
}

std::vector<float> fuse_scores(const std::vector<float>& sparse, const std::vector<float>& dense, double weight) {
  const auto stats = [](const std::vector<float>& v) {
    double mean = 0, sq = 0;
    for (float x : v) mean += x;
    mean /= std::max<size_t>(1, v.size());
    for (float x : v) sq += (x - mean) * (x - mean);
    const double sd = std::sqrt(sq / std::max<size_t>(1, v.size()));
    return std::pair{mean, sd > 1e-12 ? sd : 1.0};
  };
  const auto [ma, sa] = stats(sparse);
  const auto [mb, sb] = stats(dense);
  std::vector<float> out(sparse.size());
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<float>((sparse[i] - ma) / sa + weight * (dense[i] - mb) / sb);
  return out;
}

DenseEvaluation evaluate_dense_retrieval(const fs::path& init, const QaCorpus& corpus, const AnswerScorer& sparse,
                                         const DenseOptions& o, uint64_t seed) {
  std::vector<const QaQuestion*> train_questions;
  for (const auto& q : corpus.questions)
    if (q.in(data::RowSplits::kTrain) && !q.in(data::RowSplits::kTest)) train_questions.push_back(&q);
  std::mt19937_64 rng(seed);
  std::shuffle(train_questions.begin(), train_questions.end(), rng);
  const size_t n_tune = train_questions.size() / 10;
  DenseEvaluation out;
  out.tuning_questions = n_tune;
  std::vector<std::string> pair_questions, pool_texts;
  std::vector<size_t> pair_answers;
  for (size_t i = n_tune; i < train_questions.size(); ++i)
    for (size_t g : train_questions[i]->gold) {
      pair_questions.push_back(train_questions[i]->text);
      pair_answers.push_back(g);
    }
  out.training_pairs = pair_questions.size();
  for (const auto& a : corpus.pool) pool_texts.push_back(a.text);
  const auto t0 = std::chrono::steady_clock::now();
  const auto retriever = DenseRetriever::fine_tune(init, pair_questions, pair_answers, pool_texts, o);
  const auto t1 = std::chrono::steady_clock::now();
  const auto pool = retriever.encode(pool_texts, o.answer_length, o.progress);
  out.seconds_training = std::chrono::duration<double>(t1 - t0).count();
  out.seconds_encoding = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  const int64_t dim = retriever.dim();

  // Every question to rank, encoded once: the tuning ones, then the test ones.
  std::vector<const QaQuestion*> tune(train_questions.begin(),
                                      train_questions.begin() + static_cast<std::ptrdiff_t>(n_tune)),
      test;
  for (const auto& q : corpus.questions)
    if (q.in(data::RowSplits::kTest)) test.push_back(&q);
  std::vector<std::string> texts;
  for (const auto* q : tune) texts.push_back(q->text);
  for (const auto* q : test) texts.push_back(q->text);
  const auto qv = retriever.encode(texts, o.question_length);
  std::vector<std::vector<float>> dense(texts.size()), sparse_scores(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    dense[i] = cosine_scores(pool, qv.data() + i * static_cast<size_t>(dim), dim);
    sparse_scores[i] = sparse(texts[i]);
  }
  double best = -1;
  for (double w : {0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0}) {
    std::vector<size_t> ranks;
    for (size_t i = 0; i < tune.size(); ++i)
      ranks.push_back(metrics::gold_rank(fuse_scores(sparse_scores[i], dense[i], w), tune[i]->gold));
    const double mrr = metrics::retrieval_metrics(ranks).mrr;
    out.weight_mrr.emplace_back(w, mrr);
    if (mrr > best) best = mrr, out.weight = w;
  }
  std::vector<size_t> dense_ranks, fused_ranks;
  for (size_t k = 0; k < test.size(); ++k) {
    const size_t i = tune.size() + k;
    dense_ranks.push_back(metrics::gold_rank(dense[i], test[k]->gold));
    fused_ranks.push_back(metrics::gold_rank(fuse_scores(sparse_scores[i], dense[i], out.weight), test[k]->gold));
  }
  out.dense = metrics::retrieval_metrics(dense_ranks);
  out.fused = metrics::retrieval_metrics(fused_ranks);
  return out;
}

}  // namespace medai::text
