#include "medai/survival/linalg.h"

#include <algorithm>
#include <cmath>

namespace medai::survival {

bool cholesky(const std::vector<double>& a, int p, std::vector<double>& l, double tolerance) {
  l.assign(static_cast<size_t>(p) * p, 0.0);
  double largest = 0;
  for (int i = 0; i < p; ++i) largest = std::max(largest, std::fabs(a[i * p + i]));
  for (int j = 0; j < p; ++j) {
    double d = a[j * p + j];
    for (int k = 0; k < j; ++k) d -= l[j * p + k] * l[j * p + k];
    if (!(d > tolerance * largest)) return false;
    l[j * p + j] = std::sqrt(d);
    for (int i = j + 1; i < p; ++i) {
      double s = a[i * p + j];
      for (int k = 0; k < j; ++k) s -= l[i * p + k] * l[j * p + k];
      l[i * p + j] = s / l[j * p + j];
    }
  }
  return true;
}

std::vector<double> cholesky_solve(const std::vector<double>& l, int p, const std::vector<double>& b) {
  std::vector<double> y(b);
  for (int i = 0; i < p; ++i) {
    for (int k = 0; k < i; ++k) y[i] -= l[i * p + k] * y[k];
    y[i] /= l[i * p + i];
  }
  for (int i = p - 1; i >= 0; --i) {
    for (int k = i + 1; k < p; ++k) y[i] -= l[k * p + i] * y[k];
    y[i] /= l[i * p + i];
  }
  return y;
}

std::vector<double> cholesky_inverse(const std::vector<double>& l, int p) {
  std::vector<double> inv(static_cast<size_t>(p) * p), e(p);
  for (int j = 0; j < p; ++j) {
    std::fill(e.begin(), e.end(), 0.0);
    e[j] = 1;
    const auto col = cholesky_solve(l, p, e);
    for (int i = 0; i < p; ++i) inv[i * p + j] = col[i];
  }
  return inv;
}

}  // namespace medai::survival
