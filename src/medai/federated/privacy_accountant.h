#pragma once
// Rényi-DP accounting for DP-SGD and DP-FedAvg (Mironov 2017; Mironov, Talwar & Zhang 2019): the
// sampled Gaussian mechanism at sampling rate q with noise multiplier sigma (noise standard
// deviation / clipping norm), composed over `steps`, converted to (epsilon, delta)-DP. Integer
// orders 2..256 plus the usual fractional ones are searched; q = 1 is the plain Gaussian
// mechanism, alpha / (2 sigma^2). The conversion is Balle et al. 2020 (Theorem 21, the one Opacus
// and TF Privacy use today) unless `classic` asks for Mironov's original eps = rdp + log(1/delta)/(alpha - 1).
#include <vector>

namespace medai::federated {

// The RDP of one step at order alpha (alpha > 1; exact for integer alpha, Mironov et al.'s series
// for fractional alpha).
double rdp_sampled_gaussian(double q, double sigma, double alpha);

struct PrivacySpent {
  double epsilon = 0, order = 0;
};

const std::vector<double>& default_orders();

PrivacySpent privacy_spent(double q, double sigma, long long steps, double delta,
                           const std::vector<double>& orders = default_orders(), bool classic = false);

// The smallest noise multiplier (to 1e-3 relative) for which `steps` steps at rate q stay within
// epsilon at delta; fails (InvalidInput) when epsilon or delta make no sense.
double noise_for_epsilon(double q, long long steps, double epsilon, double delta);

}  // namespace medai::federated
