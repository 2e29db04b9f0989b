#pragma once
// A dense bi-encoder for answer retrieval (Karpukhin et al. 2020's DPR recipe, one shared
// encoder): the pretrained BERT folder fine-tuned so that a question's mean-pooled, L2-normalised
// vector lies close to its answer's, with in-batch negatives (InfoNCE, temperature 0.05; an
// answer repeated in the batch is not counted as a negative). Then fused with the sparse ranker:
// z-scored sparse scores + w * z-scored cosine similarities, w chosen on held-out training
// questions. This header needs no libtorch.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "medai/metrics/retrieval.h"
#include "medai/text/qa_corpus.h"
#include "medai/text/retrieval.h"

namespace medai::text {

struct DenseOptions {
  int64_t epochs = 1, batch_size = 32, question_length = 32, answer_length = 128;
  double lr = 1e-4, weight_decay = 0.01, warmup_fraction = 0.1, temperature = 0.05;
  int64_t seed = 42;
  std::string precision = "auto";  // auto: bf16 autocast on CPUs with AMX-BF16, else fp32
  bool progress = true;
};

class DenseRetriever {
 public:
  // Fine-tunes the encoder of `init` on (question, answer id) pairs; `answers` are the texts the
  // ids index (an id shared by two pairs is the same answer).
  static DenseRetriever fine_tune(const std::filesystem::path& init, const std::vector<std::string>& questions,
                                  const std::vector<size_t>& answer_ids, const std::vector<std::string>& answers,
                                  const DenseOptions& options);
  // Unit vectors (row-major, n x dim) of texts cut to `max_length` tokens.
  std::vector<float> encode(const std::vector<std::string>& texts, int64_t max_length, bool progress = false) const;
  int64_t dim() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Dot products of one unit vector with every row of `matrix` (n x dim).
std::vector<float> cosine_scores(const std::vector<float>& matrix, const float* query, int64_t dim);
// z-score fusion: (a - mean a) / sd a + w * (b - mean b) / sd b.
std::vector<float> fuse_scores(const std::vector<float>& sparse, const std::vector<float>& dense, double weight);

// The issue-11 protocol with the bi-encoder: fine-tuned on the training questions' (question,
// gold answer) pairs except a seeded 10 % of the questions, on which the fusion weight with
// `sparse` (BM25 or the hybrid) is chosen; then the test questions are ranked by the dense
// scores alone and by the fusion.
struct DenseEvaluation {
  metrics::RetrievalMetrics dense, fused;
  double weight = 0;
  std::vector<std::pair<double, double>> weight_mrr;  // the tuning curve
  size_t training_pairs = 0, tuning_questions = 0;
  double seconds_training = 0, seconds_encoding = 0;
};
DenseEvaluation evaluate_dense_retrieval(const std::filesystem::path& init, const QaCorpus& corpus,
                                         const AnswerScorer& sparse, const DenseOptions& options, uint64_t seed);

}  // namespace medai::text
