#pragma once
// Probability calibration: Brier score, expected calibration error with its reliability table,
// and temperature scaling (Guo et al. 2017) fitted by minimising the negative log-likelihood.
#include <cstdint>
#include <vector>

namespace medai::metrics {

double brier_score(const std::vector<double>& probs, const std::vector<int>& labels);

struct ReliabilityBin {
  double lower = 0, upper = 0;
  double mean_confidence = 0;  // mean predicted probability of the positive class in the bin
  double observed_rate = 0;    // fraction of positives in the bin
  int64_t count = 0;
};
struct CalibrationReport {
  double ece = 0;  // sum over bins of |observed - predicted| weighted by bin share
  std::vector<ReliabilityBin> bins;
};
// Equal-width bins over [0, 1] of the positive-class probability.
CalibrationReport calibration_report(const std::vector<double>& probs, const std::vector<int>& labels, int bins = 10);

// Softmax with temperature T over each row of logits.
std::vector<std::vector<double>> softmax(const std::vector<std::vector<double>>& logits, double temperature = 1.0);
// Mean negative log-likelihood of `labels` (class indices) under softmax(logits / T).
double nll(const std::vector<std::vector<double>>& logits, const std::vector<int>& labels, double temperature);
// T > 0 minimising the NLL (golden-section search on log T in [1/20, 20]).
// Prior-shift adjustment (Saerens et al. 2002) of a probability calibrated where the positive
// class had prevalence `from` to a population where it has `to`: the odds scale by
// (to / (1 - to)) / (from / (1 - from)). Both prevalences in (0, 1).
double shift_prevalence(double p, double from, double to);

double fit_temperature(const std::vector<std::vector<double>>& logits, const std::vector<int>& labels);

}  // namespace medai::metrics
