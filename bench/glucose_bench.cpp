// Simulation speed on one core:
//  1. the patient model alone: every patient of a simglucose table (or the built-in one), 24 h
//     each with three meals and boluses on top of basal insulin (the workload of
//     bench/simglucose_reference.py speed);
//  2. closed loop: the same patients with a Dexcom sensor, an Insulet pump, random meals and the
//     basal-bolus controller behind the safety layer;
//  3. the vectorised environment PPO learns in: 4 copies of every patient stepped together.
//   glucose_bench [vpatient_params.csv Quest.csv] [days]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "medai/glucose/environment.h"
#include "medai/glucose/patient_model.h"
#include "medai/glucose/vector_env.h"

using namespace medai::glucose;

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<VirtualPatient> patients;
  if (argc > 2) {
    for (const auto& n : patient_names(argv[1])) patients.push_back(load_virtual_patient(n, argv[1], argv[2]));
  } else {
    patients.push_back(load_virtual_patient("adolescent#001", "", ""));
  }
  const int days = argc > 3 ? std::atoi(argv[3]) : 1;
  const double pd = static_cast<double>(patients.size()) * days;

  double bg_sum = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& vp : patients) {
    PatientModel m(vp.params);
    for (int minute = 0; minute < days * 1440; ++minute) {
      int tod = minute % 1440;
      double carbs = tod == 7 * 60 ? 45 : tod == 12 * 60 ? 70 : tod == 19 * 60 ? 80 : 0;
      double bolus = carbs > 0 ? carbs / 15.0 : 0;  // a simple carb-ratio bolus, delivered in that minute
      m.step(carbs, vp.params.basal_u_per_min() + bolus);
      bg_sum += m.bg_mgdl();
    }
  }
  const double s_model = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  double tir = 0;
  for (size_t i = 0; i < patients.size(); ++i) {
    EnvOptions eo;
    eo.sensor = default_sensor();
    eo.pump = default_pump();
    eo.seed = i + 1;
    GlucoseEnv env(patients[i], random_scenario(i + 1, days), eo);
    BasalBolusController bb;
    SafetyLayer safety;
    tir += run_episode(env, bb, safety, days * 1440).summary.tir_70_180 / patients.size();
  }
  const double s_loop = seconds_since(t0);

  VectorEnv venv(patients, 4, {}, {}, 1, 1);
  std::vector<Dose> doses(venv.size());
  std::vector<double> reward;
  std::vector<char> done;
  const int steps = days * 288;
  t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < steps; ++t) {
    for (int i = 0; i < venv.size(); ++i) {
      const auto& o = venv.observation(i);
      const auto& s = venv.settings(i);
      doses[i] = {s.basal_u_per_min, o.carbs_g > 0 ? o.carbs_g / s.carb_ratio_g_per_u : 0.0};
    }
    venv.step(doses, reward, done);
    venv.reset_finished();
  }
  const double s_vec = seconds_since(t0);
  const double env_steps = static_cast<double>(steps) * venv.size();

  std::printf(
      "{\"patients\":%zu,\"days\":%d,\"model_patient_days_per_s\":%.1f,\"model_ms_per_patient_day\":%.3f,"
      "\"model_mean_bg\":%.2f,\"closed_loop_patient_days_per_s\":%.1f,\"closed_loop_tir\":%.2f,"
      "\"vector_env_size\":%d,\"vector_env_steps_per_s\":%.0f,\"vector_env_patient_days_per_s\":%.1f}\n",
      patients.size(), days, pd / s_model, 1000 * s_model / pd, bg_sum / (pd * 1440), pd / s_loop, tir, venv.size(),
      env_steps / s_vec, env_steps * 5 / 1440 / s_vec);
  return 0;
}
