#include "medai/metrics/classification.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "medai/core/error.h"

namespace medai::metrics {

namespace {
void check(const std::vector<double>& s, const std::vector<int>& y) {
  if (s.size() != y.size()) fail_invalid("scores and labels differ in length");
  for (int v : y)
    if (v != 0 && v != 1) fail_invalid("binary labels must be 0 or 1");
}
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
double ratio(int64_t a, int64_t b) { return b == 0 ? kNaN : static_cast<double>(a) / b; }
}  // namespace

double auroc(const std::vector<double>& s, const std::vector<int>& y) {
  check(s, y);
  const size_t n = s.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s[a] < s[b]; });
  double rank_sum = 0;
  int64_t pos = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && s[order[j]] == s[order[i]]) ++j;
    double avg_rank = (i + 1 + j) / 2.0;  // ranks i+1..j averaged
    for (size_t k = i; k < j; ++k)
      if (y[order[k]] == 1) {
        rank_sum += avg_rank;
        ++pos;
      }
    i = j;
  }
  int64_t neg = static_cast<int64_t>(n) - pos;
  if (pos == 0 || neg == 0) return kNaN;
  return (rank_sum - pos * (pos + 1) / 2.0) / (static_cast<double>(pos) * neg);
}

double average_precision(const std::vector<double>& s, const std::vector<int>& y) {
  check(s, y);
  std::vector<size_t> order(s.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s[a] > s[b]; });
  const auto positives = static_cast<double>(std::count(y.begin(), y.end(), 1));
  if (positives == 0) return kNaN;
  double tp = 0, fp = 0, recall = 0, ap = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    for (; j < order.size() && s[order[j]] == s[order[i]]; ++j) (y[order[j]] == 1 ? tp : fp) += 1;
    const double r = tp / positives;
    ap += (r - recall) * tp / (tp + fp);
    recall = r;
    i = j;
  }
  return ap;
}

double metric_on(BinaryMetric metric, const std::vector<double>& scores, const std::vector<int>& labels,
                 const std::vector<size_t>& idx) {
  std::vector<double> ps;
  std::vector<int> ys;
  ps.reserve(idx.size());
  ys.reserve(idx.size());
  for (size_t i : idx) ps.push_back(scores[i]), ys.push_back(labels[i]);
  return metric(ps, ys);
}

RocCurve roc_curve(const std::vector<double>& s, const std::vector<int>& y) {
  check(s, y);
  std::vector<size_t> order(s.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s[a] > s[b]; });
  int64_t P = std::count(y.begin(), y.end(), 1), N = static_cast<int64_t>(y.size()) - P;
  RocCurve r;
  r.fpr.push_back(0);
  r.tpr.push_back(0);
  r.thresholds.push_back(std::numeric_limits<double>::infinity());
  int64_t tp = 0, fp = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && s[order[j]] == s[order[i]]) {
      (y[order[j]] ? tp : fp)++;
      ++j;
    }
    r.fpr.push_back(N ? static_cast<double>(fp) / N : kNaN);
    r.tpr.push_back(P ? static_cast<double>(tp) / P : kNaN);
    r.thresholds.push_back(s[order[i]]);
    i = j;
  }
  return r;
}

ConfusionMatrix confusion_at(const std::vector<double>& s, const std::vector<int>& y, double t) {
  check(s, y);
  ConfusionMatrix cm;
  for (size_t i = 0; i < s.size(); ++i) {
    bool pred = s[i] >= t;
    if (y[i]) (pred ? cm.tp : cm.fn)++;
    else (pred ? cm.fp : cm.tn)++;
  }
  return cm;
}

BinaryMetrics binary_metrics(const ConfusionMatrix& cm) {
  BinaryMetrics m;
  m.confusion = cm;
  m.accuracy = ratio(cm.tp + cm.tn, cm.n());
  m.sensitivity = ratio(cm.tp, cm.tp + cm.fn);
  m.specificity = ratio(cm.tn, cm.tn + cm.fp);
  m.ppv = ratio(cm.tp, cm.tp + cm.fp);
  m.npv = ratio(cm.tn, cm.tn + cm.fn);
  m.f1 = ratio(2 * cm.tp, 2 * cm.tp + cm.fp + cm.fn);
  return m;
}

namespace {
// The cut-off for ROC point i: midway between its score and the next lower score, so that the
// same cases fall on each side and a score that differs by rounding does not flip a decision.
double cutoff_below(const RocCurve& r, size_t i) {
  return i + 1 < r.thresholds.size() ? 0.5 * (r.thresholds[i] + r.thresholds[i + 1]) : r.thresholds[i];
}
}  // namespace

double youden_threshold(const std::vector<double>& s, const std::vector<int>& y) {
  RocCurve r = roc_curve(s, y);
  double best = -1;
  size_t at = 0;
  for (size_t i = 1; i < r.thresholds.size(); ++i) {
    double j = r.tpr[i] - r.fpr[i];
    if (j > best) {
      best = j;
      at = i;
    }
  }
  return at == 0 ? 0.5 : cutoff_below(r, at);
}

double threshold_for_sensitivity(const std::vector<double>& s, const std::vector<int>& y, double target) {
  if (!(target > 0 && target <= 1)) fail_invalid("target sensitivity must be in (0, 1]");
  RocCurve r = roc_curve(s, y);
  for (size_t i = 1; i < r.thresholds.size(); ++i)
    if (r.tpr[i] >= target) return cutoff_below(r, i);
  return r.thresholds.back();
}

}  // namespace medai::metrics
