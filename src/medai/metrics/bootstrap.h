#pragma once
// Percentile bootstrap confidence intervals over resampled cases.
#include <cstdint>
#include <functional>
#include <vector>

namespace medai::metrics {

struct Interval {
  double lower = 0, upper = 0;
};

// Resamples case indices with replacement `reps` times; `statistic` gets the index sample and
// may return NaN (e.g. AUROC with one class), which is skipped. Percentile interval at `level`.
Interval bootstrap_ci(size_t n, const std::function<double(const std::vector<size_t>&)>& statistic, int reps = 1000,
                      double level = 0.95, uint64_t seed = 12345);

}  // namespace medai::metrics
