#pragma once
// Insulin dosing as a reinforcement-learning task (what glucose PPO learns on).
//
// Observation (17 numbers): the last 12 CGM readings (1 h), the 30-min CGM trend, insulin on
// board in units of 3 h of the patient's basal, the insulin the announced carbs call for
// (carbs / CR), time of day (sin, cos). Action (2 numbers): a0 sets the basal rate as
// basal x exp(a0) (a0 in [-3, 1.5]); a1 scales the meal bolus, (1 + a1) x carbs / CR (factor
// 0..2). The reward is VectorEnv's risk reward (vector_env.h).
#include "medai/glucose/vector_env.h"
#include "medai/rl/environment.h"

namespace medai::glucose {

inline constexpr int kInsulinObservations = 17, kInsulinActions = 2;

void insulin_observation(const Observation& o, const PatientSettings& p, float* features);
Dose insulin_dose(float a0, float a1, const Observation& o, const PatientSettings& p);

// VectorEnv seen through those observations and actions.
class InsulinEnvironment : public rl::VectorEnvironment {
 public:
  explicit InsulinEnvironment(VectorEnv& env) : env_(env), doses_(env.size()) {}
  int size() const override { return env_.size(); }
  int observation_size() const override { return kInsulinObservations; }
  int action_size() const override { return kInsulinActions; }
  void observe(float* observations) const override;
  void step(const float* actions, std::vector<double>& reward, std::vector<char>& done) override;
  void reset_finished() override { env_.reset_finished(); }

 private:
  VectorEnv& env_;
  std::vector<Dose> doses_;
};

}  // namespace medai::glucose
