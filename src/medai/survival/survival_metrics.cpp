#include "medai/survival/survival_metrics.h"

#include <algorithm>
#include <cmath>

#include "medai/core/error.h"
#include "medai/survival/concordance.h"
#include "medai/survival/kaplan_meier.h"

namespace medai::survival {

std::vector<double> default_time_grid(const std::vector<double>& time, int points) {
  std::vector<double> sorted(time);
  std::sort(sorted.begin(), sorted.end());
  const double lo = sorted.front(), hi = sorted[static_cast<size_t>(0.9 * (sorted.size() - 1))];
  std::vector<double> grid;
  for (int k = 0; k < points; ++k) grid.push_back(lo + (hi - lo) * k / std::max(1, points - 1));
  return grid;
}

namespace {

// G(t-) and G(t) of the censoring Kaplan-Meier (censorings as the events).
struct Censoring {
  KmCurve km;
  double at(double t) const { return km.survival_at(t); }
  double before(double t) const {
    const auto it = std::lower_bound(km.time.begin(), km.time.end(), t);
    return it == km.time.begin() ? 1.0 : km.survival[static_cast<size_t>(it - km.time.begin()) - 1];
  }
};

}  // namespace

SurvivalScores score_survival(const std::vector<double>& time, const std::vector<int>& event,
                              const std::vector<double>& risk, const SurvivalCurves& curves,
                              const std::vector<double>& grid) {
  const size_t n = time.size();
  if (n < 2 || risk.size() != n || curves.size() != n) fail_invalid("survival scores: need two or more subjects");
  SurvivalScores s;
  s.n = n;
  for (int e : event) s.events += e;
  if (s.events == 0) fail_invalid("survival scores: no events among the " + std::to_string(n) + " subjects");
  std::vector<int> censored(n);
  for (size_t i = 0; i < n; ++i) censored[i] = !event[i];
  const Censoring g{kaplan_meier(time, censored)};
  s.c_harrell = harrell_concordance(time, event, risk).c();
  std::vector<double> w(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    const double gi = g.before(time[i]);
    w[i] = event[i] && gi > 0 ? 1 / (gi * gi) : 0.0;
  }
  s.c_uno = harrell_concordance(time, event, risk, nullptr, &w).c();
  for (size_t k = 0; k < grid.size(); ++k) {
    const double t = grid[k], gt = g.at(t);
    double sum = 0;
    for (size_t i = 0; i < n; ++i) {
      const double p = curves[i][k];
      if (time[i] <= t && event[i]) {
        const double gi = g.before(time[i]);
        if (gi > 0) sum += p * p / gi;
      } else if (time[i] > t && gt > 0) {
        sum += (1 - p) * (1 - p) / gt;
      }
    }
    s.brier.push_back(sum / static_cast<double>(n));
  }
  s.grid = grid;
  if (grid.size() >= 2 && grid.back() > grid.front()) {
    double area = 0;
    for (size_t k = 1; k < grid.size(); ++k) area += (grid[k] - grid[k - 1]) * (s.brier[k] + s.brier[k - 1]) / 2;
    s.ibs = area / (grid.back() - grid.front());
  } else {
    s.ibs = s.brier.empty() ? 0 : s.brier[0];
  }
  return s;
}

}  // namespace medai::survival
