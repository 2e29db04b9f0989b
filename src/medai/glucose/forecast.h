#pragma once
// Glucose forecasting 30 and 60 minutes ahead on CGM windows: the three baselines the issue asks
// for (persistence, linear extrapolation over the last 30 min, ridge regression on the last 24
// readings) and one evaluation used for every method (pooled and per-patient, with and without
// windows touching straight-line runs).
#include <array>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "medai/glucose/cgm_data.h"
#include "medai/metrics/glucose.h"

namespace medai::glucose {

inline constexpr std::array<int, 2> kHorizonSteps{6, 12};  // 30 and 60 min at 5-min sampling
inline constexpr int kMaxHorizon = 12;

using Window = std::pair<int, int>;  // (series index, slot of the last history reading)
// Predicts BG (mg/dL) at both horizons for a batch of windows.
using BatchForecaster =
    std::function<std::vector<std::array<double, 2>>(const std::vector<CgmSeries>&, const std::vector<Window>&)>;

std::array<double, 2> persistence_forecast(const double* history, int n);
// Least-squares line through the last 7 readings (30 min), extrapolated from the last reading's time.
std::array<double, 2> linear_forecast(const double* history, int n);

class RidgeForecaster {
 public:
  // Fits y(t+h) = b + w . x(t-23..t) per horizon on the windows given (intercept not penalised;
  // features centred), lambda in (mg/dL)^2 units.
  static RidgeForecaster fit(const std::vector<CgmSeries>& series, const std::vector<Window>& windows, int history,
                             double lambda = 100.0);
  std::array<double, 2> predict(const double* history) const;
  int history() const { return history_; }
  nlohmann::json to_json() const;
  static RidgeForecaster from_json(const nlohmann::json& j);

 private:
  int history_ = 24;
  std::array<std::vector<double>, 2> w_;
  std::array<double, 2> b_{};
};

struct SubsetAccuracy {
  std::array<metrics::ForecastAccuracy, 2> pooled;  // 30, 60 min
  std::array<double, 2> patient_mean_rmse{}, patient_mean_mae{};
  int patients = 0;
};
struct MethodAccuracy {
  std::string method;
  SubsetAccuracy all, no_straight;  // no_straight: windows touching straight runs > 1 h excluded
  struct PatientRow {
    std::string id;
    bool excluding_straight;
    int64_t n;
    std::array<double, 2> rmse, mae;
  };
  std::vector<PatientRow> per_patient;
};

MethodAccuracy evaluate_forecaster(const std::string& method, const BatchForecaster& f,
                                   const std::vector<CgmSeries>& series, const std::vector<Window>& windows,
                                   int history);
BatchForecaster persistence_batch(int history);
BatchForecaster linear_batch(int history);
BatchForecaster ridge_batch(const RidgeForecaster& r);

std::string format_forecast_table(const std::vector<MethodAccuracy>& methods);
nlohmann::json forecast_json(const std::vector<MethodAccuracy>& methods);

}  // namespace medai::glucose
