#pragma once
// A learned answer-type prior for retrieval. MedQuAD-style collections hold several answers per
// topic (its symptoms, causes, treatment, ...); BM25 finds the topic but not which of its
// answers the question asks for. Two TF-IDF + logistic-regression models, fitted on training
// rows, give P(type | question) and P(type | answer text); the hybrid score of an answer is
//   BM25(question, answer) + weight * ln sum_t P(t | question) P(t | answer).
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "medai/text/softmax_regression.h"
#include "medai/text/tfidf.h"

namespace medai::text {

class AnswerTypeModel {
 public:
  // One training row per (question, answer, type); at least two types.
  static AnswerTypeModel fit(const std::vector<std::string>& questions, const std::vector<std::string>& answers,
                             const std::vector<std::string>& types);
  std::vector<double> question_types(const std::string& question) const;
  std::vector<double> answer_types(const std::string& answer) const;
  const std::vector<std::string>& types() const { return types_; }
  // One file holding the types and both models; load checks every size against the file.
  void save(const std::filesystem::path& path) const;
  static AnswerTypeModel load(const std::filesystem::path& path);

 private:
  struct Model {
    TfidfVectorizer vectorizer;
    SoftmaxRegression regression;
  };
  std::vector<std::string> types_;
  std::shared_ptr<Model> question_, answer_;
};

// ln sum_t p[t] q[t], floored at ln(1e-6).
double log_type_agreement(const std::vector<double>& p, const std::vector<double>& q);

}  // namespace medai::text
