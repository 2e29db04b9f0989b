#include "medai/glucose/environment.h"

#include <algorithm>
#include <sstream>

#include "medai/core/error.h"

namespace medai::glucose {

PatientSettings VirtualPatient::settings() const {
  PatientSettings s;
  s.basal_u_per_min = params.basal_u_per_min();
  s.carb_ratio_g_per_u = therapy.carb_ratio_g_per_u;
  s.correction_mgdl_per_u = therapy.correction_mgdl_per_u;
  s.total_daily_insulin_u = therapy.total_daily_insulin_u;
  return s;
}

VirtualPatient load_virtual_patient(const std::string& name, const std::filesystem::path& params_csv,
                                    const std::filesystem::path& quest_csv) {
  VirtualPatient v;
  if (params_csv.empty()) {
    v.params = default_patient();
    if (name != v.params.name)
      fail_invalid("patient '" + name + "': only " + v.params.name + " is built in; pass --params vpatient_params.csv");
  } else {
    v.params = load_patient(params_csv, name);
  }
  if (quest_csv.empty()) {
    v.therapy = default_therapy();
    if (name != v.therapy.name)
      fail_invalid("patient '" + name + "': no built-in carb ratio / correction factor; pass --quest Quest.csv");
  } else {
    v.therapy = load_therapy(quest_csv, name);
  }
  return v;
}

std::vector<std::string> expand_patient_names(const std::string& spec, const std::filesystem::path& params_csv) {
  std::vector<std::string> known =
      params_csv.empty() ? std::vector<std::string>{default_patient().name} : patient_names(params_csv);
  std::vector<std::string> out;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    bool group = item == "all" || item == "adult" || item == "adolescent" || item == "child";
    if (group) {
      for (const auto& n : known)
        if (item == "all" || n.rfind(item + "#", 0) == 0) out.push_back(n);
    } else if (std::find(known.begin(), known.end(), item) != known.end()) {
      out.push_back(item);
    } else {
      fail_invalid("unknown patient '" + item + "' (groups: adult, adolescent, child, all" +
                   (params_csv.empty() ? "; only adolescent#001 is built in, pass --params for the others)" : ")"));
    }
  }
  if (out.empty()) fail_invalid("--patients '" + spec + "' names no patient");
  return out;
}

GlucoseEnv::GlucoseEnv(VirtualPatient patient, Scenario scenario, EnvOptions options)
    : patient_(std::move(patient)), settings_(patient_.settings()), opt_(std::move(options)), model_(patient_.params) {
  if (opt_.pump) pump_.emplace(*opt_.pump);
  interval_ = opt_.sensor ? static_cast<int>(opt_.sensor->sample_time_min) : 5;
  reset(std::move(scenario), opt_.seed);
}

void GlucoseEnv::reset(Scenario scenario, uint64_t seed) {
  scenario_ = std::move(scenario);
  model_ = PatientModel(patient_.params);
  if (opt_.sensor) sensor_.emplace(*opt_.sensor, seed);
  iob_.clear();
  minute_ = 0;
  trace_ = {};
  obs_ = {};
  obs_.interval_min = interval_;
  // The insulin of the steady state is already on board at the start.
  for (int m = -300; m < 0; m += interval_) iob_.add(m, settings_.basal_u_per_min * interval_);
  sense();
}

void GlucoseEnv::sense() {
  const double bg = model_.bg_mgdl();
  const double cgm = sensor_ ? sensor_->measure(bg) : bg;
  obs_.minute = minute_;
  obs_.minute_of_day = minute_ % 1440;
  obs_.cgm_mgdl = cgm;
  obs_.cgm_history.push_back(cgm);
  if (static_cast<int>(obs_.cgm_history.size()) > opt_.history_len) obs_.cgm_history.erase(obs_.cgm_history.begin());
  obs_.iob_u = iob_.at(minute_);
  double carbs = 0;  // meals starting during the coming interval are announced now
  for (int m = minute_; m < minute_ + interval_; ++m) carbs += scenario_.carbs_at(m);
  obs_.carbs_g = carbs;
}

void GlucoseEnv::step(const Dose& dose) {
  double basal = std::max(0.0, dose.basal_u_per_min), bolus = std::max(0.0, dose.bolus_u);
  if (pump_) {
    basal = pump_->basal(basal);
    bolus = pump_->bolus(bolus);  // delivered within the first minute, as a rate in U/min
  }
  step_bg_.clear();
  iob_.add(minute_, basal * interval_ + bolus);
  for (int k = 0; k < interval_; ++k) {
    const double carbs = scenario_.carbs_at(minute_);
    const double rate = basal + (k == 0 ? bolus : 0.0);
    model_.step(carbs, rate);
    ++minute_;
    step_bg_.push_back(model_.bg_mgdl());
    if (recording_) {
      trace_.minute.push_back(minute_);
      trace_.bg.push_back(model_.bg_mgdl());
      trace_.cgm.push_back(obs_.cgm_mgdl);
      trace_.insulin_u_per_min.push_back(rate);
      trace_.carbs_g.push_back(carbs);
      trace_.cho_g_per_min.push_back(model_.carbs_eaten_last_minute());
      trace_.state.push_back(model_.state());
    }
  }
  sense();
}

EpisodeResult run_episode(GlucoseEnv& env, Controller& controller, SafetyLayer& safety, int minutes) {
  controller.reset();
  safety.reset();
  env.record(true);
  std::vector<double> bg;
  EpisodeResult r;
  while (env.minute() < minutes) {
    const Observation& obs = env.observe();
    Dose d = safety.apply(obs, env.settings(), controller.decide(obs, env.settings()));
    r.insulin_total_u += d.units(env.interval_min());
    r.carbs_total_g += obs.carbs_g;
    env.step(d);
    for (double g : env.last_step_bg()) {
      if (g < 10) ++r.minutes_below_10;
      bg.push_back(std::max(g, 10.0));
    }
  }
  r.trace = env.trace();
  r.summary = metrics::glycemic_summary(bg);
  r.safety = safety.counts();
  return r;
}

}  // namespace medai::glucose
