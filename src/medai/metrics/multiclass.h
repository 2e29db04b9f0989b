#pragma once
// Multi-class classification metrics, defined as scikit-learn's classification_report
// (precision/recall/F1 per class; macro-F1 the unweighted mean over classes).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace medai::metrics {

struct ClassScores {
  double precision = 0, recall = 0, f1 = 0;  // 0 where the denominator is 0 (sklearn's zero_division=0)
  int64_t support = 0;
};

struct MulticlassMetrics {
  double accuracy = 0, macro_f1 = 0;
  size_t n = 0;
  std::vector<ClassScores> per_class;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
};

// Labels in [0, classes). Classes with no support and no prediction still count in the macro mean.
MulticlassMetrics multiclass_metrics(const std::vector<int>& truth, const std::vector<int>& predicted, int classes);
double macro_f1(const std::vector<int>& truth, const std::vector<int>& predicted, int classes);

}  // namespace medai::metrics
