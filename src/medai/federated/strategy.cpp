#include "medai/federated/strategy.h"

#include <cmath>
#include <random>

#include "medai/core/error.h"

namespace medai::federated {

const std::vector<std::string>& strategy_names() {
  static const std::vector<std::string> n{"fedavg", "fedprox", "fedadam"};
  return n;
}

double clip_l2(std::vector<float>& delta, double clip) {
  double ss = 0;
  for (float v : delta) ss += static_cast<double>(v) * v;
  const double norm = std::sqrt(ss);
  if (clip > 0 && norm > clip) {
    const float s = static_cast<float>(clip / norm);
    for (float& v : delta) v *= s;
  }
  return norm;
}

Strategy::Strategy(StrategyOptions options) : options_(std::move(options)) {
  check_known("strategy", options_.name, strategy_names());
  if (options_.name == "fedprox" && !(options_.prox_mu > 0)) fail_invalid("fedprox: --prox-mu must be > 0");
  if (options_.user_noise < 0 || options_.user_clip < 0) fail_invalid("DP-FedAvg: clip and noise must be >= 0");
}

std::vector<float> Strategy::apply(const std::vector<float>& global, std::vector<double> mean, size_t sites,
                                   uint64_t noise_seed) {
  if (mean.size() != global.size()) throw Error(ErrorCode::Internal, "strategy: delta size differs from the model");
  if (options_.user_clip > 0 && options_.user_noise > 0 && sites > 0) {
    std::mt19937_64 rng(noise_seed);
    std::normal_distribution<double> n(0.0, options_.user_noise * options_.user_clip / static_cast<double>(sites));
    for (double& d : mean) d += n(rng);
  }
  std::vector<float> out(global.size());
  if (options_.name != "fedadam") {
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(global[i] + mean[i]);
    return out;
  }
  if (m_.empty()) m_.assign(global.size(), 0.0), v_.assign(global.size(), 0.0);
  const auto& o = options_;
  for (size_t i = 0; i < out.size(); ++i) {
    m_[i] = o.beta1 * m_[i] + (1 - o.beta1) * mean[i];
    v_[i] = o.beta2 * v_[i] + (1 - o.beta2) * mean[i] * mean[i];
    out[i] = static_cast<float>(global[i] + o.server_lr * m_[i] / (std::sqrt(v_[i]) + o.tau));
  }
  return out;
}

std::vector<float> Strategy::state() const {
  std::vector<float> s;
  s.reserve(2 * m_.size());
  for (double x : m_) s.push_back(static_cast<float>(x));
  for (double x : v_) s.push_back(static_cast<float>(x));
  return s;
}

void Strategy::restore(const std::vector<float>& s) {
  if (s.size() % 2) fail_invalid("strategy: damaged server-optimiser state");
  m_.assign(s.begin(), s.begin() + static_cast<long>(s.size() / 2));
  v_.assign(s.begin() + static_cast<long>(s.size() / 2), s.end());
}

}  // namespace medai::federated
