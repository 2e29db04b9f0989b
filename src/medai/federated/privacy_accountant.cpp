#include "medai/federated/privacy_accountant.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "medai/core/error.h"

namespace medai::federated {

namespace {

double log_add(double a, double b) {
  if (a == -INFINITY) return b;
  if (b == -INFINITY) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(std::min(a, b) - m));
}

// log(exp(a) - exp(b)), a >= b.
double log_sub(double a, double b) {
  if (b == -INFINITY) return a;
  if (a == b) return -INFINITY;
  return a + std::log1p(-std::exp(b - a));
}

double log_binom(double n, double k) { return std::lgamma(n + 1) - std::lgamma(k + 1) - std::lgamma(n - k + 1); }

// log A_alpha for integer alpha: sum_k C(alpha, k) (1 - q)^(alpha - k) q^k exp((k^2 - k) / (2 sigma^2)).
double log_a_int(double q, double sigma, int alpha) {
  double s = -INFINITY;
  for (int k = 0; k <= alpha; ++k)
    s = log_add(s, log_binom(alpha, k) + k * std::log(q) + (alpha - k) * std::log1p(-q) +
                       (k * static_cast<double>(k) - k) / (2 * sigma * sigma));
  return s;
}

double log_erfc(double x) { return x < 25 ? std::log(std::erfc(x)) : -x * x - std::log(x) - 0.5 * std::log(M_PI); }

// log A_alpha for fractional alpha (Mironov, Talwar & Zhang 2019, Section 3.3): two series summed
// until their terms fall below e^-30.
double log_a_frac(double q, double sigma, double alpha) {
  double a0 = -INFINITY, a1 = -INFINITY;
  const double z0 = sigma * sigma * std::log(1 / q - 1) + 0.5;
  for (int i = 0; i < 100000; ++i) {
    const double coef = log_binom(alpha, i);
    const double log_t0 = coef + i * std::log(q) + (alpha - i) * std::log1p(-q);
    const double log_t1 = coef + (alpha - i) * std::log(q) + i * std::log1p(-q);
    const double log_e0 = std::log(0.5) + log_erfc((i - z0) / (std::sqrt(2.0) * sigma));
    const double log_e1 = std::log(0.5) + log_erfc((z0 - (alpha - i)) / (std::sqrt(2.0) * sigma));
    const double log_s0 = log_t0 + (i * i - i) / (2 * sigma * sigma) + log_e0;
    const double log_s1 = log_t1 + ((alpha - i) * (alpha - i) - (alpha - i)) / (2 * sigma * sigma) + log_e1;
    // The binomial coefficient's sign alternates once i exceeds alpha.
    const bool positive = i <= alpha || static_cast<long>(std::floor(i - alpha)) % 2 == 0;
    if (positive) a0 = log_add(a0, log_s0), a1 = log_add(a1, log_s1);
    else a0 = log_sub(a0, log_s0), a1 = log_sub(a1, log_s1);
    if (std::max(log_s0, log_s1) < -30) break;
  }
  return log_add(a0, a1);
}

}  // namespace

double rdp_sampled_gaussian(double q, double sigma, double alpha) {
  if (!(q > 0 && q <= 1)) fail_invalid("privacy accountant: the sampling rate must be in (0, 1]");
  if (!(sigma > 0)) return INFINITY;
  if (!(alpha > 1)) fail_invalid("privacy accountant: RDP orders must be > 1");
  if (q == 1) return alpha / (2 * sigma * sigma);
  const bool integer = std::floor(alpha) == alpha;
  const double log_a = integer ? log_a_int(q, sigma, static_cast<int>(alpha)) : log_a_frac(q, sigma, alpha);
  return log_a / (alpha - 1);
}

const std::vector<double>& default_orders() {
  static const std::vector<double> orders = [] {
    std::vector<double> o{1.25, 1.5, 1.75, 2.5, 3.5, 4.5, 5.5};
    for (int a = 2; a <= 64; ++a) o.push_back(a);
    for (int a : {80, 96, 128, 160, 192, 256}) o.push_back(a);
    std::sort(o.begin(), o.end());
    return o;
  }();
  return orders;
}

PrivacySpent privacy_spent(double q, double sigma, long long steps, double delta, const std::vector<double>& orders,
                           bool classic) {
  if (!(delta > 0 && delta < 1)) fail_invalid("privacy accountant: delta must be in (0, 1)");
  if (steps < 0) fail_invalid("privacy accountant: negative number of steps");
  PrivacySpent best{INFINITY, 0};
  if (steps == 0) return {0, 0};
  for (double a : orders) {
    const double rdp = rdp_sampled_gaussian(q, sigma, a) * static_cast<double>(steps);
    const double eps = classic ? rdp + std::log(1 / delta) / (a - 1)
                               : rdp + std::log1p(-1 / a) - (std::log(delta) + std::log(a)) / (a - 1);
    if (eps < best.epsilon) best = {std::max(0.0, eps), a};
  }
  return best;
}

double noise_for_epsilon(double q, long long steps, double epsilon, double delta) {
  if (!(epsilon > 0)) fail_invalid("DP: the target epsilon must be > 0");
  double lo = 0.05, hi = 1.0;
  while (privacy_spent(q, hi, steps, delta).epsilon > epsilon) {
    hi *= 2;
    if (hi > 1e4) fail_invalid("DP: epsilon " + std::to_string(epsilon) + " is out of reach for these steps");
  }
  while (hi - lo > 1e-3 * hi) {
    const double mid = 0.5 * (lo + hi);
    (privacy_spent(q, mid, steps, delta).epsilon > epsilon ? lo : hi) = mid;
  }
  return hi;
}

}  // namespace medai::federated
