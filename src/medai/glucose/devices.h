#pragma once
// Devices and therapy settings around a virtual patient, from simglucose's tables:
//  - CGM sensors (sensor_params.csv): sample time, noise, clipping range. The noise is
//    simglucose's: an AR(1) sequence every 15 min (PACF), Johnson SU-transformed, interpolated
//    to the sensor's sample time; seeded.
//  - insulin pumps (pump_params.csv): limits on basal and bolus rates, rounded as simglucose does.
//  - therapy settings (Quest.csv): carb ratio CR (g/U), correction factor CF (mg/dL per U),
//    age, total daily insulin.
#include <cstdint>
#include <deque>
#include <filesystem>
#include <random>
#include <string>

namespace medai::glucose {

struct SensorParams {
  std::string name;
  double pacf = 0.7, gamma = -0.5444, lambda = 15.9574, delta = 1.6898, xi = -5.47;
  double sample_time_min = 3, min_mgdl = 39, max_mgdl = 600;
};
SensorParams load_sensor(const std::filesystem::path& csv, const std::string& name);
// simglucose's Dexcom row, built in.
SensorParams default_sensor();

class CgmSensor {
 public:
  CgmSensor(SensorParams params, uint64_t seed, bool noise = true);
  // Reading for the true blood glucose `bg_mgdl`; call once per sample time.
  double measure(double bg_mgdl);
  const SensorParams& params() const { return p_; }

 private:
  double next_noise();
  double next_noise15();
  SensorParams p_;
  std::mt19937_64 rng_;
  std::normal_distribution<double> normal_{0.0, 1.0};
  bool noise_;
  double e_ = 0;
  int64_t count15_ = 0;
  double last15_ = 0;
  std::deque<double> queue_;
};

struct PumpParams {
  std::string name;
  double min_bolus = 0, max_bolus = 30, inc_bolus = 0.05, min_basal = 0, max_basal = 30, inc_basal = 0.05;
};
PumpParams load_pump(const std::filesystem::path& csv, const std::string& name);
PumpParams default_pump();  // simglucose's Insulet row

// simglucose's InsulinPump: rates in U/min are rounded to the increment on a pmol/min scale and
// clipped to [min, max]; basal and bolus separately.
class InsulinPump {
 public:
  explicit InsulinPump(PumpParams p) : p_(std::move(p)) {}
  double basal(double u_per_min) const;
  double bolus(double u_per_min) const;
  const PumpParams& params() const { return p_; }

 private:
  PumpParams p_;
};

struct TherapySettings {
  std::string name;
  double carb_ratio_g_per_u = 0;     // CR
  double correction_mgdl_per_u = 0;  // CF
  double age_years = 0, total_daily_insulin_u = 0;
};
TherapySettings load_therapy(const std::filesystem::path& quest_csv, const std::string& name);
TherapySettings default_therapy();  // adolescent#001 from Quest.csv

}  // namespace medai::glucose
