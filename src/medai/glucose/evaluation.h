#pragma once
// Evaluating controllers on virtual patients: seeded random meal scenarios (the same days for
// every controller), metrics per patient and per controller, trace CSVs and plots.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "medai/glucose/environment.h"

namespace medai::glucose {

struct PatientResult {
  std::string patient;
  EpisodeResult episode;
};

struct ControllerResult {
  std::string controller;
  std::vector<PatientResult> patients;
  // Across patients: median (and quartiles) of time in range; means of the rest.
  double tir_median = 0, tir_q1 = 0, tir_q3 = 0;
  double tbr70_mean = 0, tbr54_mean = 0, tar180_mean = 0, tar250_mean = 0, mean_bg = 0, cv_mean = 0;
  double lbgi_mean = 0, hbgi_mean = 0, risk_mean = 0;
  int patients_with_any_below_54 = 0;
  int patients_below_10 = 0;  // BG fell below 10 mg/dL at least once: a simulated catastrophe
  long safety_interventions = 0, decisions = 0;
};

using ControllerFactory = std::function<std::unique_ptr<Controller>(const VirtualPatient&)>;

struct EvaluationOptions {
  int days = 10;
  uint64_t seed = 1;  // scenario k of patient i uses seed + 7919 * i (held-out: PPO trains on others)
  EnvOptions env;     // sensor, pump
  SafetyConfig safety;
  std::string scenario = "random";  // or a daily spec / CSV, see parse_scenario
};

ControllerResult evaluate_controller(const std::string& name, const ControllerFactory& factory,
                                     const std::vector<VirtualPatient>& patients, const EvaluationOptions& opt,
                                     bool progress = true);

// Text table, one row per controller.
std::string format_results_table(const std::vector<ControllerResult>& results);
// One CSV row per controller and patient.
void write_results_csv(const std::filesystem::path& path, const std::vector<ControllerResult>& results);
// The one JSON form of controller results (medai glucose evaluate --json, PPO model cards).
nlohmann::json results_json(const std::vector<ControllerResult>& results);
// minute,bg_mgdl,cgm_mgdl,insulin_u_per_min,carbs_g.
void write_trace_csv(const std::filesystem::path& path, const Trace& trace);
// BG with the 70-180 band, insulin and meals for the first `minutes` of the trace.
void save_trace_plot(const std::filesystem::path& path, const Trace& trace, const std::string& title, int minutes);

}  // namespace medai::glucose
