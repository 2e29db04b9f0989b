#include "medai/survival/survival_metrics.h"

#include <algorithm>
#include <cmath>
#include <random>

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

namespace {

// Cumulative/dynamic AUC at t with IPCW weights on the cases.
double auc_at(const std::vector<double>& time, const std::vector<int>& event, const std::vector<double>& risk, double t,
              const KmCurve& g) {
  std::vector<double> controls;
  for (size_t i = 0; i < time.size(); ++i)
    if (time[i] > t) controls.push_back(risk[i]);
  std::sort(controls.begin(), controls.end());
  double num = 0, den = 0;
  for (size_t i = 0; i < time.size(); ++i) {
    if (!(time[i] <= t && event[i])) continue;
    const auto it = std::lower_bound(g.time.begin(), g.time.end(), time[i]);
    const double gi = it == g.time.begin() ? 1.0 : g.survival[static_cast<size_t>(it - g.time.begin()) - 1];
    if (gi <= 0) continue;
    const double below =
        static_cast<double>(std::lower_bound(controls.begin(), controls.end(), risk[i]) - controls.begin());
    const double tied =
        static_cast<double>(std::upper_bound(controls.begin(), controls.end(), risk[i]) - controls.begin()) - below;
    num += (below + tied / 2) / gi;
    den += static_cast<double>(controls.size()) / gi;
  }
  return den > 0 ? num / den : std::nan("");
}

// Deciles of predicted S(t): mean prediction against the Kaplan-Meier S(t) of the bin.
HorizonCalibration calibrate_at(const std::vector<double>& time, const std::vector<int>& event,
                                const std::vector<double>& predicted, double t, int bins = 10) {
  HorizonCalibration c;
  c.horizon = t;
  std::vector<size_t> order(time.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return predicted[a] < predicted[b]; });
  const size_t n = order.size();
  for (int b = 0; b < bins; ++b) {
    const size_t lo = n * b / bins, hi = n * (b + 1) / bins;
    if (hi <= lo) continue;
    std::vector<double> tt;
    std::vector<int> ee;
    double mean = 0;
    for (size_t k = lo; k < hi; ++k)
      tt.push_back(time[order[k]]), ee.push_back(event[order[k]]), mean += predicted[order[k]];
    mean /= static_cast<double>(hi - lo);
    const double observed = kaplan_meier(tt, ee).survival_at(t);
    c.predicted.push_back(mean);
    c.observed.push_back(observed);
    c.count.push_back(hi - lo);
    c.ece += std::fabs(observed - mean) * static_cast<double>(hi - lo) / static_cast<double>(n);
  }
  return c;
}

}  // namespace

SurvivalScores score_survival(const std::vector<double>& time, const std::vector<int>& event,
                              const std::vector<double>& risk, const SurvivalCurves& curves,
                              const std::vector<double>& grid, double horizon) {
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
  if (!grid.empty()) {
    size_t k = grid.size() / 2;
    if (horizon > 0)
      for (size_t i = 0; i < grid.size(); ++i)
        if (std::fabs(grid[i] - horizon) < std::fabs(grid[k] - horizon)) k = i;
    s.horizon = grid[k];
    s.auc_at_horizon = auc_at(time, event, risk, s.horizon, g.km);
    std::vector<double> at(n);
    for (size_t i = 0; i < n; ++i) at[i] = curves[i][k];
    s.calibration = calibrate_at(time, event, at, s.horizon);
  }
  if (grid.size() >= 2 && grid.back() > grid.front()) {
    double area = 0;
    for (size_t k = 1; k < grid.size(); ++k) area += (grid[k] - grid[k - 1]) * (s.brier[k] + s.brier[k - 1]) / 2;
    s.ibs = area / (grid.back() - grid.front());
  } else {
    s.ibs = s.brier.empty() ? 0 : s.brier[0];
  }
  return s;
}

SurvivalScores bootstrap_survival_scores(const std::vector<double>& time, const std::vector<int>& event,
                                         const std::vector<double>& risk, const SurvivalCurves& curves,
                                         const std::vector<double>& grid, double horizon, int reps, uint64_t seed) {
  SurvivalScores s = score_survival(time, event, risk, curves, grid, horizon);
  std::vector<std::vector<double>> draws(4);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, time.size() - 1);
  for (int r = 0; r < reps; ++r) {
    std::vector<double> t, k;
    std::vector<int> e;
    SurvivalCurves c;
    for (size_t i = 0; i < time.size(); ++i) {
      const size_t j = pick(rng);
      t.push_back(time[j]), e.push_back(event[j]), k.push_back(risk[j]), c.push_back(curves[j]);
    }
    if (std::count(e.begin(), e.end(), 1) == 0) continue;
    const auto b = score_survival(t, e, k, c, grid, s.horizon);
    draws[0].push_back(b.c_harrell), draws[1].push_back(b.c_uno), draws[2].push_back(b.ibs);
    draws[3].push_back(b.auc_at_horizon);
  }
  const auto limits = [](std::vector<double> v, double& lo, double& hi) {
    v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
    if (v.empty()) return void(lo = hi = std::nan(""));
    std::sort(v.begin(), v.end());
    lo = v[static_cast<size_t>(0.025 * (v.size() - 1))];
    hi = v[static_cast<size_t>(0.975 * (v.size() - 1))];
  };
  limits(draws[0], s.c_harrell_lower, s.c_harrell_upper);
  limits(draws[1], s.c_uno_lower, s.c_uno_upper);
  limits(draws[2], s.ibs_lower, s.ibs_upper);
  limits(draws[3], s.auc_lower, s.auc_upper);
  return s;
}

}  // namespace medai::survival
