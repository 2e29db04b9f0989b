#pragma once
// Proximal policy optimisation (Schulman et al. 2017) over any VectorEnvironment: a Gaussian
// policy (tanh MLP mean, learned log-std) and a separate critic, rollouts with time-limit
// bootstrapping, GAE(lambda) advantages, the clipped objective; every `select_every` iterations
// the deterministic policy is scored by the caller and the best one is kept.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "medai/nn/nets/mlp.h"
#include "medai/rl/environment.h"
#include "medai/train/curves.h"
#include "medai/train/trainer.h"

namespace medai::rl {

struct PpoConfig {
  int iterations = 300;
  int rollout_steps = 288;
  int update_epochs = 5, minibatch = 2048;
  double lr = 3e-4;
  double critic_lr_multiple = 3.0;
  double gamma = 0.99, gae_lambda = 0.95, clip = 0.2, entropy_coef = 0.0, value_coef = 0.5;
  double reward_scale = 1.0;  // rewards are multiplied by this before learning
  int hidden = 64;
  double initial_std = 0.3;          // of every action dimension
  std::vector<double> initial_mean;  // the first policy's mean action (default all 0)
  // Actor and critic have their own optimiser and clipping: the value loss is orders of magnitude
  // larger early on and would otherwise shrink the policy's steps under a joint clip.
  double actor_max_grad_norm = 0.5, critic_max_grad_norm = 5.0;
  int select_every = 10;  // iterations between policy checks (0 = keep the last)
  uint64_t seed = 1;      // network initialisation and action sampling
  bool bf16 = false;      // bf16 autocast in the update's forward passes
  bool progress = true;
  // A run folder: a checkpoint after every iteration (train/checkpoint.h). Resume continues the
  // learning where it stopped (networks, optimisers, random state, selection, curves); the
  // environments start new episodes, so the resumed run is not bit-identical to an
  // uninterrupted one. Empty: nothing written.
  std::filesystem::path run_dir;
  bool resume = false;
  const nlohmann::json* run_options = nullptr;  // stored in the state (train::resume_options)
};

struct PpoCallbacks {
  // Task figures for curves.csv since the last call (e.g. time in range), one per column; the
  // first two are shown on the progress bar.
  std::vector<train::CurveColumn> stat_columns;
  std::function<std::vector<double>()> iteration_stats;
  // Scores the deterministic policy (higher is better) with figures for selection.csv.
  std::vector<train::CurveColumn> selection_columns;
  std::function<std::pair<double, std::vector<double>>(nn::Mlp actor)> evaluate_policy;
};

struct PpoResult {
  nn::Mlp actor{nullptr}, critic{nullptr};
  int selected_iteration = 0;  // 0: the last policy (no selection)
  double selected_score = 0;
  train::Curves curves{{}}, selection{{}};
  double env_steps_per_s = 0;
};

PpoResult train_ppo(VectorEnvironment& env, const PpoConfig& config, const PpoCallbacks& callbacks);

}  // namespace medai::rl
