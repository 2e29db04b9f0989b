#pragma once
// PPO (rl/ppo.h) learning insulin dosing (insulin_env.h) on a vectorised set of virtual patients,
// behind the safety layer; and the learned policy as a Controller. The policy starts at the
// patient's basal with carb-ratio boluses and learns when to give more or less.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "medai/glucose/controller.h"
#include "medai/glucose/environment.h"

namespace medai::glucose {

struct PpoOptions {
  std::string patients = "adult";       // group or names
  std::filesystem::path params, quest;  // simglucose tables
  std::filesystem::path out;
  EnvOptions env;              // sensor / pump
  SafetyConfig safety;         // applied while learning and when used
  int copies_per_patient = 4;  // environments per patient
  int iterations = 300;
  int rollout_steps = 288;  // one day at 5-minute control
  int episode_days = 1;
  int update_epochs = 5, minibatch = 2048;
  double lr = 3e-4, gamma = 0.99, gae_lambda = 0.95, clip = 0.2, entropy_coef = 0.0, value_coef = 0.5;
  int hidden = 64;
  uint64_t seed = 1000000;  // training scenario seeds start here (evaluation uses small seeds)
  int eval_days = 10;       // held-out evaluation written to the model card (0 = none)
  int select_every = 10;    // iterations between checks of the deterministic policy on validation
  int select_days = 3;      // days per patient of those checks (seeds apart from training and test)
  double reward_scale = 0.2;
  // Initial policy's basal as a multiple of the patient's (1 = the clinical setting); other values
  // start from a mis-set basal, to test and study learning from a poor start.
  double initial_basal_multiple = 1.0;
  std::string precision = "auto";  // auto | fp32 | bf16 (core/precision.h)
  bool progress = true;
  // Continue the interrupted run in `out` with its stored settings (the patients' tables, sensor
  // and pump are given again); without it, a folder that already holds a run is refused.
  bool resume = false;
};

nlohmann::json train_ppo(const PpoOptions& options);

// The policy of RUN (policy mean, no sampling) as a controller.
std::unique_ptr<Controller> load_ppo_controller(const std::filesystem::path& run_dir);

}  // namespace medai::glucose
