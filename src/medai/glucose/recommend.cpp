#include "medai/glucose/recommend.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "medai/core/error.h"
#include "medai/glucose/cgm_data.h"
#include "medai/glucose/forecast.h"
#include "medai/glucose/insulin.h"
#include "medai/io/csv.h"

namespace medai::glucose {

namespace {
std::string f1(const char* fmt, double a, double b = 0, double c = 0, double d = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a, b, c, d);
  return buf;
}

double field_number(const io::CsvTable& t, size_t r, size_t c, bool allow_empty, bool& empty) {
  const std::string& s = t.rows[r][c];
  const std::string where = t.source.string() + ": line " + std::to_string(r + 2) + ", field '" + t.header[c] + "'";
  empty = s.empty();
  if (empty) {
    if (!allow_empty) fail_invalid(where + ": empty");
    return 0;
  }
  const auto v = io::parse_number(s);
  if (!v) fail_invalid(where + ": '" + s + "' is not a number");
  if (!std::isfinite(*v)) fail_invalid(where + ": '" + s + "' is not a finite number");
  return *v;
}

// A history is recent data from one person: rows more than a day apart, or dated beyond the
// clock (with a month's slack for time zones and clock drift), are refused as mistyped.
constexpr int64_t kMaxHistoryGapMinutes = 24 * 60;
constexpr int64_t kFutureToleranceMinutes = 31LL * 24 * 60;

History from_table(const io::CsvTable& t) {
  const int64_t now_minutes =
      std::chrono::duration_cast<std::chrono::minutes>(std::chrono::system_clock::now().time_since_epoch()).count();
  const size_t tc = t.column("timestamp"), gc = t.column("cgm_mgdl");
  const auto ic = t.find_column("insulin_u"), cc = t.find_column("carbs_g");
  History h;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const std::string where = t.source.string() + ": line " + std::to_string(r + 2);
    int64_t m = 0;
    try {
      m = parse_timestamp_minutes(t.rows[r][tc]);
    } catch (const Error& e) {
      fail_invalid(where + ", field 'timestamp': " + e.what());
    }
    if (!h.minute.empty() && m < h.minute.back()) fail_invalid(where + ", field 'timestamp': time goes backwards");
    if (!h.minute.empty() && m - h.minute.back() > kMaxHistoryGapMinutes)
      fail_invalid(where + ", field 'timestamp': time jumps " + std::to_string((m - h.minute.back()) / 1440) +
                   " days forward from the previous row (a mistyped date?)");
    if (m > now_minutes + kFutureToleranceMinutes)
      fail_invalid(where + ", field 'timestamp': " + t.rows[r][tc] + " lies in the future");
    bool empty = false;
    double g = field_number(t, r, gc, true, empty);
    if (!empty && (g < 20 || g > 600))
      fail_invalid(where + ", field 'cgm_mgdl': " + t.rows[r][gc] + " mg/dL is outside the physiological range 20-600");
    bool e2 = false;
    double ins = ic ? field_number(t, r, *ic, true, e2) : 0.0;
    if (ins < 0) fail_invalid(where + ", field 'insulin_u': must not be negative, got " + t.rows[r][*ic]);
    double carbs = cc ? field_number(t, r, *cc, true, e2) : 0.0;
    if (carbs < 0) fail_invalid(where + ", field 'carbs_g': must not be negative, got " + t.rows[r][*cc]);
    if (ins > 100) fail_invalid(where + ", field 'insulin_u': " + t.rows[r][*ic] + " U in one entry is implausible");
    h.minute.push_back(m);
    h.cgm.push_back(empty ? std::nullopt : std::optional<double>(g));
    h.insulin_u.push_back(ins);
    h.carbs_g.push_back(carbs);
  }
  if (h.minute.empty()) fail_invalid(t.source.string() + ": no rows");
  return h;
}
}  // namespace

PatientSettings settings_from_json(const nlohmann::json& j) {
  if (!j.is_object()) fail_invalid("'settings' must be an object with basal_u_per_h, cr, cf and tdi (target optional)");
  auto number = [&j](const char* field, double fallback) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_number()) fail_invalid(std::string("patient setting '") + field + "' must be a number");
    return it->get<double>();
  };
  PatientSettings p;
  p.basal_u_per_min = number("basal_u_per_h", 0.0) / 60;
  p.carb_ratio_g_per_u = number("cr", 0.0);
  p.correction_mgdl_per_u = number("cf", 0.0);
  p.total_daily_insulin_u = number("tdi", 0.0);
  p.target_mgdl = number("target", 140.0);
  validate_settings(p);
  return p;
}

History read_history(const std::filesystem::path& csv) { return from_table(io::read_csv(csv)); }
History parse_history(const std::string& text, const std::string& name) {
  return from_table(io::parse_csv(text, name));
}

Recommendation recommend(const History& h, const PatientSettings& p, double carbs_now, const ForecastFn& forecaster,
                         const SafetyConfig& safety_config, bool history_includes_basal) {
  validate_settings(p);
  if (!std::isfinite(carbs_now) || carbs_now < 0 || carbs_now > 300)
    fail_invalid("carbs about to be eaten must be 0-300 g");
  // Readings on a 5-minute grid ending at the last reading.
  int last_idx = -1;
  for (int i = static_cast<int>(h.minute.size()) - 1; i >= 0 && last_idx < 0; --i)
    if (h.cgm[i]) last_idx = i;
  if (last_idx < 0) fail_invalid("the history has no CGM reading");
  const int64_t now = h.minute.back(), t_last = h.minute[last_idx];
  if (now - t_last > 15)
    fail_invalid("the newest CGM reading is " + std::to_string(now - t_last) +
                 " min older than the history's end; "
                 "no recommendation without a current reading");
  std::vector<double> grid;  // newest last; stops at the first gap
  {
    int64_t want = t_last;
    for (int i = last_idx; i >= 0; --i) {
      if (!h.cgm[i]) continue;
      const int64_t d = want - h.minute[i];
      if (d < -2) continue;  // second reading within the same slot
      if (d > 2) break;      // gap: stop
      grid.push_back(*h.cgm[i]);
      want -= 5;
    }
    std::reverse(grid.begin(), grid.end());
  }
  Recommendation r;
  Observation obs;
  obs.minute = static_cast<double>(now);
  obs.minute_of_day = static_cast<double>(((now % 1440) + 1440) % 1440);
  obs.cgm_mgdl = grid.back();
  obs.cgm_history = grid;
  obs.interval_min = 5;
  InsulinOnBoard iob;
  for (size_t i = 0; i < h.minute.size(); ++i)
    if (h.insulin_u[i] > 0 && now - h.minute[i] < 300) iob.add(static_cast<double>(h.minute[i]), h.insulin_u[i]);
  obs.iob_u = iob.at(static_cast<double>(now));
  if (!history_includes_basal) obs.iob_u += p.basal_u_per_min * steady_basal_iob_minutes();
  double carbs = carbs_now;
  for (size_t i = 0; i < h.minute.size(); ++i)
    if (now - h.minute[i] < 5) carbs += h.carbs_g[i];
  obs.carbs_g = carbs;

  r.cgm_mgdl = obs.cgm_mgdl;
  r.trend_mgdl_per_min = obs.trend_mgdl_per_min();
  r.iob_u = obs.iob_u;
  r.carbs_now_g = carbs;
  std::optional<std::array<double, 2>> fc;
  if (forecaster) {
    std::vector<double> ins(grid.size(), 0.0), cho(grid.size(), 0.0);  // per reading slot, oldest first
    for (size_t i = 0; i < h.minute.size(); ++i) {
      const int64_t back = (t_last - h.minute[i] + 2) / 5;  // slots before the newest reading
      if (h.minute[i] > t_last + 2 || back >= static_cast<int64_t>(grid.size())) continue;
      const size_t slot = grid.size() - 1 - static_cast<size_t>(back);
      ins[slot] += h.insulin_u[i];
      cho[slot] += h.carbs_g[i];
    }
    fc = forecaster(grid, t_last, ins, cho);
  }
  if (fc) {
    r.forecast = *fc;
    r.forecast_method = "lstm";
  } else if (grid.size() >= 2) {
    r.forecast = linear_forecast(grid.data(), static_cast<int>(grid.size()));
    r.forecast_method = "linear trend (last 30 min)";
  } else {
    r.forecast = {grid.back(), grid.back()};
    r.forecast_method = "persistence (a single reading)";
  }
  for (double& v : r.forecast) v = std::clamp(v, 20.0, 600.0);

  const char* dir = r.trend_mgdl_per_min > 1 ? "rising" : r.trend_mgdl_per_min < -1 ? "falling" : "steady";
  r.reasons.push_back(f1("CGM %.0f mg/dL, ", r.cgm_mgdl) + dir +
                      f1(" (%+.1f mg/dL/min over the last 30 min)", r.trend_mgdl_per_min));
  r.reasons.push_back(f1("forecast %.0f mg/dL in 30 min, %.0f in 60 min", r.forecast[0], r.forecast[1]) + " (" +
                      r.forecast_method + ")");
  r.reasons.push_back(f1("insulin on board %.2f U (5-h exponential action curve", r.iob_u) +
                      (history_includes_basal ? ")" : "; programmed basal assumed delivered)"));

  // The bolus-calculator rule clinicians use: carbs/CR + (BG - target)/CF above 150 mg/dL, less
  // the insulin on board beyond what steady basal delivery keeps there.
  Dose d;
  d.basal_u_per_min = p.basal_u_per_min;
  double meal = carbs > 0 ? carbs / p.carb_ratio_g_per_u : 0.0;
  double correction = 0;
  const double basal_iob = p.basal_u_per_min * steady_basal_iob_minutes();  // IOB of steady basal delivery
  if (r.cgm_mgdl > 150) {
    correction = (r.cgm_mgdl - p.target_mgdl) / p.correction_mgdl_per_u;
    const double extra_iob = std::max(0.0, r.iob_u - basal_iob);
    correction = std::max(0.0, correction - extra_iob);
    r.reasons.push_back(f1("correction (%.0f - %.0f) / CF %.0f = %.2f U", r.cgm_mgdl, p.target_mgdl,
                           p.correction_mgdl_per_u, (r.cgm_mgdl - p.target_mgdl) / p.correction_mgdl_per_u) +
                        f1(", less %.2f U active insulin beyond basal -> %.2f U", extra_iob, correction));
  }
  if (meal > 0) r.reasons.push_back(f1("meal %.0f g / CR %.0f g/U = %.2f U", carbs, p.carb_ratio_g_per_u, meal));
  d.bolus_u = meal + correction;
  r.proposed = d;
  SafetyLayer safety(safety_config);
  r.dose = safety.apply(obs, p, d, &r.safety_rules_fired);
  if (r.safety_rules_fired.empty()) r.reasons.push_back("no safety rule fired");
  for (const auto& s : r.safety_rules_fired) r.reasons.push_back("safety: " + s);
  return r;
}

nlohmann::json Recommendation::to_json() const {
  return {{"recommendation", {{"basal_u_per_h", dose.basal_u_per_min * 60}, {"bolus_u", dose.bolus_u}}},
          {"before_safety", {{"basal_u_per_h", proposed.basal_u_per_min * 60}, {"bolus_u", proposed.bolus_u}}},
          {"cgm_mgdl", cgm_mgdl},
          {"trend_mgdl_per_min", trend_mgdl_per_min},
          {"forecast_mgdl", {{"30min", forecast[0]}, {"60min", forecast[1]}}},
          {"forecast_method", forecast_method},
          {"insulin_on_board_u", iob_u},
          {"carbs_g", carbs_now_g},
          {"safety_rules_fired", safety_rules_fired},
          {"reasons", reasons},
          {"disclaimer", "Decision support for a clinician; not a dosing device."}};
}

std::string Recommendation::to_text() const {
  std::string s = f1("Recommendation: basal %.2f U/h, bolus %.2f U now\n", dose.basal_u_per_min * 60, dose.bolus_u);
  for (const auto& r : reasons) s += "  - " + r + "\n";
  s += "Decision support for a clinician; not a dosing device.\n";
  return s;
}

}  // namespace medai::glucose
