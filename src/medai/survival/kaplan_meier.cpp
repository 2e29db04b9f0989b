#include "medai/survival/kaplan_meier.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "medai/core/error.h"
#include "medai/metrics/distributions.h"
#include "medai/survival/linalg.h"

namespace medai::survival {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double normal_quantile(double level) {
  // Two-sided quantile by bisection on the tail (levels are few and this is exact enough).
  double lo = 0, hi = 10;
  for (int i = 0; i < 200; ++i) {
    const double mid = (lo + hi) / 2;
    (metrics::normal_two_sided_p(mid) > 1 - level ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

// The first time a step curve drops to <= 0.5; when it sits exactly at 0.5, the midpoint to the
// next drop (R's quantile.survfit). NaN when never reached.
double first_at_half(const std::vector<double>& time, const std::vector<double>& curve) {
  constexpr double kEps = 1e-12;
  for (size_t i = 0; i < curve.size(); ++i) {
    if (!(curve[i] <= 0.5 + kEps)) continue;
    if (std::fabs(curve[i] - 0.5) > kEps) return time[i];
    for (size_t j = i + 1; j < curve.size(); ++j)
      if (curve[j] < curve[i] - kEps) return (time[i] + time[j]) / 2;
    return time[i];
  }
  return kNaN;
}

}  // namespace

double KmCurve::survival_at(double t) const {
  const auto it = std::upper_bound(time.begin(), time.end(), t);
  return it == time.begin() ? 1.0 : survival[static_cast<size_t>(it - time.begin()) - 1];
}

size_t KmCurve::at_risk(double t) const {
  const auto it = std::lower_bound(time.begin(), time.end(), t);
  return it == time.end() ? 0 : n_risk[static_cast<size_t>(it - time.begin())];
}

KmCurve kaplan_meier(const std::vector<double>& time, const std::vector<int>& event, double level) {
  if (time.empty()) fail_invalid("Kaplan-Meier: no subjects");
  std::vector<size_t> order(time.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return time[a] < time[b]; });
  const double z = normal_quantile(level);
  KmCurve c;
  c.n = time.size();
  size_t at_risk = time.size();
  double s = 1, greenwood = 0, h = 0, h_var = 0;
  for (size_t i = 0; i < order.size();) {
    const double t = time[order[i]];
    size_t d = 0, censored = 0;
    for (; i < order.size() && time[order[i]] == t; ++i) (event[order[i]] ? d : censored)++;
    c.time.push_back(t);
    c.n_risk.push_back(at_risk);
    c.n_event.push_back(d);
    c.n_censor.push_back(censored);
    if (d > 0) {
      const double n = static_cast<double>(at_risk);
      s *= 1 - d / n;
      greenwood += d < at_risk ? d / (n * (n - d)) : std::numeric_limits<double>::infinity();
      h += d / n;
      h_var += d / (n * n);
    }
    c.events += d;
    c.survival.push_back(s);
    const double se_log = std::sqrt(greenwood);
    c.std_err.push_back(s > 0 ? s * se_log : kNaN);
    c.lower.push_back(s > 0 ? std::exp(std::log(s) - z * se_log) : kNaN);
    c.upper.push_back(s > 0 ? std::min(1.0, std::exp(std::log(s) + z * se_log)) : kNaN);
    c.cumhaz.push_back(h);
    c.cumhaz_se.push_back(std::sqrt(h_var));
    at_risk -= d + censored;
  }
  c.median = first_at_half(c.time, c.survival);
  // The limits drop below 0.5 at their own times (NaN limits where S reached 0 count as 0).
  std::vector<double> lower(c.lower), upper(c.upper);
  for (size_t i = 0; i < lower.size(); ++i) {
    if (std::isnan(lower[i])) lower[i] = 0;
    if (std::isnan(upper[i])) upper[i] = 0;
  }
  c.median_lower = first_at_half(c.time, lower);
  c.median_upper = first_at_half(c.time, upper);
  return c;
}

LogRankTest log_rank(const std::vector<double>& time, const std::vector<int>& event, const std::vector<int>& group,
                     const std::vector<std::string>& names) {
  const int k = static_cast<int>(names.size());
  LogRankTest r;
  r.groups = names;
  r.n.assign(k, 0);
  r.observed.assign(k, 0);
  r.expected.assign(k, 0);
  for (size_t i = 0; i < time.size(); ++i) {
    r.n.at(group[i])++;
    r.observed[group[i]] += event[i];
  }
  for (int g = 0; g < k; ++g)
    if (r.n[g] == 0) fail_invalid("log-rank: group '" + names[g] + "' has no subjects");
  if (k < 2) fail_invalid("log-rank: needs at least two groups");
  std::vector<size_t> order(time.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return time[a] < time[b]; });
  std::vector<double> risk(k);
  for (int g = 0; g < k; ++g) risk[g] = static_cast<double>(r.n[g]);
  std::vector<double> v(static_cast<size_t>(k) * k, 0.0), deaths(k), leaving(k);
  for (size_t i = 0; i < order.size();) {
    const double t = time[order[i]];
    std::fill(deaths.begin(), deaths.end(), 0.0);
    std::fill(leaving.begin(), leaving.end(), 0.0);
    for (; i < order.size() && time[order[i]] == t; ++i) {
      deaths[group[order[i]]] += event[order[i]];
      leaving[group[order[i]]] += 1;
    }
    const double n = std::accumulate(risk.begin(), risk.end(), 0.0);
    const double d = std::accumulate(deaths.begin(), deaths.end(), 0.0);
    if (d > 0) {
      for (int g = 0; g < k; ++g) r.expected[g] += d * risk[g] / n;
      if (n > 1) {
        const double f = d * (n - d) / (n - 1);
        for (int g = 0; g < k; ++g)
          for (int h = 0; h < k; ++h) v[g * k + h] += f * risk[g] / n * ((g == h) - risk[h] / n);
      }
    }
    for (int g = 0; g < k; ++g) risk[g] -= leaving[g];
  }
  // Chi-square on the first k-1 groups (the variance of all k is singular).
  const int m = k - 1;
  std::vector<double> vm(static_cast<size_t>(m) * m), u(m), l;
  for (int g = 0; g < m; ++g) {
    u[g] = r.observed[g] - r.expected[g];
    for (int h = 0; h < m; ++h) vm[g * m + h] = v[g * k + h];
  }
  if (!cholesky(vm, m, l, 1e-10))
    fail_invalid("log-rank: the groups' variance is singular (no events in the risk sets)");
  const auto w = cholesky_solve(l, m, u);
  for (int g = 0; g < m; ++g) r.chi_square += u[g] * w[g];
  r.df = m;
  r.p = metrics::chi_square_upper_tail(r.chi_square, m);
  return r;
}

}  // namespace medai::survival
