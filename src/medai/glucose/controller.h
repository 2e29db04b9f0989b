#pragma once
// Insulin controllers behind one interface, and the safety layer every controller's dose passes
// through. Units: glucose mg/dL, insulin U (doses) and U/min (rates), time in minutes.
#include <memory>
#include <string>
#include <vector>

#include "medai/glucose/devices.h"

namespace medai::glucose {

// What a controller knows about its patient (as a clinician would: basal, CR, CF).
struct PatientSettings {
  double basal_u_per_min = 0;
  double carb_ratio_g_per_u = 10;
  double correction_mgdl_per_u = 40;
  double total_daily_insulin_u = 40;
  double target_mgdl = 140;
};
// Throws InvalidInput naming the field (basal_u_per_h, cr, cf, tdi, target) when a setting is
// not finite, not positive or outside a plausible range. Used by every caller (CLI, server).
void validate_settings(const PatientSettings& p);

// What a controller sees at each control step.
struct Observation {
  double minute = 0;                // since the start of the simulation (or of the history)
  double minute_of_day = 0;         // 0..1439
  double cgm_mgdl = 0;              // newest CGM reading
  double carbs_g = 0;               // carbohydrate announced since the last decision
  double iob_u = 0;                 // insulin on board
  int interval_min = 5;             // minutes until the next decision
  std::vector<double> cgm_history;  // readings one interval apart, newest last (includes cgm_mgdl)
  // CGM slope over the last 30 min by least squares, mg/dL/min (0 with fewer than 2 readings).
  double trend_mgdl_per_min() const;
};

// A controller's decision: a basal rate held for the interval plus a bolus given now.
struct Dose {
  double basal_u_per_min = 0;
  double bolus_u = 0;
  double units(int interval_min) const { return basal_u_per_min * interval_min + bolus_u; }
};

class Controller {
 public:
  virtual ~Controller() = default;
  virtual std::string name() const = 0;
  virtual void reset() {}
  virtual Dose decide(const Observation& obs, const PatientSettings& patient) = 0;
};

// Basal from the patient's steady state; at a meal, bolus = carbs / CR plus a correction
// (BG - target) / CF when BG is above 150 mg/dL (the clinical rule simglucose's BBController uses).
class BasalBolusController : public Controller {
 public:
  std::string name() const override { return "basal-bolus"; }
  Dose decide(const Observation& obs, const PatientSettings& patient) override;
};

// Feedback only (no meal knowledge): basal + Kp e + Ki integral(e) + Kd de/dt, e = CGM - target.
// Gains default to values scaled by the patient's correction factor (see docs/glucose.md).
struct PidGains {
  double kp_scale = 1.0 / 90;  // Kp = kp_scale / CF   (U/min per mg/dL)
  double ti_min = 240;         // Ki = Kp / Ti
  double td_min = 30;          // Kd = Kp * Td
};
class PidController : public Controller {
 public:
  explicit PidController(PidGains g = {}) : g_(g) {}
  std::string name() const override { return "pid"; }
  void reset() override {
    integral_ = 0;
    have_prev_ = false;
  }
  Dose decide(const Observation& obs, const PatientSettings& patient) override;

 private:
  PidGains g_;
  double integral_ = 0, prev_ = 0;
  bool have_prev_ = false;
};

// Safety rules applied to every dose, in this order:
//  1. suspend: no insulin at all when CGM < 70 or the 30-min linear forecast is < 80 mg/dL;
//  2. maximum dose: bolus <= max_bolus_u, basal <= max_basal_multiple x the patient's basal;
//  3. insulin-on-board limit: IOB after the dose <= steady basal IOB + insulin for the carbs
//     announced in the last 3 h + max_extra_iob_u (the bolus is cut first, then the basal).
struct SafetyConfig {
  bool enabled = true;
  double suspend_below_mgdl = 70, predicted_low_mgdl = 80, horizon_min = 30;
  double max_bolus_u = 0;  // 0: 30% of total daily insulin
  double max_basal_multiple = 4;
  double max_extra_iob_u = 0;  // 0: 10% of total daily insulin
};

struct SafetyCounts {
  long decisions = 0, suspended = 0, dose_capped = 0, iob_limited = 0;
  long interventions() const { return suspended + dose_capped + iob_limited; }
};

class SafetyLayer {
 public:
  explicit SafetyLayer(SafetyConfig c = {}) : c_(c) {}
  void reset();
  // Returns the dose actually allowed; `fired` (when given) gets one line per rule that changed it.
  Dose apply(const Observation& obs, const PatientSettings& patient, Dose proposed,
             std::vector<std::string>* fired = nullptr);
  const SafetyCounts& counts() const { return counts_; }
  const SafetyConfig& config() const { return c_; }

 private:
  SafetyConfig c_;
  SafetyCounts counts_;
  std::vector<std::pair<double, double>> recent_carbs_;  // (minute, g)
};

// "basal-bolus" or "pid" (learned controllers are made by the rl module).
std::unique_ptr<Controller> make_standard_controller(const std::string& name);

}  // namespace medai::glucose
