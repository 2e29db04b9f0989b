#pragma once
// Answer retrieval over a QaCorpus: evaluation under the issue-11 protocol and the persisted
// index behind `medai text index` / `text ask`.
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "medai/metrics/retrieval.h"
#include "medai/text/answer_type.h"
#include "medai/text/bm25.h"
#include "medai/text/qa_corpus.h"

namespace medai::text {

// BM25 over the answer texts of a pool.
Bm25Index pool_bm25(const std::vector<QaAnswer>& pool, const Bm25Options& options = {});

// Scores of every pool answer for one question.
using AnswerScorer = std::function<std::vector<float>(const std::string& question)>;

// Ranks every question in `part` (all questions when the corpus has no splits).
metrics::RetrievalMetrics evaluate_retrieval(const QaCorpus& corpus, const AnswerScorer& scorer, int part,
                                             std::vector<size_t>* ranks = nullptr);

// BM25 plus the learned answer-type prior (answer_type.h): one type distribution per pool answer,
// computed once.
class HybridScorer {
 public:
  HybridScorer(const std::vector<QaAnswer>& pool, AnswerTypeModel types, double weight);
  std::vector<float> scores(const Bm25Index& bm25, const std::string& question) const;
  double weight() const { return weight_; }
  void set_weight(double w) { weight_ = w; }
  const AnswerTypeModel& types() const { return types_; }

 private:
  AnswerTypeModel types_;
  std::vector<std::vector<double>> pool_types_;
  double weight_;
};

// The rows of `part` (every listed row for kUnused; every row without splits) with an answer and
// a type, as the type models' training data.
struct QaTypedRows {
  std::vector<std::string> questions, answers, types;
};
QaTypedRows qa_typed_rows(const io::CsvTable& table, const QaColumns& columns, const std::string& type_column,
                          const data::RowSplits* splits, int part);

// The type models fitted on 90 % of `rows`' questions (by text) and the weight that maximises MRR
// on the other 10 %, whose answers are in `corpus`' pool; then refitted on all of `rows`.
struct TunedHybrid {
  std::unique_ptr<HybridScorer> scorer;
  std::vector<std::pair<double, double>> weight_mrr;  // the tuning curve
};
TunedHybrid tune_hybrid(const QaTypedRows& rows, const QaCorpus& corpus, const Bm25Index& bm25, uint64_t seed);

// BM25 + type prior evaluated on the test questions: tune_hybrid() on the split's training rows,
// so the test rows choose nothing.
struct HybridEvaluation {
  metrics::RetrievalMetrics metrics;
  double weight = 0;
  std::vector<std::pair<double, double>> weight_mrr;  // the tuning curve on the held-out training questions
  std::shared_ptr<const HybridScorer> scorer;         // as tuned (for fusion with other rankers)
};
HybridEvaluation evaluate_hybrid_retrieval(const io::CsvTable& table, const QaColumns& columns,
                                           const std::string& type_column, const data::RowSplits& splits,
                                           const QaCorpus& corpus, const Bm25Index& bm25, uint64_t seed);

// The answer index: the pool, BM25 over it, and a confidence model for the top answer,
// P(top answer is a gold answer) = sigmoid(a + b * top score + c * (top - second score)), fitted
// on questions whose gold answers are in the pool.
struct AnswerConfidence {
  double intercept = 0, top = 0, margin = 0;
  double probability(float top_score, float second_score) const;
};

struct RetrievedAnswer {
  size_t index = 0;
  float score = 0;
  double confidence = 0;  // of the top answer only; 0 for the others
  double coverage = 0;    // idf-weighted share of the question's distinct terms that occur in this answer
};

// The idf-weighted share of the distinct BM25 terms of `question` that occur in `answer` (0 for a
// question without terms): a term the collection has never seen weighs the most, so an off-topic
// question ("fix my car's gearbox") is not covered by an answer that shares its common words.
double term_coverage(const std::string& question, const std::string& answer, const Bm25Index& bm25);

class AnswerIndex {
 public:
  // Builds BM25 over `corpus.pool` and fits the confidence model on up to `calibration_questions`
  // of its questions (seeded sample).
  // With `typed` rows (answer_type.h) the index ranks by the hybrid score.
  static AnswerIndex build(QaCorpus corpus, const Bm25Options& options, size_t calibration_questions, uint64_t seed,
                           const QaTypedRows* typed = nullptr);
  // Writes DIR/index.json (options, confidence, counts), DIR/answers.csv and, for a hybrid index,
  // DIR/answer_types.bin, atomically each.
  void save(const std::filesystem::path& dir) const;
  static AnswerIndex load(const std::filesystem::path& dir);

  // The k best answers; the top one's confidence is 0 when it covers less than `min_coverage` of
  // the question's terms (an off-topic question finds some answer, but not one about it).
  // 0.65 keeps 95 % of the right top answers on MedQuAD and drops questions about something else
  // that share a common word or two with some answer.
  static constexpr double kDefaultMinCoverage = 0.65;
  std::vector<RetrievedAnswer> ask(const std::string& question, size_t k,
                                   double min_coverage = kDefaultMinCoverage) const;
  size_t size() const { return pool_.size(); }
  const QaAnswer& answer(size_t i) const { return pool_.at(i); }
  const AnswerConfidence& confidence() const { return confidence_; }
  const nlohmann::json& calibration() const;  // how the confidence model did on its questions

 private:
  std::vector<float> scores(const std::string& question) const;
  std::vector<QaAnswer> pool_;
  Bm25Index bm25_;
  std::shared_ptr<HybridScorer> hybrid_;
  std::shared_ptr<nlohmann::json> tuning_;
  AnswerConfidence confidence_;
  std::shared_ptr<nlohmann::json> calibration_;
};

}  // namespace medai::text
