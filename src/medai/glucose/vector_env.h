#pragma once
// Many virtual patients stepped together (what PPO learns from): every dose passes the safety
// layer, each environment restarts from steady state with a fresh seeded random scenario when
// its episode ends, and the reward of a step comes from the Kovatchev risk of the BG of each
// minute with a strong penalty for hypoglycaemia.
#include <cstdint>
#include <vector>

#include "medai/glucose/environment.h"

namespace medai::glucose {

// Mean over the step's minutes of -(risk(BG) / 10) - 3 when BG < 70 - 20 more when BG < 54
// (risk = 10 f(BG)^2, 0..100; see metrics/glucose.h).
double risk_reward(const std::vector<double>& bg_minutes);

class VectorEnv {
 public:
  VectorEnv(const std::vector<VirtualPatient>& patients, int copies_per_patient, EnvOptions options,
            SafetyConfig safety, uint64_t seed, int episode_days = 1);
  int size() const { return static_cast<int>(envs_.size()); }
  const Observation& observation(int i) const { return envs_[i].env.observe(); }
  const PatientSettings& settings(int i) const { return envs_[i].env.settings(); }
  // Applies one dose per environment (through its safety layer), advances every environment by
  // one interval and fills `reward` and `done` (the episode reached its length; observation(i)
  // is then the final one until reset_finished()).
  void step(const std::vector<Dose>& doses, std::vector<double>& reward, std::vector<char>& done);
  // Restarts every finished environment with a fresh seeded random scenario.
  void reset_finished();
  // Fraction of simulated minutes in 70-180 / below 70 / below 54 since the last call.
  struct Stats {
    double tir = 0, tbr70 = 0, tbr54 = 0;
    long minutes = 0, interventions = 0;
  };
  Stats take_stats();

 private:
  struct Slot {
    GlucoseEnv env;
    SafetyLayer safety;
    uint64_t episodes = 0;
  };
  std::vector<Slot> envs_;
  uint64_t seed_;
  int episode_minutes_;
  long in_range_ = 0, below70_ = 0, below54_ = 0, minutes_ = 0;
  long interventions_seen_ = 0;
};

}  // namespace medai::glucose
