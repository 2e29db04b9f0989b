#include "medai/text/softmax_regression.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <numeric>

#include "medai/core/error.h"
#include "medai/io/binary_io.h"

namespace medai::text {

namespace {
double dot(const std::vector<double>& a, const std::vector<double>& b) {
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}

// Scores z_k = W_k . x + b_k into `z`.
void scores(const std::vector<double>& w, size_t stride, int classes, const SparseVector& x, std::vector<double>& z) {
  for (int k = 0; k < classes; ++k) {
    const double* row = w.data() + k * stride;
    double s = row[stride - 1];
    for (size_t j = 0; j < x.index.size(); ++j) s += row[x.index[j]] * x.value[j];
    z[k] = s;
  }
}

void softmax_inplace(std::vector<double>& z) {
  const double top = *std::max_element(z.begin(), z.end());
  double sum = 0;
  for (double& v : z) sum += (v = std::exp(v - top));
  for (double& v : z) v /= sum;
}
}  // namespace

void SoftmaxRegression::fit(const std::vector<SparseVector>& x, const std::vector<int>& y, int classes,
                            size_t dimension, const SoftmaxOptions& o) {
  if (x.empty() || x.size() != y.size() || classes < 2)
    fail_invalid("logistic regression needs labelled rows of at least two classes");
  classes_ = classes;
  dimension_ = dimension;
  const size_t stride = dimension + 1, n_params = classes * stride;
  std::vector<double> count(classes, 0), weight(x.size(), 1.0);
  for (int label : y) count.at(label) += 1;
  if (o.balanced)
    for (size_t i = 0; i < x.size(); ++i) weight[i] = x.size() / (classes * count[y[i]]);

  // f(w) = C sum_i weight_i CE_i + ||W||^2 / 2 and its gradient.
  const auto objective = [&](const std::vector<double>& w, std::vector<double>& g) {
    g.assign(n_params, 0.0);
    double f = 0;
    std::vector<double> z(classes);
    for (size_t i = 0; i < x.size(); ++i) {
      scores(w, stride, classes, x[i], z);
      softmax_inplace(z);
      f -= o.c * weight[i] * std::log(std::max(z[y[i]], 1e-300));
      for (int k = 0; k < classes; ++k) {
        const double d = o.c * weight[i] * (z[k] - (k == y[i] ? 1.0 : 0.0));
        double* gk = g.data() + k * stride;
        for (size_t j = 0; j < x[i].index.size(); ++j) gk[x[i].index[j]] += d * x[i].value[j];
        gk[stride - 1] += d;
      }
    }
    for (int k = 0; k < classes; ++k)
      for (size_t j = 0; j + 1 < stride; ++j) {
        const double v = w[k * stride + j];
        f += 0.5 * v * v;
        g[k * stride + j] += v;
      }
    return f;
  };

  // L-BFGS (Nocedal & Wright, algorithm 7.4) with a backtracking Armijo line search.
  std::vector<double> w(n_params, 0.0), g, g_new, w_new, d(n_params);
  double f = objective(w, g);
  std::deque<std::vector<double>> s_hist, y_hist;
  std::deque<double> rho_hist;
  const double g0 = std::sqrt(dot(g, g));
  for (int it = 0; it < o.max_iterations; ++it) {
    d = g;
    std::vector<double> alpha(s_hist.size());
    for (size_t h = s_hist.size(); h-- > 0;) {
      alpha[h] = rho_hist[h] * dot(s_hist[h], d);
      for (size_t p = 0; p < n_params; ++p) d[p] -= alpha[h] * y_hist[h][p];
    }
    if (!s_hist.empty()) {
      const double gamma = dot(s_hist.back(), y_hist.back()) / dot(y_hist.back(), y_hist.back());
      for (double& v : d) v *= gamma;
    } else {
      const double scale = 1.0 / std::max(1.0, std::sqrt(dot(g, g)));
      for (double& v : d) v *= scale;
    }
    for (size_t h = 0; h < s_hist.size(); ++h) {
      const double beta = rho_hist[h] * dot(y_hist[h], d);
      for (size_t p = 0; p < n_params; ++p) d[p] += s_hist[h][p] * (alpha[h] - beta);
    }
    for (double& v : d) v = -v;
    const double slope = dot(g, d);
    if (slope >= 0) break;
    double step = 1.0, f_new = 0;
    for (int ls = 0; ls < 30; ++ls, step *= 0.5) {
      w_new = w;
      for (size_t p = 0; p < n_params; ++p) w_new[p] += step * d[p];
      f_new = objective(w_new, g_new);
      if (f_new <= f + 1e-4 * step * slope) break;
    }
    std::vector<double> s(n_params), yv(n_params);
    for (size_t p = 0; p < n_params; ++p) {
      s[p] = w_new[p] - w[p];
      yv[p] = g_new[p] - g[p];
    }
    const double sy = dot(s, yv);
    w.swap(w_new);
    g.swap(g_new);
    const bool converged =
        std::abs(f - f_new) <= 1e-9 * std::max(1.0, std::abs(f)) || std::sqrt(dot(g, g)) <= 1e-6 * g0;
    f = f_new;
    if (converged) break;
    if (sy > 1e-12) {
      s_hist.push_back(std::move(s));
      y_hist.push_back(std::move(yv));
      rho_hist.push_back(1.0 / sy);
      if (s_hist.size() > 10) {
        s_hist.pop_front();
        y_hist.pop_front();
        rho_hist.pop_front();
      }
    }
  }
  w_ = std::move(w);
}

std::vector<double> SoftmaxRegression::probabilities(const SparseVector& x) const {
  std::vector<double> z(classes_);
  scores(w_, dimension_ + 1, classes_, x, z);
  softmax_inplace(z);
  return z;
}

int SoftmaxRegression::predict(const SparseVector& x) const {
  const auto p = probabilities(x);
  return static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
}

void SoftmaxRegression::write(io::ByteWriter& out) const {
  out.u32(static_cast<uint32_t>(classes_));
  out.u64(dimension_);
  out.f32s(std::vector<float>(w_.begin(), w_.end()));
}

SoftmaxRegression SoftmaxRegression::read(io::ByteReader& in) {
  SoftmaxRegression m;
  m.classes_ = static_cast<int>(in.u32());
  m.dimension_ = in.u64();
  const auto w = in.f32s();
  if (m.classes_ < 2 || w.size() / static_cast<size_t>(m.classes_) != m.dimension_ + 1 || w.size() % m.classes_ != 0)
    in.corrupt("weights do not match " + std::to_string(m.classes_) + " classes x " + std::to_string(m.dimension_) +
               " features");
  m.w_.assign(w.begin(), w.end());
  return m;
}

}  // namespace medai::text
