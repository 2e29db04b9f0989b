#pragma once
// Binary classification metrics. `scores` are probabilities (or any monotone score) of the
// positive class; labels are 0/1. Definitions follow scikit-learn so results can be checked
// against it.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace medai::metrics {

// Area under the ROC curve (Mann-Whitney U, ties counted half). NaN when a class is absent.
double auroc(const std::vector<double>& scores, const std::vector<int>& labels);

// Average precision, scikit-learn's average_precision_score: sum over distinct score thresholds of
// (recall_k - recall_{k-1}) * precision_k (the area under the precision-recall step curve, no
// interpolation). NaN without positives.
double average_precision(const std::vector<double>& scores, const std::vector<int>& labels);

// `metric` (auroc, average_precision, ...) on the cases `idx` of (scores, labels): the callback of
// a bootstrap or a subgroup audit.
using BinaryMetric = double (*)(const std::vector<double>&, const std::vector<int>&);
double metric_on(BinaryMetric metric, const std::vector<double>& scores, const std::vector<int>& labels,
                 const std::vector<size_t>& idx);

struct RocCurve {
  std::vector<double> fpr, tpr, thresholds;  // thresholds descending; first is +inf
};
RocCurve roc_curve(const std::vector<double>& scores, const std::vector<int>& labels);

struct ConfusionMatrix {
  int64_t tp = 0, fp = 0, tn = 0, fn = 0;
  int64_t n() const { return tp + fp + tn + fn; }
};
// Predicted positive when score >= threshold.
ConfusionMatrix confusion_at(const std::vector<double>& scores, const std::vector<int>& labels, double threshold);

struct BinaryMetrics {
  double accuracy = 0, sensitivity = 0, specificity = 0, ppv = 0, npv = 0, f1 = 0;
  ConfusionMatrix confusion;
};
// Ratios with a zero denominator are NaN.
BinaryMetrics binary_metrics(const ConfusionMatrix& cm);

// Threshold maximising Youden's J = sensitivity + specificity - 1 (at its highest-score ROC point),
// placed midway between that point's score and the next lower score.
double youden_threshold(const std::vector<double>& scores, const std::vector<int>& labels);
// The highest ROC point whose sensitivity is at least `target`, placed the same way.
double threshold_for_sensitivity(const std::vector<double>& scores, const std::vector<int>& labels, double target);

}  // namespace medai::metrics
