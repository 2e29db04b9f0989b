#include "medai/glucose/forecast.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "medai/core/error.h"

namespace medai::glucose {

std::array<double, 2> persistence_forecast(const double* h, int n) { return {h[n - 1], h[n - 1]}; }

std::array<double, 2> linear_forecast(const double* h, int n) {
  const int m = std::min(n, 7);
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int i = 0; i < m; ++i) {
    double x = i - (m - 1), y = h[n - m + i];  // x = 0 at the last reading (steps)
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const double den = m * sxx - sx * sx;
  const double slope = den == 0 ? 0 : (m * sxy - sx * sy) / den, icpt = (sy - slope * sx) / m;
  return {icpt + slope * kHorizonSteps[0], icpt + slope * kHorizonSteps[1]};
}

namespace {
// Solves A x = b (symmetric positive definite) by Cholesky.
std::vector<double> solve_spd(std::vector<std::vector<double>> a, std::vector<double> b) {
  const size_t n = b.size();
  for (size_t j = 0; j < n; ++j) {
    double s = a[j][j];
    for (size_t k = 0; k < j; ++k) s -= a[j][k] * a[j][k];
    if (!(s > 0)) throw Error(ErrorCode::Internal, "ridge regression: matrix not positive definite");
    a[j][j] = std::sqrt(s);
    for (size_t i = j + 1; i < n; ++i) {
      double t = a[i][j];
      for (size_t k = 0; k < j; ++k) t -= a[i][k] * a[j][k];
      a[i][j] = t / a[j][j];
    }
  }
  for (size_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < i; ++k) b[i] -= a[i][k] * b[k];
    b[i] /= a[i][i];
  }
  for (size_t i = n; i-- > 0;) {
    for (size_t k = i + 1; k < n; ++k) b[i] -= a[k][i] * b[k];
    b[i] /= a[i][i];
  }
  return b;
}
}  // namespace

RidgeForecaster RidgeForecaster::fit(const std::vector<CgmSeries>& series, const std::vector<Window>& windows,
                                     int history, double lambda) {
  if (windows.empty()) fail_invalid("ridge regression: no training windows");
  RidgeForecaster r;
  r.history_ = history;
  const size_t d = history;
  std::vector<double> mean(d, 0.0);
  std::array<double, 2> ymean{};
  const double n = static_cast<double>(windows.size());
  for (const auto& [si, last] : windows) {
    const double* x = series[si].mgdl.data() + last - history + 1;
    for (size_t k = 0; k < d; ++k) mean[k] += x[k] / n;
    for (int h = 0; h < 2; ++h) ymean[h] += series[si].mgdl[last + kHorizonSteps[h]] / n;
  }
  std::vector<std::vector<double>> xtx(d, std::vector<double>(d, 0.0));
  std::array<std::vector<double>, 2> xty{std::vector<double>(d, 0.0), std::vector<double>(d, 0.0)};
  std::vector<double> xc(d);
  for (const auto& [si, last] : windows) {
    const double* x = series[si].mgdl.data() + last - history + 1;
    for (size_t k = 0; k < d; ++k) xc[k] = x[k] - mean[k];
    for (size_t i = 0; i < d; ++i) {
      for (size_t j = 0; j <= i; ++j) xtx[i][j] += xc[i] * xc[j];
      for (int h = 0; h < 2; ++h) xty[h][i] += xc[i] * (series[si].mgdl[last + kHorizonSteps[h]] - ymean[h]);
    }
  }
  for (size_t i = 0; i < d; ++i) {
    for (size_t j = 0; j < i; ++j) xtx[j][i] = xtx[i][j];
    xtx[i][i] += lambda;
  }
  for (int h = 0; h < 2; ++h) {
    r.w_[h] = solve_spd(xtx, xty[h]);
    double b = ymean[h];
    for (size_t k = 0; k < d; ++k) b -= r.w_[h][k] * mean[k];
    r.b_[h] = b;
  }
  return r;
}

std::array<double, 2> RidgeForecaster::predict(const double* x) const {
  std::array<double, 2> out = b_;
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < history_; ++k) out[h] += w_[h][k] * x[k];
  return out;
}

nlohmann::json RidgeForecaster::to_json() const {
  return {{"history", history_}, {"intercept", b_}, {"weights_30", w_[0]}, {"weights_60", w_[1]}};
}

RidgeForecaster RidgeForecaster::from_json(const nlohmann::json& j) {
  RidgeForecaster r;
  r.history_ = j.at("history").get<int>();
  r.b_ = j.at("intercept").get<std::array<double, 2>>();
  r.w_[0] = j.at("weights_30").get<std::vector<double>>();
  r.w_[1] = j.at("weights_60").get<std::vector<double>>();
  if (static_cast<int>(r.w_[0].size()) != r.history_ || static_cast<int>(r.w_[1].size()) != r.history_)
    fail_invalid("ridge coefficients do not match their history length");
  return r;
}

namespace {
template <class F>
BatchForecaster per_window(int history, F f) {
  return [history, f](const std::vector<CgmSeries>& s, const std::vector<Window>& w) {
    std::vector<std::array<double, 2>> out;
    out.reserve(w.size());
    for (const auto& [si, last] : w) out.push_back(f(s[si].mgdl.data() + last - history + 1));
    return out;
  };
}
}  // namespace

BatchForecaster persistence_batch(int history) {
  return per_window(history, [history](const double* x) { return persistence_forecast(x, history); });
}
BatchForecaster linear_batch(int history) {
  return per_window(history, [history](const double* x) { return linear_forecast(x, history); });
}
BatchForecaster ridge_batch(const RidgeForecaster& r) {
  return per_window(r.history(), [r](const double* x) { return r.predict(x); });
}

MethodAccuracy evaluate_forecaster(const std::string& method, const BatchForecaster& f,
                                   const std::vector<CgmSeries>& series, const std::vector<Window>& windows,
                                   int history) {
  MethodAccuracy m;
  m.method = method;
  const auto pred = f(series, windows);
  // refs/preds per subset (0 all, 1 excluding straight runs), horizon, and per patient.
  std::array<std::array<std::vector<double>, 2>, 2> ref, pr;
  std::map<int, std::array<std::array<std::vector<double>, 2>, 4>> per;  // [subset*2 + 0 ref / 1 pred][h]
  for (size_t i = 0; i < windows.size(); ++i) {
    const auto [si, last] = windows[i];
    const bool straight = window_touches_straight(series[si], last, history, kMaxHorizon);
    for (int h = 0; h < 2; ++h) {
      // Forecasts are clipped to what a CGM can report, 20-600 mg/dL (a straight extrapolation
      // can go negative), before they are scored.
      const double y = series[si].mgdl[last + kHorizonSteps[h]], p = std::clamp(pred[i][h], 20.0, 600.0);
      for (int sub = 0; sub < 2; ++sub) {
        if (sub == 1 && straight) continue;
        ref[sub][h].push_back(y);
        pr[sub][h].push_back(p);
        per[si][sub * 2][h].push_back(y);
        per[si][sub * 2 + 1][h].push_back(p);
      }
    }
  }
  for (int sub = 0; sub < 2; ++sub) {
    SubsetAccuracy& a = sub == 0 ? m.all : m.no_straight;
    for (int h = 0; h < 2; ++h)
      if (!ref[sub][h].empty()) a.pooled[h] = metrics::forecast_accuracy(ref[sub][h], pr[sub][h]);
    for (const auto& [si, v] : per) {
      if (v[sub * 2][0].empty()) continue;
      MethodAccuracy::PatientRow row{series[si].id, sub == 1, static_cast<int64_t>(v[sub * 2][0].size()), {}, {}};
      for (int h = 0; h < 2; ++h) {
        auto acc = metrics::forecast_accuracy(v[sub * 2][h], v[sub * 2 + 1][h]);
        row.rmse[h] = acc.rmse;
        row.mae[h] = acc.mae;
        a.patient_mean_rmse[h] += acc.rmse;
        a.patient_mean_mae[h] += acc.mae;
      }
      ++a.patients;
      m.per_patient.push_back(row);
    }
    for (int h = 0; h < 2; ++h)
      if (a.patients > 0) {
        a.patient_mean_rmse[h] /= a.patients;
        a.patient_mean_mae[h] /= a.patients;
      }
  }
  return m;
}

std::string format_forecast_table(const std::vector<MethodAccuracy>& methods) {
  std::string out;
  char buf[400];
  for (int sub = 0; sub < 2; ++sub) {
    out += sub == 0 ? "all windows\n" : "excluding windows that touch straight-line runs > 1 h\n";
    std::snprintf(buf, sizeof buf, "  %-12s %8s | %7s %6s %6s %6s %9s | %7s %6s %6s %6s %9s\n", "method", "windows",
                  "RMSE30", "MAE30", "A%", "A+B%", "pt-RMSE30", "RMSE60", "MAE60", "A%", "A+B%", "pt-RMSE60");
    out += buf;
    for (const auto& m : methods) {
      const SubsetAccuracy& a = sub == 0 ? m.all : m.no_straight;
      std::snprintf(buf, sizeof buf, "  %-12s %8lld | %7.2f %6.2f %6.1f %6.1f %9.2f | %7.2f %6.2f %6.1f %6.1f %9.2f\n",
                    m.method.c_str(), static_cast<long long>(a.pooled[0].n), a.pooled[0].rmse, a.pooled[0].mae,
                    a.pooled[0].clarke_percent[0], a.pooled[0].clarke_a_plus_b(), a.patient_mean_rmse[0],
                    a.pooled[1].rmse, a.pooled[1].mae, a.pooled[1].clarke_percent[0], a.pooled[1].clarke_a_plus_b(),
                    a.patient_mean_rmse[1]);
      out += buf;
    }
  }
  out += "  (pt-RMSE: mean over patients of each patient's RMSE; A%, A+B%: Clarke error grid zones)\n";
  return out;
}

nlohmann::json forecast_json(const std::vector<MethodAccuracy>& methods) {
  nlohmann::json out = nlohmann::json::array();
  auto subset = [](const SubsetAccuracy& a) {
    nlohmann::json j;
    const char* names[2] = {"30min", "60min"};
    for (int h = 0; h < 2; ++h)
      j[names[h]] = {{"windows", a.pooled[h].n},
                     {"rmse", a.pooled[h].rmse},
                     {"mae", a.pooled[h].mae},
                     {"clarke_a", a.pooled[h].clarke_percent[0]},
                     {"clarke_a_plus_b", a.pooled[h].clarke_a_plus_b()},
                     {"patient_mean_rmse", a.patient_mean_rmse[h]},
                     {"patient_mean_mae", a.patient_mean_mae[h]}};
    j["patients"] = a.patients;
    return j;
  };
  for (const auto& m : methods) {
    nlohmann::json pp = nlohmann::json::array();
    for (const auto& r : m.per_patient)
      pp.push_back({{"id", r.id},
                    {"excluding_straight_runs", r.excluding_straight},
                    {"windows", r.n},
                    {"rmse_30", r.rmse[0]},
                    {"rmse_60", r.rmse[1]},
                    {"mae_30", r.mae[0]},
                    {"mae_60", r.mae[1]}});
    out.push_back({{"method", m.method},
                   {"all_windows", subset(m.all)},
                   {"excluding_straight_runs", subset(m.no_straight)},
                   {"per_patient", pp}});
  }
  return out;
}

}  // namespace medai::glucose
