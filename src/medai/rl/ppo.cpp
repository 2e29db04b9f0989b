#include "medai/rl/ppo.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>

#include "medai/core/error.h"
#include "medai/core/progress.h"
#include "medai/train/torch_helpers.h"

namespace medai::rl {

namespace {

struct Policy {
  nn::Mlp actor{nullptr}, critic{nullptr};
  torch::Tensor log_std;
  torch::Tensor log_prob(const torch::Tensor& a, const torch::Tensor& mean) const {
    return (-0.5 * ((a - mean) / log_std.exp()).pow(2) - log_std - 0.5 * std::log(2 * M_PI)).sum(1);
  }
};

Policy make_policy(const PpoConfig& c, int obs, int act) {
  Policy p{nn::Mlp(nn::MlpOptions(obs, c.hidden, act)), nn::Mlp(nn::MlpOptions(obs, c.hidden, 1)), {}};
  {
    torch::NoGradGuard ng;  // a small last layer: the first policy's mean is initial_mean
    p.actor->l3->weight.mul_(0.01);
    p.actor->l3->bias.zero_();
    for (size_t k = 0; k < c.initial_mean.size() && k < static_cast<size_t>(act); ++k)
      p.actor->l3->bias[k] = c.initial_mean[k];
  }
  p.log_std = torch::full({act}, std::log(static_cast<float>(c.initial_std))).set_requires_grad(true);
  return p;
}

// One rollout's transitions (time x environment).
struct Rollout {
  torch::Tensor obs, act, logp, val, rew, term;
  double env_seconds = 0;
  long env_steps = 0;
};

// Steps every environment T times with sampled actions. An episode end or the rollout's last step
// is a time limit, not a true terminal: the reward is bootstrapped from the critic's value of
// the final observation and the step is marked as a cut.
void collect(VectorEnvironment& env, Policy& p, const PpoConfig& c, Rollout& r) {
  const int n = env.size(), T = c.rollout_steps, obs_n = env.observation_size();
  std::vector<double> reward;
  std::vector<char> done;
  torch::NoGradGuard ng;
  p.actor->eval();
  for (int t = 0; t < T; ++t) {
    auto obs = r.obs[t];
    env.observe(obs.data_ptr<float>());
    auto mean = p.actor->forward(obs);
    auto a = mean + p.log_std.exp() * torch::randn_like(mean);
    r.act[t].copy_(a);
    r.logp[t].copy_(p.log_prob(a, mean));
    r.val[t].copy_(p.critic->forward(obs).squeeze(1));
    auto t0 = std::chrono::steady_clock::now();
    env.step(a.data_ptr<float>(), reward, done);
    r.env_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.env_steps += n;
    bool any_done = false;
    for (int i = 0; i < n; ++i) {
      r.rew[t][i] = reward[i] * c.reward_scale;
      any_done |= done[i] != 0;
    }
    r.term[t].zero_();
    if (any_done || t == T - 1) {
      auto fin = torch::empty({n, obs_n});
      env.observe(fin.data_ptr<float>());
      auto vfin = p.critic->forward(fin).squeeze(1);
      for (int i = 0; i < n; ++i)
        if (done[i] || t == T - 1) {
          r.rew[t][i] += c.gamma * vfin[i].item<float>();
          r.term[t][i] = 1.0f;
        }
      env.reset_finished();
    }
  }
}

// GAE(lambda) advantages and returns over a rollout (every rollout ends in a bootstrapped cut).
std::pair<torch::Tensor, torch::Tensor> advantages(const Rollout& r, const PpoConfig& c) {
  const int64_t T = r.rew.size(0), n = r.rew.size(1);
  auto adv = torch::zeros({T, n});
  auto next_adv = torch::zeros({n}), next_val = torch::zeros({n});
  for (int64_t t = T - 1; t >= 0; --t) {
    auto nonterm = 1.0 - r.term[t];
    auto delta = r.rew[t] + c.gamma * next_val * nonterm - r.val[t];
    next_adv = delta + c.gamma * c.gae_lambda * nonterm * next_adv;
    adv[t] = next_adv;
    next_val = r.val[t];
  }
  return {adv, adv + r.val};
}

struct Optimisers {
  std::vector<torch::Tensor> actor_params, critic_params;
  std::unique_ptr<torch::optim::Adam> actor, critic;
};

// The clipped-objective epochs over one rollout; returns the mean policy and value losses.
std::pair<double, double> update(Policy& p, Optimisers& opt, const Rollout& r, const PpoConfig& c) {
  const int64_t obs_n = r.obs.size(2), act_n = r.act.size(2);
  auto [adv, ret] = advantages(r, c);
  auto X = r.obs.reshape({-1, obs_n}), A = r.act.reshape({-1, act_n}), LP = r.logp.reshape({-1});
  auto ADV = adv.reshape({-1}), RET = ret.reshape({-1});
  ADV = (ADV - ADV.mean()) / (ADV.std() + 1e-8);
  p.actor->train();
  const int64_t N = X.size(0);
  double pl_sum = 0, vl_sum = 0;
  int n_upd = 0;
  for (int ep = 0; ep < c.update_epochs; ++ep) {
    auto perm = torch::randperm(N);
    for (int64_t b = 0; b < N; b += c.minibatch) {
      auto idx = perm.slice(0, b, std::min(N, b + c.minibatch));
      auto x = X.index_select(0, idx), a = A.index_select(0, idx);
      torch::Tensor mean, value;
      {
        train::AutocastGuard autocast(c.bf16);
        mean = p.actor->forward(x).to(torch::kFloat);
        value = p.critic->forward(x).squeeze(1).to(torch::kFloat);
      }
      auto ratio = (p.log_prob(a, mean) - LP.index_select(0, idx)).exp();
      auto adv_b = ADV.index_select(0, idx);
      auto pl = -torch::min(ratio * adv_b, ratio.clamp(1 - c.clip, 1 + c.clip) * adv_b).mean();
      auto vl = 0.5 * (value - RET.index_select(0, idx)).pow(2).mean();
      auto ent = (p.log_std + 0.5 * std::log(2 * M_PI * M_E)).sum();
      auto loss = pl + c.value_coef * vl - c.entropy_coef * ent;
      opt.actor->zero_grad();
      opt.critic->zero_grad();
      loss.backward();
      torch::nn::utils::clip_grad_norm_(opt.actor_params, c.actor_max_grad_norm);
      torch::nn::utils::clip_grad_norm_(opt.critic_params, c.critic_max_grad_norm);
      opt.actor->step();
      opt.critic->step();
      pl_sum += pl.item<double>();
      vl_sum += vl.item<double>();
      ++n_upd;
    }
  }
  return {pl_sum / n_upd, vl_sum / n_upd};
}

train::Curves iteration_curves(const PpoCallbacks& cb, int act) {
  std::vector<train::CurveColumn> cols{{"iteration", 0}, {"mean_reward", 5}};
  cols.insert(cols.end(), cb.stat_columns.begin(), cb.stat_columns.end());
  cols.insert(cols.end(), {{"policy_loss", 5}, {"value_loss", 5}});
  for (int k = 0; k < act; ++k) cols.push_back({"std" + std::to_string(k), 4});
  cols.push_back({"env_steps_per_s", 0});
  return train::Curves(cols);
}

train::Curves selection_curves(const PpoCallbacks& cb) {
  std::vector<train::CurveColumn> cols{{"iteration", 0}};
  cols.insert(cols.end(), cb.selection_columns.begin(), cb.selection_columns.end());
  cols.push_back({"score", 6});
  return train::Curves(cols);
}

std::string postfix(const PpoCallbacks& cb, const std::vector<double>& stats) {
  std::string s;
  for (size_t k = 0; k < 2 && k < stats.size() && k < cb.stat_columns.size(); ++k)
    s += fmt::format("{}{} {:.2f}", k ? " " : "", cb.stat_columns[k].name, stats[k]);
  return s;
}

}  // namespace

PpoResult train_ppo(VectorEnvironment& env, const PpoConfig& c, const PpoCallbacks& cb) {
  if (c.iterations < 1 || c.rollout_steps < 2 || c.update_epochs < 1 || c.minibatch < 1 || env.size() < 1)
    fail_invalid("PPO sizes must be positive");
  torch::manual_seed(c.seed);
  const int n = env.size(), T = c.rollout_steps, obs_n = env.observation_size(), act_n = env.action_size();
  Policy p = make_policy(c, obs_n, act_n);
  Optimisers opt;
  opt.actor_params = p.actor->parameters();
  opt.actor_params.push_back(p.log_std);
  opt.critic_params = p.critic->parameters();
  opt.actor = std::make_unique<torch::optim::Adam>(opt.actor_params, torch::optim::AdamOptions(c.lr));
  opt.critic =
      std::make_unique<torch::optim::Adam>(opt.critic_params, torch::optim::AdamOptions(c.lr * c.critic_lr_multiple));
  Rollout r{torch::empty({T, n, obs_n}), torch::empty({T, n, act_n}), torch::empty({T, n}),
            torch::empty({T, n}),        torch::zeros({T, n}),        torch::zeros({T, n})};
  PpoResult res;
  res.curves = iteration_curves(cb, act_n);
  res.selection = selection_curves(cb);
  train::Selector selector(true);
  train::ParameterSnapshot best;
  core::ProgressBar bar("train PPO", c.iterations, "iterations", c.progress);
  for (int it = 1; it <= c.iterations; ++it) {
    collect(env, p, c, r);
    const auto [policy_loss, value_loss] = update(p, opt, r, c);
    const std::vector<double> stats = cb.iteration_stats ? cb.iteration_stats() : std::vector<double>{};
    auto sd = p.log_std.exp();
    std::vector<double> row{static_cast<double>(it), r.rew.mean().item<double>()};
    row.insert(row.end(), stats.begin(), stats.end());
    row.insert(row.end(), {policy_loss, value_loss});
    for (int k = 0; k < act_n; ++k) row.push_back(sd[k].item<double>());
    res.env_steps_per_s = r.env_steps / std::max(r.env_seconds, 1e-9);
    row.push_back(res.env_steps_per_s);
    res.curves.add(row);
    bar.set_postfix(postfix(cb, stats));
    bar.advance();
    if (c.select_every > 0 && cb.evaluate_policy && (it % c.select_every == 0 || it == c.iterations)) {
      p.actor->eval();
      auto [score, figures] = cb.evaluate_policy(p.actor);
      spdlog::debug("PPO iteration {}: validation score {:.2f}", it, score);
      std::vector<double> sel{static_cast<double>(it)};
      sel.insert(sel.end(), figures.begin(), figures.end());
      sel.push_back(score);
      res.selection.add(sel);
      if (selector.offer(score, it)) best.capture(p.actor->parameters());
    }
  }
  bar.finish();
  if (!best.empty()) {
    best.restore(p.actor->parameters());
    res.selected_iteration = selector.best_step();
    res.selected_score = selector.best();
    spdlog::info("PPO: kept the policy of iteration {} (validation score {:.2f})", res.selected_iteration,
                 res.selected_score);
  }
  p.actor->eval();
  res.actor = p.actor;
  res.critic = p.critic;
  return res;
}

}  // namespace medai::rl
