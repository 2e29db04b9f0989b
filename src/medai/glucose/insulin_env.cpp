#include "medai/glucose/insulin_env.h"

#include <algorithm>
#include <cmath>

namespace medai::glucose {

namespace {
constexpr int kCgm = 12;
}  // namespace

void insulin_observation(const Observation& o, const PatientSettings& p, float* f) {
  const auto& h = o.cgm_history;
  for (int k = 0; k < kCgm; ++k) {
    const int idx = static_cast<int>(h.size()) - kCgm + k;
    const double g = h.empty() ? o.cgm_mgdl : h[std::max(idx, 0)];
    f[k] = static_cast<float>((g - 140.0) / 60.0);
  }
  f[12] = static_cast<float>(o.trend_mgdl_per_min() / 2.0);
  f[13] = static_cast<float>(o.iob_u / std::max(1e-6, p.basal_u_per_min * 180.0));
  f[14] = static_cast<float>(o.carbs_g / p.carb_ratio_g_per_u / 5.0);
  constexpr double kTwoPi = 6.283185307179586;
  f[15] = static_cast<float>(std::sin(kTwoPi * o.minute_of_day / 1440.0));
  f[16] = static_cast<float>(std::cos(kTwoPi * o.minute_of_day / 1440.0));
}

Dose insulin_dose(float a0, float a1, const Observation& o, const PatientSettings& p) {
  Dose d;
  d.basal_u_per_min = p.basal_u_per_min * std::exp(std::clamp(static_cast<double>(a0), -3.0, 1.5));
  if (o.carbs_g > 0) d.bolus_u = std::clamp(1.0 + a1, 0.0, 2.0) * o.carbs_g / p.carb_ratio_g_per_u;
  return d;
}

void InsulinEnvironment::observe(float* obs) const {
  for (int i = 0; i < env_.size(); ++i)
    insulin_observation(env_.observation(i), env_.settings(i), obs + i * kInsulinObservations);
}

void InsulinEnvironment::step(const float* a, std::vector<double>& reward, std::vector<char>& done) {
  for (int i = 0; i < env_.size(); ++i)
    doses_[i] = insulin_dose(a[2 * i], a[2 * i + 1], env_.observation(i), env_.settings(i));
  env_.step(doses_, reward, done);
}

}  // namespace medai::glucose
