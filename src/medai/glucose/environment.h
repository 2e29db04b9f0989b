#pragma once
// A virtual patient with its sensor, pump and meal scenario, stepped one control interval at a
// time by a controller (through the safety layer). Plain C++: also the environment PPO learns in.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "medai/glucose/controller.h"
#include "medai/glucose/devices.h"
#include "medai/glucose/insulin.h"
#include "medai/glucose/patient_model.h"
#include "medai/glucose/scenario.h"
#include "medai/metrics/glucose.h"

namespace medai::glucose {

struct VirtualPatient {
  PatientParams params;
  TherapySettings therapy;
  PatientSettings settings() const;  // basal from the steady state, CR/CF/TDI from the therapy table
};

// Loads a patient and its therapy settings by name; with empty paths the built-in patient.
VirtualPatient load_virtual_patient(const std::string& name, const std::filesystem::path& params_csv,
                                    const std::filesystem::path& quest_csv);
// "adult" / "adolescent" / "child" / "all" or a comma-separated list of names.
std::vector<std::string> expand_patient_names(const std::string& spec, const std::filesystem::path& params_csv);

struct EnvOptions {
  std::optional<SensorParams> sensor;  // none: CGM = BG exactly, control every 5 min
  std::optional<PumpParams> pump;      // none: doses delivered exactly
  uint64_t seed = 0;                   // sensor noise
  int history_len = 37;                // CGM readings kept in observations (3 h at 5 min)
};

struct Trace {  // one row per minute: the state after that minute and the inputs during it
  std::vector<double> minute, bg, cgm, insulin_u_per_min, carbs_g, cho_g_per_min;
  std::vector<std::array<double, PatientModel::kStates>> state;
};

class GlucoseEnv {
 public:
  GlucoseEnv(VirtualPatient patient, Scenario scenario, EnvOptions options);
  // Starts again from the patient's steady state with another scenario and noise seed.
  void reset(Scenario scenario, uint64_t seed);
  int interval_min() const { return interval_; }
  const Observation& observe() const { return obs_; }
  // Delivers `dose` over the next interval (the pump may round and clip it) and advances.
  void step(const Dose& dose);
  double bg_mgdl() const { return model_.bg_mgdl(); }
  int minute() const { return minute_; }
  const VirtualPatient& patient() const { return patient_; }
  const PatientSettings& settings() const { return settings_; }
  // BG of every minute of the last step (what rewards and metrics use).
  const std::vector<double>& last_step_bg() const { return step_bg_; }
  // Recording every minute (off by default; on for evaluation and plots).
  void record(bool on) { recording_ = on; }
  const Trace& trace() const { return trace_; }

 private:
  void sense();
  VirtualPatient patient_;
  PatientSettings settings_;
  Scenario scenario_;
  EnvOptions opt_;
  PatientModel model_;
  std::optional<CgmSensor> sensor_;
  std::optional<InsulinPump> pump_;
  InsulinOnBoard iob_;
  int interval_ = 5, minute_ = 0;
  Observation obs_;
  std::vector<double> step_bg_;
  bool recording_ = false;
  Trace trace_;
};

struct EpisodeResult {
  Trace trace;
  // Of true BG, every minute; BG below 10 mg/dL (the model's patient would not survive; simglucose
  // ends its episodes there) enters the metrics as 10 and is counted separately.
  metrics::GlycemicSummary summary;
  long minutes_below_10 = 0;
  SafetyCounts safety;
  double insulin_total_u = 0, carbs_total_g = 0;
};

// Runs `controller` through `safety` for `minutes` and summarises.
EpisodeResult run_episode(GlucoseEnv& env, Controller& controller, SafetyLayer& safety, int minutes);

}  // namespace medai::glucose
