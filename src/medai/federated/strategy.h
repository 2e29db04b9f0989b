#pragma once
// Server-side aggregation of the sites' model updates (deltas = local model - global model):
// FedAvg (McMahan et al. 2017: the example-weighted mean of the deltas), FedProx (Li et al. 2020:
// the same mean; the proximal term mu/2 ||w - w_global||^2 is the sites' side), FedAdam (Reddi et
// al. 2021: the mean delta as a pseudo-gradient for a server Adam). User-level DP-FedAvg (McMahan
// et al. 2018): each delta clipped to an L2 norm S at the site, the unweighted mean, plus Gaussian
// noise of standard deviation z S / m for m sites.
#include <cstdint>
#include <string>
#include <vector>

namespace medai::federated {

struct StrategyOptions {
  std::string name = "fedavg";                                     // fedavg | fedprox | fedadam
  double prox_mu = 0.01;                                           // fedprox
  double server_lr = 0.01, beta1 = 0.9, beta2 = 0.99, tau = 1e-3;  // fedadam (Reddi et al.'s defaults)
  double user_clip = 0;                                            // DP-FedAvg clipping norm S (0: off)
  double user_noise = 0;                                           // DP-FedAvg noise multiplier z
};

const std::vector<std::string>& strategy_names();

// Scales `delta` down to L2 norm `clip` when it is longer; returns the norm before clipping.
double clip_l2(std::vector<float>& delta, double clip);

class Strategy {
 public:
  explicit Strategy(StrategyOptions options);
  const StrategyOptions& options() const { return options_; }
  // The new global model from the weighted mean of the deltas (the caller has already summed
  // them, e.g. under secure aggregation: mean = sum / total weight). `noise_seed` draws the
  // DP-FedAvg noise when that is on; `sites` is m.
  std::vector<float> apply(const std::vector<float>& global, std::vector<double> mean_delta, size_t sites,
                           uint64_t noise_seed);
  // FedAdam's moments, for the coordinator's checkpoints.
  std::vector<float> state() const;
  void restore(const std::vector<float>& state);

 private:
  StrategyOptions options_;
  std::vector<double> m_, v_;
};

}  // namespace medai::federated
