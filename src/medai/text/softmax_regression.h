#pragma once
// Multinomial logistic regression on sparse features, fitted by L-BFGS on scikit-learn's
// objective C * sum_i w_i CE_i + ||W||^2 / 2 (intercepts not penalised).
#include <vector>

#include "medai/text/tfidf.h"

namespace medai::text {

struct SoftmaxOptions {
  double c = 10.0;       // inverse regularisation strength, as sklearn's C
  bool balanced = true;  // class weights n / (classes * n_class), as class_weight="balanced"
  int max_iterations = 200;
};

class SoftmaxRegression {
 public:
  void fit(const std::vector<SparseVector>& x, const std::vector<int>& y, int classes, size_t dimension,
           const SoftmaxOptions& options = {});
  std::vector<double> probabilities(const SparseVector& x) const;
  int predict(const SparseVector& x) const;
  int classes() const { return classes_; }
  size_t dimension() const { return dimension_; }
  void write(io::ByteWriter& out) const;  // weights stored as float32
  static SoftmaxRegression read(io::ByteReader& in);

 private:
  int classes_ = 0;
  size_t dimension_ = 0;
  std::vector<double> w_;  // classes x (dimension + 1); the last column is the intercept
};

}  // namespace medai::text
