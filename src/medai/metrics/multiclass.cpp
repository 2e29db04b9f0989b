#include "medai/metrics/multiclass.h"

#include "medai/core/error.h"

namespace medai::metrics {

MulticlassMetrics multiclass_metrics(const std::vector<int>& truth, const std::vector<int>& predicted, int classes) {
  if (truth.size() != predicted.size()) fail(ErrorCode::Internal, "multiclass_metrics: length mismatch");
  MulticlassMetrics m;
  m.n = truth.size();
  m.confusion.assign(classes, std::vector<int64_t>(classes, 0));
  int64_t correct = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] < 0 || truth[i] >= classes || predicted[i] < 0 || predicted[i] >= classes)
      fail(ErrorCode::Internal, "multiclass_metrics: label out of range");
    ++m.confusion[truth[i]][predicted[i]];
    correct += truth[i] == predicted[i];
  }
  m.accuracy = m.n ? static_cast<double>(correct) / static_cast<double>(m.n) : 0;
  for (int c = 0; c < classes; ++c) {
    int64_t tp = m.confusion[c][c], col = 0, row = 0;
    for (int k = 0; k < classes; ++k) {
      row += m.confusion[c][k];
      col += m.confusion[k][c];
    }
    ClassScores s;
    s.support = row;
    s.precision = col ? static_cast<double>(tp) / static_cast<double>(col) : 0;
    s.recall = row ? static_cast<double>(tp) / static_cast<double>(row) : 0;
    s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0;
    m.macro_f1 += s.f1 / classes;
    m.per_class.push_back(s);
  }
  return m;
}

double macro_f1(const std::vector<int>& truth, const std::vector<int>& predicted, int classes) {
  return multiclass_metrics(truth, predicted, classes).macro_f1;
}

}  // namespace medai::metrics
