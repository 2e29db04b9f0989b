#include "medai/glucose/evaluation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "medai/core/atomic_file.h"
#include "medai/core/progress.h"
#include "medai/io/plot.h"

namespace medai::glucose {

namespace {
double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  double pos = q * (v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos)), hi = static_cast<size_t>(std::ceil(pos));
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}
}  // namespace

ControllerResult evaluate_controller(const std::string& name, const ControllerFactory& factory,
                                     const std::vector<VirtualPatient>& patients, const EvaluationOptions& opt,
                                     bool progress) {
  ControllerResult r;
  r.controller = name;
  core::ProgressBar bar("evaluate " + name, static_cast<int64_t>(patients.size()), "patients", progress);
  for (size_t i = 0; i < patients.size(); ++i) {
    const uint64_t seed = opt.seed + 7919 * i;
    EnvOptions eo = opt.env;
    eo.seed = seed;
    GlucoseEnv env(patients[i], parse_scenario(opt.scenario, seed, opt.days), eo);
    auto controller = factory(patients[i]);
    SafetyLayer safety(opt.safety);
    r.patients.push_back({patients[i].params.name, run_episode(env, *controller, safety, opt.days * 1440)});
    bar.advance();
  }
  bar.finish();
  std::vector<double> tir;
  const double n = static_cast<double>(r.patients.size());
  for (const auto& p : r.patients) {
    const auto& s = p.episode.summary;
    tir.push_back(s.tir_70_180);
    r.tbr70_mean += s.tbr_70 / n;
    r.tbr54_mean += s.tbr_54 / n;
    r.tar180_mean += s.tar_180 / n;
    r.tar250_mean += s.tar_250 / n;
    r.mean_bg += s.mean / n;
    r.cv_mean += s.cv_percent / n;
    r.lbgi_mean += s.lbgi / n;
    r.hbgi_mean += s.hbgi / n;
    r.risk_mean += s.risk_index / n;
    if (s.tbr_54 > 0) ++r.patients_with_any_below_54;
    if (p.episode.minutes_below_10 > 0) ++r.patients_below_10;
    r.safety_interventions += p.episode.safety.interventions();
    r.decisions += p.episode.safety.decisions;
  }
  r.tir_median = quantile(tir, 0.5);
  r.tir_q1 = quantile(tir, 0.25);
  r.tir_q3 = quantile(tir, 0.75);
  return r;
}

std::string format_results_table(const std::vector<ControllerResult>& results) {
  std::string out;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%-22s %8s %15s %7s %7s %7s %7s %7s %6s %6s %6s %6s %9s\n", "controller", "patients",
                "TIR median[IQR]", "<70%", "<54%", ">180%", ">250%", "meanBG", "CV%", "LBGI", "HBGI", "RI", "safety");
  out += buf;
  for (const auto& r : results) {
    char tir[64];
    std::snprintf(tir, sizeof tir, "%.1f [%.1f-%.1f]", r.tir_median, r.tir_q1, r.tir_q3);
    std::snprintf(buf, sizeof buf, "%-22s %8zu %15s %7.2f %7.2f %7.1f %7.1f %7.1f %6.1f %6.2f %6.2f %6.2f %9ld\n",
                  r.controller.c_str(), r.patients.size(), tir, r.tbr70_mean, r.tbr54_mean, r.tar180_mean,
                  r.tar250_mean, r.mean_bg, r.cv_mean, r.lbgi_mean, r.hbgi_mean, r.risk_mean, r.safety_interventions);
    out += buf;
  }
  for (const auto& r : results)
    if (r.patients_below_10 > 0)
      out += "warning: with " + r.controller + ", BG fell below 10 mg/dL in " + std::to_string(r.patients_below_10) +
             " patient(s) (counted as 10 in the metrics; see minutes_below_10 in results.csv)\n";
  return out;
}

void write_results_csv(const std::filesystem::path& path, const std::vector<ControllerResult>& results) {
  std::string csv =
      "controller,patient,tir_70_180,tbr_70,tbr_54,tar_180,tar_250,mean_bg,sd,cv_percent,gmi,lbgi,hbgi,risk_index,"
      "insulin_u_per_day,carbs_g_per_day,safety_decisions,safety_suspended,safety_dose_capped,safety_iob_limited,"
      "minutes_below_10\n";
  char buf[512];
  for (const auto& r : results)
    for (const auto& p : r.patients) {
      const auto& s = p.episode.summary;
      const double days = p.episode.trace.minute.empty() ? 1 : p.episode.trace.minute.back() / 1440.0;
      std::snprintf(buf, sizeof buf,
                    "%s,%s,%.3f,%.3f,%.3f,%.3f,%.3f,%.2f,%.2f,%.2f,%.2f,%.3f,%.3f,%.3f,%.2f,%.1f,%ld,%ld,%ld,%ld,%ld\n",
                    r.controller.c_str(), p.patient.c_str(), s.tir_70_180, s.tbr_70, s.tbr_54, s.tar_180, s.tar_250,
                    s.mean, s.sd, s.cv_percent, s.gmi_percent, s.lbgi, s.hbgi, s.risk_index,
                    p.episode.insulin_total_u / days, p.episode.carbs_total_g / days, p.episode.safety.decisions,
                    p.episode.safety.suspended, p.episode.safety.dose_capped, p.episode.safety.iob_limited,
                    p.episode.minutes_below_10);
      csv += buf;
    }
  core::write_file_atomic(path, csv);
}

void write_trace_csv(const std::filesystem::path& path, const Trace& t) {
  std::string csv = "minute,bg_mgdl,cgm_mgdl,insulin_u_per_min,carbs_g\n";
  char buf[160];
  for (size_t i = 0; i < t.minute.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%.0f,%.4f,%.4f,%.6f,%.1f\n", t.minute[i], t.bg[i], t.cgm[i], t.insulin_u_per_min[i],
                  t.carbs_g[i]);
    csv += buf;
  }
  core::write_file_atomic(path, csv);
}

void save_trace_plot(const std::filesystem::path& path, const Trace& t, const std::string& title, int minutes) {
  io::Series bg{"BG", {}, {}, {31, 119, 180}}, cgm{"CGM", {}, {}, {160, 160, 160}};
  io::Series ins{"insulin U/h", {}, {}, {214, 39, 40}}, meals{"carbs g", {}, {}, {255, 127, 14}};
  for (size_t i = 0; i < t.minute.size() && t.minute[i] <= minutes; ++i) {
    const double h = t.minute[i] / 60.0;
    bg.x.push_back(h);
    bg.y.push_back(t.bg[i]);
    cgm.x.push_back(h);
    cgm.y.push_back(t.cgm[i]);
    ins.x.push_back(h);
    ins.y.push_back(std::min(t.insulin_u_per_min[i] * 60, 30.0));
    if (t.carbs_g[i] > 0) {
      meals.x.push_back(h);
      meals.y.push_back(t.carbs_g[i]);
    }
  }
  io::PlotPanel p1{title, "hours", "BG mg/dL", std::nullopt, std::pair<double, double>{40, 400}, false, {}};
  p1.y_bands = {{70, 180}};
  p1.series = {cgm, bg};
  io::PlotPanel p2{"insulin (rate, U/h; boluses clipped at 30)", "hours", "U/h", std::nullopt, std::nullopt, false, {}};
  p2.series = {ins};
  io::PlotPanel p3{"meals", "hours", "carbs g", std::nullopt, std::nullopt, false, {}};
  p3.series = {meals};
  p3.bars = true;
  if (!bg.x.empty()) p2.x_range = p3.x_range = p1.x_range = std::pair<double, double>{0.0, bg.x.back()};
  double ins_max = 1, carbs_max = 10;
  for (double v : ins.y) ins_max = std::max(ins_max, v);
  for (double v : meals.y) carbs_max = std::max(carbs_max, v);
  p2.y_range = std::pair<double, double>{0.0, ins_max * 1.05};
  p3.y_range = std::pair<double, double>{0.0, carbs_max * 1.1};
  io::save_plot_stacked(path, {p1, p2, p3}, 960, {380, 200, 180});
}

nlohmann::json results_json(const std::vector<ControllerResult>& results) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : results)
    j.push_back({{"controller", r.controller},
                 {"patients", r.patients.size()},
                 {"tir_median", r.tir_median},
                 {"tir_q1", r.tir_q1},
                 {"tir_q3", r.tir_q3},
                 {"tbr70_mean", r.tbr70_mean},
                 {"tbr54_mean", r.tbr54_mean},
                 {"tar180_mean", r.tar180_mean},
                 {"tar250_mean", r.tar250_mean},
                 {"mean_bg", r.mean_bg},
                 {"risk_index_mean", r.risk_mean},
                 {"patients_with_time_below_54", r.patients_with_any_below_54},
                 {"patients_below_10", r.patients_below_10},
                 {"safety_interventions", r.safety_interventions},
                 {"decisions", r.decisions}});
  return j;
}

}  // namespace medai::glucose
