#include "medai/glucose/vector_env.h"

#include "medai/core/error.h"
#include "medai/metrics/glucose.h"

namespace medai::glucose {

double risk_reward(const std::vector<double>& bg) {
  if (bg.empty()) return 0;
  double r = 0;
  for (double g : bg) {
    r -= metrics::kovatchev_risk(std::max(g, 1.0)) / 10.0;
    if (g < 70) r -= 3.0;
    if (g < 54) r -= 20.0;
  }
  return r / static_cast<double>(bg.size());
}

namespace {
uint64_t episode_seed(uint64_t base, size_t env, uint64_t episode) {
  return base + 1000003ULL * env + 7919ULL * episode;
}
}  // namespace

VectorEnv::VectorEnv(const std::vector<VirtualPatient>& patients, int copies, EnvOptions options, SafetyConfig safety,
                     uint64_t seed, int episode_days)
    : seed_(seed), episode_minutes_(episode_days * 1440) {
  if (patients.empty() || copies < 1 || episode_days < 1) fail_invalid("vector environment: no patients or bad sizes");
  envs_.reserve(patients.size() * copies);
  for (int c = 0; c < copies; ++c)
    for (const auto& p : patients) {
      const size_t i = envs_.size();
      const uint64_t s = episode_seed(seed_, i, 0);
      EnvOptions o = options;
      o.seed = s;
      envs_.push_back({GlucoseEnv(p, random_scenario(s, episode_days), o), SafetyLayer(safety), 0});
    }
}

void VectorEnv::step(const std::vector<Dose>& doses, std::vector<double>& reward, std::vector<char>& done) {
  if (doses.size() != envs_.size()) throw Error(ErrorCode::Internal, "vector environment: one dose per environment");
  reward.assign(envs_.size(), 0.0);
  done.assign(envs_.size(), 0);
  for (size_t i = 0; i < envs_.size(); ++i) {
    Slot& s = envs_[i];
    const Dose d = s.safety.apply(s.env.observe(), s.env.settings(), doses[i]);
    s.env.step(d);
    const auto& bg = s.env.last_step_bg();
    reward[i] = risk_reward(bg);
    for (double g : bg) {
      in_range_ += g >= 70 && g <= 180;
      below70_ += g < 70;
      below54_ += g < 54;
    }
    minutes_ += static_cast<long>(bg.size());
    if (s.env.minute() >= episode_minutes_) done[i] = 1;
  }
}

void VectorEnv::reset_finished() {
  for (size_t i = 0; i < envs_.size(); ++i) {
    Slot& s = envs_[i];
    if (s.env.minute() < episode_minutes_) continue;
    interventions_seen_ += s.safety.counts().interventions();
    const uint64_t seed = episode_seed(seed_, i, ++s.episodes);
    s.env.reset(random_scenario(seed, episode_minutes_ / 1440), seed);
    s.safety.reset();
  }
}

VectorEnv::Stats VectorEnv::take_stats() {
  Stats st;
  if (minutes_ > 0) {
    st.tir = 100.0 * in_range_ / minutes_;
    st.tbr70 = 100.0 * below70_ / minutes_;
    st.tbr54 = 100.0 * below54_ / minutes_;
  }
  st.minutes = minutes_;
  st.interventions = interventions_seen_;
  in_range_ = below70_ = below54_ = minutes_ = interventions_seen_ = 0;
  return st;
}

}  // namespace medai::glucose
