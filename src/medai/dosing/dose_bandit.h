#pragma once
// Warfarin dosing as a contextual bandit (Bastani & Bayati 2020; the Stanford CS234 replay): the
// patients with a stable dose arrive one at a time in a random order; a policy picks a dose band
// (< 21, 21-49, > 49 mg/week) from the patient's features; the reward is 0 for the band the
// stable dose falls in and -1 otherwise, so the cumulative regret is the number of wrong bands.
// Every recommendation passes a safety layer: it may not be more than one band away from the
// genotype-free IWPC clinical formula (low <-> high is never allowed), and overrides are counted.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "medai/dosing/warfarin_data.h"

namespace medai::dosing {

// fixed, clinical, pharmacogenetic, linucb, thompson, lasso-bandit, pgx-linucb.
const std::vector<std::string>& bandit_policies();
inline constexpr const char* kBestPolicy = "pgx-linucb";

struct BanditOptions {
  int permutations = 20;
  uint64_t seed = 1;
  double alpha = 0.5;           // LinUCB's exploration width
  double thompson_scale = 0.1;  // posterior scale v of linear Thompson sampling
  bool safety = true;
  int curve_points = 200;  // points of the averaged regret curve
};

struct BanditResult {
  std::string policy;
  size_t n = 0;  // patients per replay
  int permutations = 0;
  double accuracy = 0, accuracy_sd = 0, accuracy_lo = 0, accuracy_hi = 0;  // over permutations; CI of the mean
  double regret = 0, regret_sd = 0, regret_lo = 0, regret_hi = 0;
  double safety_overrides = 0;                                    // per replay, mean
  std::vector<double> curve_t, curve_regret, curve_lo, curve_hi;  // mean cumulative regret (and 95 % band)
  nlohmann::json to_json() const;
};

// `patients`: those with a dose and an age are replayed (others are skipped).
BanditResult run_bandit(const std::vector<WarfarinPatient>& patients, const std::string& policy,
                        const BanditOptions& options);

// Cumulative regret and running accuracy of each result, as a PNG.
void save_regret_plot(const std::string& path, const std::vector<BanditResult>& results);

}  // namespace medai::dosing
