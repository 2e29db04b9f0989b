#include "medai/glucose/controller.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "medai/core/error.h"
#include "medai/glucose/insulin.h"

namespace medai::glucose {

namespace {
std::string fmt_range(double lo, double hi) {
  char buf[64];
  if (lo == hi) std::snprintf(buf, sizeof buf, "%g", lo);
  else std::snprintf(buf, sizeof buf, "%g-%g", lo, hi);
  return buf;
}
}  // namespace

double Observation::trend_mgdl_per_min() const {
  const int n_total = static_cast<int>(cgm_history.size());
  const int want = std::max(2, 30 / std::max(1, interval_min) + 1);
  const int n = std::min(n_total, want);
  if (n < 2) return 0;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int i = 0; i < n; ++i) {
    double x = -(n - 1 - i) * static_cast<double>(interval_min), y = cgm_history[n_total - n + i];
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  double den = n * sxx - sx * sx;
  return den == 0 ? 0 : (n * sxy - sx * sy) / den;
}

void validate_settings(const PatientSettings& p) {
  auto check = [](double v, double lo, double hi, const char* field, const char* unit) {
    if (!std::isfinite(v) || v < lo || v > hi)
      fail_invalid(std::string("patient setting '") + field + "' must be " + fmt_range(lo, hi) + " " + unit + ", got " +
                   (std::isfinite(v) ? fmt_range(v, v) : std::string("a non-finite value")));
  };
  if (!(p.basal_u_per_min > 0)) fail_invalid("patient setting 'basal_u_per_h' must be positive");
  check(p.basal_u_per_min * 60, 0.01, 10, "basal_u_per_h", "U/h");
  check(p.carb_ratio_g_per_u, 1, 150, "cr", "g/U");
  check(p.correction_mgdl_per_u, 5, 500, "cf", "mg/dL per U");
  check(p.total_daily_insulin_u, 1, 300, "tdi", "U");
  check(p.target_mgdl, 80, 200, "target", "mg/dL");
}

Dose BasalBolusController::decide(const Observation& obs, const PatientSettings& p) {
  Dose d;
  d.basal_u_per_min = p.basal_u_per_min;
  if (obs.carbs_g > 0) {
    d.bolus_u = obs.carbs_g / p.carb_ratio_g_per_u;
    if (obs.cgm_mgdl > 150) d.bolus_u += (obs.cgm_mgdl - p.target_mgdl) / p.correction_mgdl_per_u;
  }
  return d;
}

Dose PidController::decide(const Observation& obs, const PatientSettings& p) {
  const double kp = g_.kp_scale / p.correction_mgdl_per_u, ki = kp / g_.ti_min, kd = kp * g_.td_min;
  const double e = obs.cgm_mgdl - p.target_mgdl;
  const double de = have_prev_ ? (obs.cgm_mgdl - prev_) / obs.interval_min : 0.0;
  prev_ = obs.cgm_mgdl;
  have_prev_ = true;
  double u = p.basal_u_per_min + kp * e + ki * (integral_ + e * obs.interval_min) + kd * de;
  // Anti-windup: integrate only while the output is not pinned at zero.
  if (u > 0 || e > 0) integral_ += e * obs.interval_min;
  // Bound the integral to what +-100% of basal can express.
  const double lim = p.basal_u_per_min / std::max(ki, 1e-12);
  integral_ = std::clamp(integral_, -lim, lim);
  Dose d;
  d.basal_u_per_min = std::max(0.0, p.basal_u_per_min + kp * e + ki * integral_ + kd * de);
  return d;
}

namespace {
double steady_iob_minutes() {
  static const double v = steady_basal_iob_minutes();
  return v;
}
std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[200];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}
}  // namespace

void SafetyLayer::reset() {
  counts_ = {};
  recent_carbs_.clear();
}

Dose SafetyLayer::apply(const Observation& obs, const PatientSettings& p, Dose d, std::vector<std::string>* fired) {
  ++counts_.decisions;
  if (!std::isfinite(d.basal_u_per_min) || !std::isfinite(d.bolus_u))
    throw Error(ErrorCode::Internal, "controller proposed a non-finite dose");
  d.basal_u_per_min = std::max(0.0, d.basal_u_per_min);
  d.bolus_u = std::max(0.0, d.bolus_u);
  if (obs.carbs_g > 0) recent_carbs_.emplace_back(obs.minute, obs.carbs_g);
  std::erase_if(recent_carbs_, [&](const auto& c) { return obs.minute - c.first > 180; });
  if (!c_.enabled) return d;

  const double predicted = obs.cgm_mgdl + obs.trend_mgdl_per_min() * c_.horizon_min;
  if (obs.cgm_mgdl < c_.suspend_below_mgdl || predicted < c_.predicted_low_mgdl) {
    // A meal being eaten now will raise BG: above the low limit its carbohydrate bolus (no
    // correction) may still be given; everything else is suspended.
    Dose allowed;
    if (obs.cgm_mgdl >= c_.suspend_below_mgdl && obs.carbs_g > 0)
      allowed.bolus_u = std::min(d.bolus_u, obs.carbs_g / p.carb_ratio_g_per_u);
    if (d.units(obs.interval_min) > allowed.units(obs.interval_min) + 1e-12) {
      ++counts_.suspended;
      if (fired)
        fired->push_back(fmt("low predicted: CGM %.0f mg/dL, %.0f-min forecast %.0f mg/dL; insulin suspended",
                             obs.cgm_mgdl, c_.horizon_min, predicted) +
                         (allowed.bolus_u > 0 ? fmt(" except %.2f U for the meal", allowed.bolus_u) : ""));
    }
    return allowed;
  }
  bool capped = false;
  const double max_bolus = c_.max_bolus_u > 0 ? c_.max_bolus_u : 0.3 * p.total_daily_insulin_u;
  if (d.bolus_u > max_bolus) {
    if (fired) fired->push_back(fmt("maximum dose: bolus %.2f U cut to %.2f U", d.bolus_u, max_bolus));
    d.bolus_u = max_bolus;
    capped = true;
  }
  const double max_basal = c_.max_basal_multiple * p.basal_u_per_min;
  if (d.basal_u_per_min > max_basal) {
    if (fired)
      fired->push_back(fmt("maximum dose: basal %.2f U/h cut to %.2f U/h", d.basal_u_per_min * 60, max_basal * 60));
    d.basal_u_per_min = max_basal;
    capped = true;
  }
  if (capped) ++counts_.dose_capped;

  double meal_u = 0;
  for (const auto& c : recent_carbs_) meal_u += c.second / p.carb_ratio_g_per_u;
  const double extra = c_.max_extra_iob_u > 0 ? c_.max_extra_iob_u : 0.1 * p.total_daily_insulin_u;
  const double limit = p.basal_u_per_min * steady_iob_minutes() + meal_u + extra;
  const double room = std::max(0.0, limit - obs.iob_u);
  const double want = d.units(obs.interval_min);
  if (want > room + 1e-9) {
    ++counts_.iob_limited;
    if (fired)
      fired->push_back(fmt("insulin on board: %.2f U on board, limit %.2f U; dose %.2f U cut", obs.iob_u, limit, want) +
                       fmt(" to %.2f U", room));
    double cut = want - room;
    double from_bolus = std::min(cut, d.bolus_u);
    d.bolus_u -= from_bolus;
    cut -= from_bolus;
    d.basal_u_per_min = std::max(0.0, d.basal_u_per_min - cut / obs.interval_min);
  }
  return d;
}

std::unique_ptr<Controller> make_standard_controller(const std::string& name) {
  if (name == "basal-bolus") return std::make_unique<BasalBolusController>();
  if (name == "pid") return std::make_unique<PidController>();
  fail_invalid("unknown controller '" + name + "' (known: basal-bolus, pid, ppo:RUN_FOLDER)");
}

}  // namespace medai::glucose
