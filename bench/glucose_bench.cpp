// Simulated patient-days per second on one core: every patient of a simglucose parameter table
// (or the built-in one), 24 h each with three meals and boluses on top of basal insulin.
//   glucose_bench [vpatient_params.csv] [days]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "medai/glucose/patient_model.h"

using namespace medai::glucose;

int main(int argc, char** argv) {
  std::vector<PatientParams> patients;
  if (argc > 1) {
    for (const auto& n : patient_names(argv[1])) patients.push_back(load_patient(argv[1], n));
  } else {
    patients.push_back(default_patient());
  }
  const int days = argc > 2 ? std::atoi(argv[2]) : 1;
  double bg_sum = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& p : patients) {
    PatientModel m(p);
    for (int minute = 0; minute < days * 1440; ++minute) {
      int tod = minute % 1440;
      double carbs = tod == 7 * 60 ? 45 : tod == 12 * 60 ? 70 : tod == 19 * 60 ? 80 : 0;
      double bolus = carbs > 0 ? carbs / 15.0 : 0;  // a simple carb-ratio bolus, delivered in that minute
      m.step(carbs, p.basal_u_per_min() + bolus);
      bg_sum += m.bg_mgdl();
    }
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double pd = static_cast<double>(patients.size()) * days;
  std::printf("{\"patient_days\":%.0f,\"seconds\":%.4f,\"patient_days_per_s\":%.1f,\"ms_per_patient_day\":%.3f,"
              "\"mean_bg\":%.2f}\n",
              pd, s, pd / s, 1000 * s / pd, bg_sum / (pd * 1440));
  return 0;
}
