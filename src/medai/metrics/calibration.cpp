#include "medai/metrics/calibration.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "medai/core/error.h"

namespace medai::metrics {

double brier_score(const std::vector<double>& p, const std::vector<int>& y) {
  if (p.size() != y.size() || p.empty()) fail_invalid("brier_score: empty or mismatched inputs");
  double s = 0;
  for (size_t i = 0; i < p.size(); ++i) s += (p[i] - y[i]) * (p[i] - y[i]);
  return s / p.size();
}

CalibrationReport calibration_report(const std::vector<double>& p, const std::vector<int>& y, int nb) {
  if (p.size() != y.size() || p.empty()) fail_invalid("calibration_report: empty or mismatched inputs");
  CalibrationReport r;
  r.bins.resize(nb);
  std::vector<double> conf(nb, 0), pos(nb, 0);
  for (int b = 0; b < nb; ++b) {
    r.bins[b].lower = static_cast<double>(b) / nb;
    r.bins[b].upper = static_cast<double>(b + 1) / nb;
  }
  for (size_t i = 0; i < p.size(); ++i) {
    int b = std::min(nb - 1, std::max(0, static_cast<int>(p[i] * nb)));
    conf[b] += p[i];
    pos[b] += y[i];
    r.bins[b].count++;
  }
  for (int b = 0; b < nb; ++b) {
    auto& bin = r.bins[b];
    if (bin.count == 0) continue;
    bin.mean_confidence = conf[b] / bin.count;
    bin.observed_rate = pos[b] / bin.count;
    r.ece += std::fabs(bin.observed_rate - bin.mean_confidence) * bin.count / p.size();
  }
  return r;
}

std::vector<std::vector<double>> softmax(const std::vector<std::vector<double>>& logits, double t) {
  std::vector<std::vector<double>> out(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    const auto& z = logits[i];
    double m = *std::max_element(z.begin(), z.end());
    double sum = 0;
    out[i].resize(z.size());
    for (size_t k = 0; k < z.size(); ++k) sum += (out[i][k] = std::exp((z[k] - m) / t));
    for (auto& v : out[i]) v /= sum;
  }
  return out;
}

double nll(const std::vector<std::vector<double>>& logits, const std::vector<int>& y, double t) {
  double s = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const auto& z = logits[i];
    double m = *std::max_element(z.begin(), z.end()) / t, sum = 0;
    for (double v : z) sum += std::exp(v / t - m);
    s += -(z[y[i]] / t - m - std::log(sum));
  }
  return s / logits.size();
}

double fit_temperature(const std::vector<std::vector<double>>& logits, const std::vector<int>& y) {
  if (logits.empty() || logits.size() != y.size()) fail_invalid("fit_temperature: empty or mismatched inputs");
  double a = std::log(1.0 / 20), b = std::log(20.0);
  const double g = (std::sqrt(5.0) - 1) / 2;
  double c = b - g * (b - a), d = a + g * (b - a);
  double fc = nll(logits, y, std::exp(c)), fd = nll(logits, y, std::exp(d));
  for (int it = 0; it < 80; ++it) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = nll(logits, y, std::exp(c));
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = nll(logits, y, std::exp(d));
    }
  }
  return std::exp((a + b) / 2);
}

double shift_prevalence(double p, double from, double to) {
  if (!(from > 0 && from < 1) || !(to > 0 && to < 1)) fail_invalid("prevalence must be strictly between 0 and 1");
  if (p <= 0 || p >= 1) return p;
  const double odds = p / (1 - p) * (to / (1 - to)) / (from / (1 - from));
  return odds / (1 + odds);
}

}  // namespace medai::metrics
