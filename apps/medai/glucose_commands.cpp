// medai glucose simulate | evaluate | recommend | train-forecaster | evaluate-forecaster | train-ppo
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "glucose_support.h"
#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/glucose/evaluation.h"
#include "medai/glucose/schedule.h"

namespace medai::app {

namespace fs = std::filesystem;

void add_patient_options(CLI::App* cmd, PatientSources& s) {
  cmd->add_option("--params", s.params, "simglucose vpatient_params.csv (default: the built-in adolescent#001)");
  cmd->add_option("--quest", s.quest, "simglucose Quest.csv: carb ratio and correction factor per patient");
  cmd->add_option("--sensor", s.sensor, "CGM model by name, e.g. Dexcom (default: none, CGM = BG every 5 min)");
  cmd->add_option("--sensor-params", s.sensor_params, "simglucose sensor_params.csv (default: built-in Dexcom)");
  cmd->add_option("--pump", s.pump, "insulin pump by name, e.g. Insulet (default: none, exact delivery)");
  cmd->add_option("--pump-params", s.pump_params, "simglucose pump_params.csv (default: built-in Insulet)");
  cmd->add_flag("--no-safety", s.no_safety, "turn the safety layer off (for comparisons only)");
}

glucose::EnvOptions env_options(const PatientSources& s) {
  glucose::EnvOptions e;
  if (!s.sensor.empty()) {
    e.sensor = s.sensor_params.empty() ? glucose::default_sensor() : glucose::load_sensor(s.sensor_params, s.sensor);
    if (s.sensor_params.empty() && s.sensor != e.sensor->name)
      fail_invalid("--sensor " + s.sensor + ": only Dexcom is built in; pass --sensor-params sensor_params.csv");
  }
  if (!s.pump.empty()) {
    e.pump = s.pump_params.empty() ? glucose::default_pump() : glucose::load_pump(s.pump_params, s.pump);
    if (s.pump_params.empty() && s.pump != e.pump->name)
      fail_invalid("--pump " + s.pump + ": only Insulet is built in; pass --pump-params pump_params.csv");
  }
  return e;
}

namespace {

void write_simulation_csv(const fs::path& out, const glucose::Trace& t, const glucose::PatientParams& p) {
  std::string csv = "minute,bg_mgdl,cho_g_per_min,insulin_u_per_min,cgm_mgdl,carbs_announced_g";
  for (int i = 1; i <= glucose::PatientModel::kStates; ++i) csv += ",x" + std::to_string(i);
  csv += "\n";
  char buf[96];
  std::snprintf(buf, sizeof buf, "0,%.6f,0.0000,0.000000,,0", p.x0[12] / p.Vg);
  csv += buf;
  for (double x : p.x0) {
    std::snprintf(buf, sizeof buf, ",%.9g", x);
    csv += buf;
  }
  csv += "\n";
  for (size_t i = 0; i < t.minute.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%.0f,%.6f,%.4f,%.6f,%.4f,%.1f", t.minute[i], t.bg[i], t.cho_g_per_min[i],
                  t.insulin_u_per_min[i], t.cgm[i], t.carbs_g[i]);
    csv += buf;
    for (double x : t.state[i]) {
      std::snprintf(buf, sizeof buf, ",%.9g", x);
      csv += buf;
    }
    csv += "\n";
  }
  core::write_file_atomic(out, csv);
}

void add_simulate_command(CLI::App* glucose, GlobalOptions& g) {
  auto* sim = glucose->add_subcommand("simulate", "simulate a virtual patient minute by minute");
  struct SimOpts {
    std::string patient = "adolescent#001", controller, scenario;
    PatientSources src;
    fs::path inputs, out, plot;
    int minutes = 24 * 60;
    uint64_t seed = 1;
  };
  auto o = std::make_shared<SimOpts>();
  sim->add_option("--patient", o->patient, "virtual patient name, e.g. adult#001")->capture_default_str();
  add_patient_options(sim, o->src);
  auto* in_opt = sim->add_option("--inputs", o->inputs, "replay a schedule CSV minute,carbs_g,insulin_u_per_min");
  auto* ctl_opt =
      sim->add_option("--controller", o->controller, "basal-bolus | pid | ppo:RUN_FOLDER decides the insulin");
  sim->add_option("--scenario", o->scenario,
                  "meals for --controller: 'random' (seeded, simglucose's statistics), a CSV minute,carbs_g, "
                  "or a daily list like '07:00 45, 12:00 70, 18:00 80'")
      ->default_str("random");
  sim->add_option("--seed", o->seed, "seed of the random scenario and sensor noise")->capture_default_str();
  sim->add_option("--minutes", o->minutes, "minutes to simulate")->capture_default_str();
  sim->add_option("--out", o->out, "output CSV: minute,bg_mgdl,cho_g_per_min,insulin_u_per_min,... and x1..x13")
      ->required();
  sim->add_option("--plot", o->plot, "also save a trace plot (PNG): BG with the 70-180 band, insulin, meals");
  in_opt->excludes(ctl_opt);
  sim->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    if (o->minutes <= 0) fail_invalid("--minutes must be positive");
    if (o->controller.empty() && o->inputs.empty()) fail_invalid("give --inputs SCHEDULE.csv or --controller NAME");
    if (!o->inputs.empty()) {
      if (!o->scenario.empty()) fail_invalid("--scenario goes with --controller; --inputs already lists the meals");
      glucose::PatientParams p =
          o->src.params.empty() ? glucose::default_patient() : glucose::load_patient(o->src.params, o->patient);
      if (o->src.params.empty() && o->patient != p.name)
        fail_invalid("--patient " + o->patient + ": only " + p.name +
                     " is built in; pass --params vpatient_params.csv");
      auto schedule = glucose::read_schedule(o->inputs);
      glucose::PatientModel model(p);
      glucose::simulate_to_csv(model, schedule, o->minutes, o->out);
      std::printf("%s: %d minutes simulated, final BG %.2f mg/dL -> %s\n", p.name.c_str(), o->minutes, model.bg_mgdl(),
                  o->out.string().c_str());
      return;
    }
    auto patient = glucose::load_virtual_patient(o->patient, o->src.params, o->src.quest);
    auto env_opt = env_options(o->src);
    env_opt.seed = o->seed;
    const int days = (o->minutes + 1439) / 1440;
    glucose::GlucoseEnv env(
        patient, glucose::parse_scenario(o->scenario.empty() ? "random" : o->scenario, o->seed, days), env_opt);
    auto controller = make_controller(o->controller, patient);
    glucose::SafetyConfig sc;
    sc.enabled = !o->src.no_safety;
    glucose::SafetyLayer safety(sc);
    auto r = glucose::run_episode(env, *controller, safety, o->minutes);
    write_simulation_csv(o->out, r.trace, patient.params);
    if (!o->plot.empty())
      glucose::save_trace_plot(o->plot, r.trace, patient.params.name + " - " + o->controller, o->minutes);
    std::printf(
        "%s with %s: %d minutes, TIR %.1f%%, <70 %.2f%%, <54 %.2f%%, mean BG %.1f mg/dL, %.1f U insulin, "
        "safety interventions %ld -> %s\n",
        patient.params.name.c_str(), o->controller.c_str(), o->minutes, r.summary.tir_70_180, r.summary.tbr_70,
        r.summary.tbr_54, r.summary.mean, r.insulin_total_u, r.safety.interventions(), o->out.string().c_str());
    if (r.minutes_below_10 > 0)
      std::printf(
          "warning: BG was below 10 mg/dL for %ld minutes (a simulated catastrophe; counted as 10 in the metrics)\n",
          r.minutes_below_10);
  });
}

void add_evaluate_command(CLI::App* glucose, GlobalOptions& g) {
  auto* ev = glucose->add_subcommand("evaluate", "compare controllers on virtual patients over seeded random days");
  struct EvalOpts {
    std::string controllers = "basal-bolus,pid", patients = "adolescent#001", scenario = "random";
    PatientSources src;
    int days = 10, plot_days = 2;
    uint64_t seed = 1;
    fs::path out;
    bool json = false;
  };
  auto e = std::make_shared<EvalOpts>();
  ev->add_option("--controller,--controllers", e->controllers, "comma-separated: basal-bolus, pid, ppo:RUN_FOLDER")
      ->capture_default_str();
  ev->add_option("--patients", e->patients, "names, or a group: adult, adolescent, child, all")->capture_default_str();
  add_patient_options(ev, e->src);
  ev->add_option("--days", e->days, "days per patient")->capture_default_str();
  ev->add_option("--seed", e->seed, "scenario/sensor seed (PPO trains on other seeds)")->capture_default_str();
  ev->add_option("--scenario", e->scenario, "'random', a CSV minute,carbs_g or a daily list")->capture_default_str();
  ev->add_option("--out", e->out, "folder for results.csv, traces and plots (PNG)");
  ev->add_option("--plot-days", e->plot_days, "days shown in each trace plot")->capture_default_str();
  ev->add_flag("--json", e->json, "print the summary as JSON");
  ev->callback([&g, e] {
    core::init_runtime({g.threads, g.verbose, g.quiet || e->json});
    if (e->days <= 0) fail_invalid("--days must be positive");
    std::vector<glucose::VirtualPatient> patients;
    for (const auto& n : glucose::expand_patient_names(e->patients, e->src.params))
      patients.push_back(glucose::load_virtual_patient(n, e->src.params, e->src.quest));
    glucose::EvaluationOptions opt;
    opt.days = e->days;
    opt.seed = e->seed;
    opt.env = env_options(e->src);
    opt.safety.enabled = !e->src.no_safety;
    opt.scenario = e->scenario;
    std::vector<glucose::ControllerResult> results;
    std::vector<std::string> names;
    {
      std::stringstream ss(e->controllers);
      std::string item;
      while (std::getline(ss, item, ','))
        if (!item.empty()) names.push_back(item);
    }
    if (names.empty()) fail_invalid("--controller names no controller");
    for (const auto& n : names) make_controller(n, patients.front());  // fail early on a bad name
    for (const auto& n : names)
      results.push_back(glucose::evaluate_controller(
          n, [&n](const glucose::VirtualPatient& p) { return make_controller(n, p); }, patients, opt,
          !e->json && !g.quiet));
    if (!e->out.empty()) {
      fs::create_directories(e->out);
      glucose::write_results_csv(e->out / "results.csv", results);
      for (const auto& r : results)
        for (const auto& p : r.patients) {
          std::string stem = r.controller + "_" + p.patient;
          for (char& c : stem)
            if (c == '#' || c == ':' || c == '/') c = '_';
          glucose::save_trace_plot(e->out / (stem + ".png"), p.episode.trace, p.patient + " - " + r.controller,
                                   e->plot_days * 1440);
        }
    }
    if (e->json) {
      std::printf("%s\n", core::dump_json(glucose::results_json(results), 2).c_str());
    } else {
      std::printf("%d days x %zu patients (%s), seed %llu\n%s", e->days, patients.size(), e->patients.c_str(),
                  static_cast<unsigned long long>(e->seed), glucose::format_results_table(results).c_str());
      if (!e->out.empty()) std::printf("results.csv and trace plots in %s\n", e->out.string().c_str());
    }
  });
}

void add_cohort_command(CLI::App* glucose, GlobalOptions& g) {
  auto* co =
      glucose->add_subcommand("cohort", "simulate a cohort's CGM as CSV files (one per patient) for forecasting");
  struct CohortOpts {
    std::string patients = "all", controller = "basal-bolus";
    PatientSources src;
    int days = 14;
    uint64_t seed = 1;
    fs::path out;
  };
  auto c = std::make_shared<CohortOpts>();
  co->add_option("--patients", c->patients, "names, or a group: adult, adolescent, child, all")->capture_default_str();
  add_patient_options(co, c->src);
  co->add_option("--controller", c->controller, "basal-bolus | pid | ppo:RUN")->capture_default_str();
  co->add_option("--days", c->days)->capture_default_str();
  co->add_option("--seed", c->seed, "random meals and sensor noise")->capture_default_str();
  co->add_option("--out", c->out,
                 "folder for <patient>.csv files: timestamp,glucose_value_mg_dl,insulin_u,carbs_g (every 5 min)")
      ->required();
  co->callback([&g, c] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    if (c->days <= 0 || c->days > 3650) fail_invalid("--days must be 1..3650");
    auto names = glucose::expand_patient_names(c->patients, c->src.params);
    fs::create_directories(c->out);
    for (size_t i = 0; i < names.size(); ++i) {
      auto patient = glucose::load_virtual_patient(names[i], c->src.params, c->src.quest);
      auto eo = env_options(c->src);
      eo.seed = c->seed + 7919 * i;
      glucose::GlucoseEnv env(patient, glucose::random_scenario(eo.seed, c->days), eo);
      auto controller = make_controller(c->controller, patient);
      glucose::SafetyConfig sc;
      sc.enabled = !c->src.no_safety;
      glucose::SafetyLayer safety(sc);
      auto r = glucose::run_episode(env, *controller, safety, c->days * 1440);
      std::string csv = "timestamp,glucose_value_mg_dl,insulin_u,carbs_g\n";
      char buf[96];
      for (size_t k = 4; k < r.trace.minute.size(); k += 5) {  // every 5 minutes (2025-01-01 00:05 onwards)
        double ins = 0, cho = 0;  // delivered / announced during the 5 minutes up to this reading
        for (size_t j = k - 4; j <= k; ++j) {
          ins += r.trace.insulin_u_per_min[j];
          cho += r.trace.carbs_g[j];
        }
        const int m = static_cast<int>(r.trace.minute[k]);
        const int day = m / 1440, tod = m % 1440;
        const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::year{2025} / 1 / 1} +
                                              std::chrono::days{day}};
        std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d:00,%.1f,%.4f,%.0f\n", static_cast<int>(ymd.year()),
                      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), tod / 60, tod % 60,
                      r.trace.cgm[k], ins, cho);
        csv += buf;
      }
      std::string file = names[i];
      for (char& ch : file)
        if (ch == '#') ch = '_';
      core::write_file_atomic(c->out / (file + ".csv"), csv);
    }
    std::printf("%zu patients x %d days of CGM written to %s\n", names.size(), c->days, c->out.string().c_str());
  });
}

}  // namespace

void add_glucose_commands(CLI::App& app, GlobalOptions& g) {
  auto* glucose =
      app.add_subcommand("glucose", "type 1 diabetes: simulation, controllers, forecasting, decision support");
  glucose->require_subcommand(1);
  add_simulate_command(glucose, g);
  add_evaluate_command(glucose, g);
  add_cohort_command(glucose, g);
  add_glucose_learning_commands(*glucose, g);
}

}  // namespace medai::app
