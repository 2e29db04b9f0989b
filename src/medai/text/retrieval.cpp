#include "medai/text/retrieval.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <set>
#include <unordered_set>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/io/csv.h"
#include "medai/text/text_util.h"

namespace medai::text {

metrics::RetrievalMetrics evaluate_retrieval(const QaCorpus& corpus, const AnswerScorer& scorer, int part,
                                             std::vector<size_t>* ranks_out) {
  std::vector<size_t> ranks;
  for (const QaQuestion& q : corpus.questions) {
    if (q.parts != 0 && !q.in(part)) continue;
    ranks.push_back(metrics::gold_rank(scorer(q.text), q.gold));
  }
  if (ranks_out) *ranks_out = ranks;
  return metrics::retrieval_metrics(ranks);
}

Bm25Index pool_bm25(const std::vector<QaAnswer>& pool, const Bm25Options& options) {
  std::vector<std::string> docs;
  docs.reserve(pool.size());
  for (const auto& a : pool) docs.push_back(a.text);
  Bm25Index index(options);
  index.build(docs);
  return index;
}

double AnswerConfidence::probability(float top_score, float second_score) const {
  const double z = intercept + top * top_score + margin * (top_score - second_score);
  return 1.0 / (1.0 + std::exp(-z));
}

namespace {
// Logistic regression on (top score, margin) by Newton's method with a small ridge (3 parameters).
AnswerConfidence fit_confidence(const std::vector<std::array<double, 2>>& x, const std::vector<int>& y) {
  double w[3] = {0, 0, 0};
  for (int it = 0; it < 50; ++it) {
    double g[3] = {0, 0, 0}, h[3][3] = {{1e-6, 0, 0}, {0, 1e-6, 0}, {0, 0, 1e-6}};
    for (size_t i = 0; i < x.size(); ++i) {
      const double f[3] = {1.0, x[i][0], x[i][1]};
      const double p = 1.0 / (1.0 + std::exp(-(w[0] + w[1] * f[1] + w[2] * f[2])));
      for (int a = 0; a < 3; ++a) {
        g[a] += (p - y[i]) * f[a];
        for (int b = 0; b < 3; ++b) h[a][b] += p * (1 - p) * f[a] * f[b];
      }
    }
    // Solve h * step = g (Cramer's rule is exact enough for a 3x3 positive-definite system).
    const auto det3 = [](double m[3][3]) {
      return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
             m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    };
    const double d = det3(h);
    if (!(std::abs(d) > 0)) break;
    double step[3];
    for (int c = 0; c < 3; ++c) {
      double m[3][3];
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) m[a][b] = b == c ? g[a] : h[a][b];
      step[c] = det3(m) / d;
    }
    double change = 0;
    for (int a = 0; a < 3; ++a) {
      w[a] -= step[a];
      change = std::max(change, std::abs(step[a]));
    }
    if (change < 1e-8) break;
  }
  return {w[0], w[1], w[2]};
}
}  // namespace

namespace {
// 1st, 5th, 10th and 50th percentiles of the coverage of correct top answers.
nlohmann::json coverage_quantiles(const std::vector<double>& coverage, const std::vector<int>& y) {
  std::vector<double> c;
  for (size_t i = 0; i < coverage.size(); ++i)
    if (y[i]) c.push_back(coverage[i]);
  if (c.empty()) return nlohmann::json::object();
  std::sort(c.begin(), c.end());
  const auto q = [&](double p) { return c[static_cast<size_t>(p * static_cast<double>(c.size() - 1))]; };
  return {{"p01", q(0.01)}, {"p05", q(0.05)}, {"p10", q(0.10)}, {"p50", q(0.5)}};
}
}  // namespace

std::vector<float> AnswerIndex::scores(const std::string& question) const {
  return hybrid_ ? hybrid_->scores(bm25_, question) : bm25_.scores(question);
}

AnswerIndex AnswerIndex::build(QaCorpus corpus, const Bm25Options& options, size_t calibration_questions, uint64_t seed,
                               const QaTypedRows* typed) {
  AnswerIndex ix;
  ix.bm25_ = pool_bm25(corpus.pool, options);
  if (typed) {
    auto tuned = tune_hybrid(*typed, corpus, ix.bm25_, seed);
    ix.hybrid_ = std::move(tuned.scorer);
    ix.tuning_ = std::make_shared<nlohmann::json>(tuned.weight_mrr);
  }
  ix.pool_ = std::move(corpus.pool);

  std::vector<size_t> order(corpus.questions.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  order.resize(std::min(order.size(), calibration_questions));
  std::vector<std::array<double, 2>> x;
  std::vector<int> y;
  std::vector<double> coverage;  // of the top answer
  for (size_t qi : order) {
    const QaQuestion& q = corpus.questions[qi];
    const auto top = top_k(ix.scores(q.text), 2);
    if (top.empty()) continue;
    const float second = top.size() > 1 ? top[1].second : 0.0f;
    x.push_back({top[0].second, top[0].second - second});
    y.push_back(std::binary_search(q.gold.begin(), q.gold.end(), top[0].first) ? 1 : 0);
    coverage.push_back(term_coverage(q.text, ix.pool_[top[0].first].text, ix.bm25_));
  }
  ix.confidence_ = fit_confidence(x, y);
  // How the fitted model does on its own questions at the default cut-off of 0.5.
  size_t answered = 0, answered_right = 0, right = 0, right_kept = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double p = ix.confidence_.intercept + ix.confidence_.top * x[i][0] + ix.confidence_.margin * x[i][1];
    right += y[i];
    right_kept += y[i] && coverage[i] >= kDefaultMinCoverage;
    if (p >= 0 && coverage[i] >= kDefaultMinCoverage) {
      ++answered;
      answered_right += y[i];
    }
  }
  const double n = std::max<size_t>(x.size(), 1);
  ix.calibration_ = std::make_shared<nlohmann::json>(nlohmann::json{
      {"questions", x.size()},
      {"top1_correct", right / n},
      {"answered_at_0.5", answered / n},
      {"min_coverage", kDefaultMinCoverage},
      {"precision_when_answered_at_0.5", answered ? static_cast<double>(answered_right) / answered : 0.0},
      {"correct_top1_kept_by_min_coverage", right ? static_cast<double>(right_kept) / right : 0.0},
      {"correct_top1_coverage_quantiles", coverage_quantiles(coverage, y)}});
  return ix;
}

double term_coverage(const std::string& question, const std::string& answer, const Bm25Index& bm25) {
  const auto q = bm25_terms(question, bm25.options());
  const std::unordered_set<std::string> terms(q.begin(), q.end());
  const auto a = bm25_terms(answer, bm25.options());
  const std::unordered_set<std::string> in_answer(a.begin(), a.end());
  double found = 0, all = 0;
  for (const auto& t : terms) {
    const double w = bm25.idf(t);
    all += w;
    if (in_answer.count(t)) found += w;
  }
  return all > 0 ? found / all : 0.0;
}

std::vector<RetrievedAnswer> AnswerIndex::ask(const std::string& question, size_t k, double min_coverage) const {
  const auto top = top_k(scores(question), std::max<size_t>(k, 2));
  std::vector<RetrievedAnswer> out;
  for (size_t i = 0; i < top.size() && i < k; ++i)
    out.push_back({top[i].first, top[i].second, 0.0, term_coverage(question, pool_[top[i].first].text, bm25_)});
  if (out.empty()) return out;
  out[0].confidence = confidence_.probability(top[0].second, top.size() > 1 ? top[1].second : 0.0f);
  if (!bm25_.knows_any_term(question) || out[0].coverage < min_coverage) out[0].confidence = 0;
  return out;
}

const nlohmann::json& AnswerIndex::calibration() const {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  return calibration_ ? *calibration_ : kEmpty;
}

void AnswerIndex::save(const std::filesystem::path& dir) const {
  std::filesystem::create_directories(dir);
  std::string csv = "answer,url,focus\n";
  for (const auto& a : pool_)
    csv += io::csv_escape(a.text) + ',' + io::csv_escape(a.url) + ',' + io::csv_escape(a.focus) + '\n';
  core::write_file_atomic(dir / "answers.csv", csv);
  const auto& o = bm25_.options();
  const nlohmann::json j = {
      {"kind", "answer_index"},
      {"format_version", 1},
      {"answers", pool_.size()},
      {"bm25", {{"k1", o.k1}, {"b", o.b}, {"stop_words", o.stop_words}, {"stem", o.stem}}},
      {"confidence", {{"intercept", confidence_.intercept}, {"top", confidence_.top}, {"margin", confidence_.margin}}},
      {"calibration", calibration()},
      {"hybrid", hybrid_ ? nlohmann::json{{"type_weight", hybrid_->weight()},
                                          {"types", hybrid_->types().types()},
                                          {"tuning_mrr", tuning_ ? *tuning_ : nlohmann::json()}}
                         : nlohmann::json()}};
  if (hybrid_) hybrid_->types().save(dir / "answer_types.bin");
  core::write_file_atomic(dir / "index.json", j.dump(2) + "\n");
}

AnswerIndex AnswerIndex::load(const std::filesystem::path& dir) {
  const auto meta_path = dir / "index.json";
  if (!std::filesystem::exists(meta_path))
    fail_not_found(meta_path.string() + ": no answer index here (build one with text index)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(core::read_file(meta_path));
    if (j.at("kind") != "answer_index") fail_invalid(meta_path.string() + ": not an answer index");
    Bm25Options o;
    o.k1 = j.at("bm25").at("k1");
    o.b = j.at("bm25").at("b");
    o.stop_words = j.at("bm25").at("stop_words");
    o.stem = j.at("bm25").at("stem");
    AnswerIndex ix;
    const auto& c = j.at("confidence");
    ix.confidence_ = {c.at("intercept"), c.at("top"), c.at("margin")};
    ix.calibration_ = std::make_shared<nlohmann::json>(j.value("calibration", nlohmann::json::object()));
    const io::CsvTable t = io::read_csv(dir / "answers.csv");
    const size_t ac = t.column("answer"), uc = t.column("url"), fc = t.column("focus");
    for (const auto& row : t.rows) ix.pool_.push_back({row[ac], row[uc], row[fc]});
    if (ix.pool_.size() != j.at("answers").get<size_t>())
      fail_invalid((dir / "answers.csv").string() + ": holds " + std::to_string(ix.pool_.size()) +
                   " answers, index.json says " + j.at("answers").dump());
    ix.bm25_ = pool_bm25(ix.pool_, o);
    if (j.contains("hybrid") && !j["hybrid"].is_null())
      ix.hybrid_ = std::make_shared<HybridScorer>(ix.pool_, AnswerTypeModel::load(dir / "answer_types.bin"),
                                                  j["hybrid"].at("type_weight").get<double>());
    return ix;
  } catch (const nlohmann::json::exception& e) {
    fail_invalid(meta_path.string() + ": malformed answer index (" + std::string(e.what()) + ")");
  }
}

}  // namespace medai::text

namespace medai::text {

HybridScorer::HybridScorer(const std::vector<QaAnswer>& pool, AnswerTypeModel types, double weight)
    : types_(std::move(types)), weight_(weight) {
  pool_types_.reserve(pool.size());
  for (const auto& a : pool) pool_types_.push_back(types_.answer_types(a.text));
}

std::vector<float> HybridScorer::scores(const Bm25Index& bm25, const std::string& question) const {
  auto s = bm25.scores(question);
  if (weight_ == 0) return s;
  const auto q = types_.question_types(question);
  for (size_t i = 0; i < s.size(); ++i) s[i] += static_cast<float>(weight_ * log_type_agreement(q, pool_types_[i]));
  return s;
}

QaTypedRows qa_typed_rows(const io::CsvTable& t, const QaColumns& c, const std::string& type_column,
                          const data::RowSplits* splits, int part) {
  const size_t qc = t.column(c.question), ac = t.column(c.answer), tc = t.column(type_column);
  QaTypedRows out;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    if (splits && (part == data::RowSplits::kUnused ? splits->assignment[r] == data::RowSplits::kUnused
                                                    : splits->assignment[r] != part))
      continue;
    std::string a = normalise_whitespace(t.rows[r][ac]), ty = normalise_whitespace(t.rows[r][tc]);
    if (a.empty() || ty.empty()) continue;
    out.questions.push_back(normalise_whitespace(t.rows[r][qc]));
    out.answers.push_back(std::move(a));
    out.types.push_back(std::move(ty));
  }
  return out;
}

TunedHybrid tune_hybrid(const QaTypedRows& rows, const QaCorpus& corpus, const Bm25Index& bm25, uint64_t seed) {
  if (rows.questions.empty()) fail_invalid("no training row has an answer and a question type");
  std::vector<std::string> distinct = rows.questions;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  std::mt19937_64 rng(seed);
  std::shuffle(distinct.begin(), distinct.end(), rng);
  const std::set<std::string> tune(distinct.begin(),
                                   distinct.begin() + static_cast<std::ptrdiff_t>(distinct.size() / 10));
  QaTypedRows fit_rows;
  for (size_t i = 0; i < rows.questions.size(); ++i) {
    if (tune.count(rows.questions[i])) continue;
    fit_rows.questions.push_back(rows.questions[i]);
    fit_rows.answers.push_back(rows.answers[i]);
    fit_rows.types.push_back(rows.types[i]);
  }
  TunedHybrid out;
  double best_weight = 0;
  {
    HybridScorer scorer(corpus.pool, AnswerTypeModel::fit(fit_rows.questions, fit_rows.answers, fit_rows.types), 0.0);
    double best = -1;
    for (double w : {0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0}) {
      scorer.set_weight(w);
      std::vector<size_t> ranks;
      for (const QaQuestion& q : corpus.questions)
        if (tune.count(q.text)) ranks.push_back(metrics::gold_rank(scorer.scores(bm25, q.text), q.gold));
      const double mrr = metrics::retrieval_metrics(ranks).mrr;
      out.weight_mrr.emplace_back(w, mrr);
      if (mrr > best) {
        best = mrr;
        best_weight = w;
      }
    }
  }
  out.scorer = std::make_unique<HybridScorer>(
      corpus.pool, AnswerTypeModel::fit(rows.questions, rows.answers, rows.types), best_weight);
  return out;
}

HybridEvaluation evaluate_hybrid_retrieval(const io::CsvTable& t, const QaColumns& c, const std::string& type_column,
                                           const data::RowSplits& splits, const QaCorpus& corpus, const Bm25Index& bm25,
                                           uint64_t seed) {
  auto tuned = tune_hybrid(qa_typed_rows(t, c, type_column, &splits, data::RowSplits::kTrain), corpus, bm25, seed);
  HybridEvaluation out;
  out.weight = tuned.scorer->weight();
  out.weight_mrr = tuned.weight_mrr;
  out.metrics = evaluate_retrieval(
      corpus, [&](const std::string& q) { return tuned.scorer->scores(bm25, q); }, data::RowSplits::kTest);
  out.scorer = std::shared_ptr<const HybridScorer>(tuned.scorer.release());
  return out;
}

}  // namespace medai::text
