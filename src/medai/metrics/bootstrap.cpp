#include "medai/metrics/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace medai::metrics {

Interval bootstrap_ci(size_t n, const std::function<double(const std::vector<size_t>&)>& stat, int reps, double level,
                      uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, n ? n - 1 : 0);
  std::vector<double> values;
  std::vector<size_t> idx(n);
  for (int r = 0; r < reps && n > 0; ++r) {
    for (auto& i : idx) i = pick(rng);
    double v = stat(idx);
    if (std::isfinite(v)) values.push_back(v);
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (values.size() < 10) return {nan, nan};
  std::sort(values.begin(), values.end());
  auto q = [&](double p) {
    double pos = p * (values.size() - 1);
    size_t lo = static_cast<size_t>(std::floor(pos));
    size_t hi = std::min(values.size() - 1, lo + 1);
    return values[lo] + (pos - lo) * (values[hi] - values[lo]);
  };
  double alpha = (1 - level) / 2;
  return {q(alpha), q(1 - alpha)};
}

}  // namespace medai::metrics
