#include "medai/rl/ppo.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>

#include <nlohmann/json.hpp>

#include "medai/core/error.h"
#include "medai/core/progress.h"
#include "medai/core/run_folder.h"
#include "medai/train/torch_helpers.h"

namespace medai::rl {

namespace fs = std::filesystem;
using nlohmann::json;

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

namespace {

// Everything an iteration changes: what a checkpoint holds (the environments aside).
struct PpoState {
  Policy p;
  Optimisers opt;
  train::Selector selector{true};
  train::ParameterSnapshot best;
  PpoResult res;
  int done = 0;  // iterations completed
};

PpoState initial_state(const PpoConfig& c, const PpoCallbacks& cb, int obs_n, int act_n) {
  PpoState s;
  s.p = make_policy(c, obs_n, act_n);
  s.opt.actor_params = s.p.actor->parameters();
  s.opt.actor_params.push_back(s.p.log_std);
  s.opt.critic_params = s.p.critic->parameters();
  s.opt.actor = std::make_unique<torch::optim::Adam>(s.opt.actor_params, torch::optim::AdamOptions(c.lr));
  s.opt.critic =
      std::make_unique<torch::optim::Adam>(s.opt.critic_params, torch::optim::AdamOptions(c.lr * c.critic_lr_multiple));
  s.res.curves = iteration_curves(cb, act_n);
  s.res.selection = selection_curves(cb);
  return s;
}

json rows_json(const train::Curves& c) {
  json rows = json::array();
  for (const auto& r : c.rows()) {
    json row = json::array();
    for (double v : r) row.push_back(std::isfinite(v) ? json(v) : json());  // JSON has no NaN
    rows.push_back(row);
  }
  return rows;
}

void add_rows(train::Curves& c, const json& rows, const std::string& where) {
  if (!rows.is_array()) fail_invalid(where + ": curve rows must be an array");
  for (const auto& r : rows) {
    std::vector<double> row;
    for (const auto& v : r) row.push_back(v.is_number() ? v.get<double>() : std::nan(""));
    c.add(row);
  }
}

// RUN/checkpoints/iteration-N: both networks, the log-std, both optimisers, the best policy so
// far and the random state; train_state.json: the curves, the selection and the settings.
void save_state(const PpoConfig& c, const PpoState& s) {
  json state = {{"options", c.run_options ? *c.run_options : json::object()},
                {"iteration_completed", s.done},
                {"curves", rows_json(s.res.curves)},
                {"selection", rows_json(s.res.selection)},
                {"best_iteration", s.selector.best_step()},  // 0: no policy checked yet
                {"since_best", s.selector.since_best()}};
  if (s.selector.best_step() > 0) state["best_value"] = s.selector.best();
  train::write_checkpoint(
      c.run_dir, "iteration-" + std::to_string(s.done),
      [&](const fs::path& ck) {
        train::save_module(*s.p.actor, ck / "actor.pt");
        train::save_module(*s.p.critic, ck / "critic.pt");
        train::save_tensor(s.p.log_std, ck / "log_std.pt");
        train::save_optimizer(*s.opt.actor, ck / "actor_optimizer.pt");
        train::save_optimizer(*s.opt.critic, ck / "critic_optimizer.pt");
        s.best.save(ck / "best.pt");
        train::save_rng_state(ck / "rng.pt");
      },
      state);
}

void load_state(const PpoConfig& c, PpoState& s) {
  fs::path ck;
  const json st = train::read_checkpoint(c.run_dir, ck);
  const std::string where = (c.run_dir / train::kTrainStateFile).string();
  s.done = core::json_int(st, "iteration_completed", where, 1, c.iterations);
  add_rows(s.res.curves, st.value("curves", json()), where);
  add_rows(s.res.selection, st.value("selection", json()), where);
  if (static_cast<int>(s.res.curves.rows().size()) != s.done)
    fail_invalid(where + ": 'curves' does not match 'iteration_completed'");
  const int best_iteration = core::json_int(st, "best_iteration", where, 0, c.iterations);
  if (best_iteration > 0)
    s.selector.restore(core::json_number(st, "best_value", where, -1e300, 1e300), best_iteration,
                       core::json_int(st, "since_best", where, 0, c.iterations));
  train::load_module(*s.p.actor, ck / "actor.pt");
  train::load_module(*s.p.critic, ck / "critic.pt");
  const torch::Tensor log_std = train::load_tensor(ck / "log_std.pt", "log-std checkpoint");
  if (log_std.sizes() != s.p.log_std.sizes()) fail_invalid((ck / "log_std.pt").string() + ": wrong action size");
  {
    torch::NoGradGuard ng;
    s.p.log_std.copy_(log_std);
  }
  train::load_optimizer(*s.opt.actor, ck / "actor_optimizer.pt");
  train::load_optimizer(*s.opt.critic, ck / "critic_optimizer.pt");
  s.best.load(ck / "best.pt");
  train::load_rng_state(ck / "rng.pt");
  spdlog::info("resuming {} after PPO iteration {}", c.run_dir.string(), s.done);
}

// One iteration: a rollout, the update, a curves row, and (every select_every) the selection.
void run_iteration(VectorEnvironment& env, const PpoConfig& c, const PpoCallbacks& cb, Rollout& r, PpoState& s,
                   core::ProgressBar& bar) {
  const int it = s.done + 1, act_n = env.action_size();
  collect(env, s.p, c, r);
  const auto [policy_loss, value_loss] = update(s.p, s.opt, r, c);
  const std::vector<double> stats = cb.iteration_stats ? cb.iteration_stats() : std::vector<double>{};
  auto sd = s.p.log_std.exp();
  std::vector<double> row{static_cast<double>(it), r.rew.mean().item<double>()};
  row.insert(row.end(), stats.begin(), stats.end());
  row.insert(row.end(), {policy_loss, value_loss});
  for (int k = 0; k < act_n; ++k) row.push_back(sd[k].item<double>());
  s.res.env_steps_per_s = r.env_steps / std::max(r.env_seconds, 1e-9);
  row.push_back(s.res.env_steps_per_s);
  s.res.curves.add(row);
  bar.set_postfix(postfix(cb, stats));
  bar.advance();
  if (c.select_every > 0 && cb.evaluate_policy && (it % c.select_every == 0 || it == c.iterations)) {
    s.p.actor->eval();
    auto [score, figures] = cb.evaluate_policy(s.p.actor);
    spdlog::debug("PPO iteration {}: validation score {:.2f}", it, score);
    std::vector<double> sel{static_cast<double>(it)};
    sel.insert(sel.end(), figures.begin(), figures.end());
    sel.push_back(score);
    s.res.selection.add(sel);
    if (s.selector.offer(score, it)) s.best.capture(s.p.actor->parameters());
  }
  s.done = it;
}

}  // namespace

PpoResult train_ppo(VectorEnvironment& env, const PpoConfig& c, const PpoCallbacks& cb) {
  if (c.iterations < 1 || c.rollout_steps < 2 || c.update_epochs < 1 || c.minibatch < 1 || env.size() < 1)
    fail_invalid("PPO sizes must be positive");
  if (c.resume && c.run_dir.empty()) throw Error(ErrorCode::Internal, "PPO: resume needs a run folder");
  torch::manual_seed(c.seed);
  const int n = env.size(), T = c.rollout_steps, obs_n = env.observation_size(), act_n = env.action_size();
  PpoState s = initial_state(c, cb, obs_n, act_n);
  if (c.resume) load_state(c, s);
  Rollout r{torch::empty({T, n, obs_n}), torch::empty({T, n, act_n}), torch::empty({T, n}),
            torch::empty({T, n}),        torch::zeros({T, n}),        torch::zeros({T, n})};
  core::ProgressBar bar("train PPO", c.iterations, "iterations", c.progress);
  bar.advance(s.done);
  while (s.done < c.iterations) {
    run_iteration(env, c, cb, r, s, bar);
    if (!c.run_dir.empty()) save_state(c, s);
  }
  bar.finish();
  PpoResult res = std::move(s.res);
  if (!s.best.empty()) {
    s.best.restore(s.p.actor->parameters());
    res.selected_iteration = s.selector.best_step();
    res.selected_score = s.selector.best();
    spdlog::info("PPO: kept the policy of iteration {} (validation score {:.2f})", res.selected_iteration,
                 res.selected_score);
  }
  s.p.actor->eval();
  res.actor = s.p.actor;
  res.critic = s.p.critic;
  return res;
}

}  // namespace medai::rl
