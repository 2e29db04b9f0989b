#include "medai/rl/ppo_insulin.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/progress.h"
#include "medai/core/run_folder.h"
#include "medai/glucose/evaluation.h"
#include "medai/glucose/vector_env.h"
#include "medai/io/plot.h"

namespace medai::rl {

namespace fs = std::filesystem;
using glucose::Dose;
using glucose::Observation;
using glucose::PatientSettings;

namespace {

constexpr int kObs = 17, kAct = 2, kCgm = 12;

struct MlpImpl : torch::nn::Module {
  MlpImpl(int in, int hidden, int out)
      : l1(register_module("l1", torch::nn::Linear(in, hidden))),
        l2(register_module("l2", torch::nn::Linear(hidden, hidden))),
        l3(register_module("l3", torch::nn::Linear(hidden, out))) {}
  torch::Tensor forward(const torch::Tensor& x) { return l3->forward(torch::tanh(l2->forward(torch::tanh(l1->forward(x))))); }
  torch::nn::Linear l1, l2, l3;
};
TORCH_MODULE(Mlp);

void features(const Observation& o, const PatientSettings& p, float* f) {
  const auto& h = o.cgm_history;
  for (int k = 0; k < kCgm; ++k) {
    const int idx = static_cast<int>(h.size()) - kCgm + k;
    const double g = h.empty() ? o.cgm_mgdl : h[std::max(idx, 0)];
    f[k] = static_cast<float>((g - 140.0) / 60.0);
  }
  f[12] = static_cast<float>(o.trend_mgdl_per_min() / 2.0);
  f[13] = static_cast<float>(o.iob_u / std::max(1e-6, p.basal_u_per_min * 180.0));
  f[14] = static_cast<float>(o.carbs_g / p.carb_ratio_g_per_u / 5.0);
  constexpr double kTwoPi = 6.283185307179586;
  f[15] = static_cast<float>(std::sin(kTwoPi * o.minute_of_day / 1440.0));
  f[16] = static_cast<float>(std::cos(kTwoPi * o.minute_of_day / 1440.0));
}

Dose dose_from_action(float a0, float a1, const Observation& o, const PatientSettings& p) {
  Dose d;
  d.basal_u_per_min = p.basal_u_per_min * std::exp(std::clamp(static_cast<double>(a0), -3.0, 1.5));
  if (o.carbs_g > 0) d.bolus_u = std::clamp(1.0 + a1, 0.0, 2.0) * o.carbs_g / p.carb_ratio_g_per_u;
  return d;
}

class PpoController : public glucose::Controller {
 public:
  PpoController(Mlp actor, std::string name) : actor_(std::move(actor)), name_(std::move(name)) {}
  std::string name() const override { return name_; }
  Dose decide(const Observation& o, const PatientSettings& p) override {
    torch::NoGradGuard ng;
    auto x = torch::empty({1, kObs});
    features(o, p, x.data_ptr<float>());
    auto m = actor_->forward(x);
    const float* a = m.data_ptr<float>();
    return dose_from_action(a[0], a[1], o, p);
  }

 private:
  Mlp actor_;
  std::string name_;
};

}  // namespace

nlohmann::json train_ppo(const PpoOptions& o) {
  if (o.out.empty()) fail_invalid("--out: a run folder is required");
  if (o.iterations < 1 || o.copies_per_patient < 1 || o.rollout_steps < 2) fail_invalid("PPO sizes must be positive");
  torch::manual_seed(o.seed);
  std::vector<glucose::VirtualPatient> patients;
  for (const auto& n : glucose::expand_patient_names(o.patients, o.params))
    patients.push_back(glucose::load_virtual_patient(n, o.params, o.quest));
  glucose::VectorEnv venv(patients, o.copies_per_patient, o.env, o.safety, o.seed, o.episode_days);
  const int n_env = venv.size(), T = o.rollout_steps;
  spdlog::info("PPO: {} patients x {} copies = {} environments, {} steps per rollout", patients.size(),
               o.copies_per_patient, n_env, T);

  Mlp actor(kObs, o.hidden, kAct), critic(kObs, o.hidden, 1);
  {
    torch::NoGradGuard ng;  // start at the clinical policy: mean action 0 (basal, carbs/CR boluses)
    actor->l3->weight.mul_(0.01);
    actor->l3->bias.zero_();
    actor->l3->bias[0] = std::log(std::max(o.initial_basal_multiple, 1e-3));
  }
  auto log_std = torch::full({kAct}, std::log(0.3f)).set_requires_grad(true);
  // Actor and critic have their own optimiser and gradient clipping: the value loss is orders of
  // magnitude larger early on and would otherwise shrink the policy's steps under a joint clip.
  std::vector<torch::Tensor> actor_params = actor->parameters();
  actor_params.push_back(log_std);
  std::vector<torch::Tensor> critic_params = critic->parameters();
  torch::optim::Adam actor_opt(actor_params, torch::optim::AdamOptions(o.lr));
  torch::optim::Adam critic_opt(critic_params, torch::optim::AdamOptions(o.lr * 3));

  auto obs_buf = torch::empty({T, n_env, kObs}), act_buf = torch::empty({T, n_env, kAct});
  auto logp_buf = torch::empty({T, n_env}), val_buf = torch::empty({T, n_env});
  auto rew_buf = torch::zeros({T, n_env}), term_buf = torch::zeros({T, n_env});
  std::vector<Dose> doses(n_env);
  std::vector<double> reward;
  std::vector<char> done;
  std::string curves = "iteration,mean_reward,tir,tbr70,tbr54,policy_loss,value_loss,std0,std1,env_steps_per_s\n";
  std::vector<double> it_x, tir_y, tbr_y, rew_y;
  core::ProgressBar bar("train PPO", o.iterations, "iterations", o.progress);
  double env_seconds = 0;
  long env_steps = 0;
  std::string selection = "iteration,val_tir_median,val_tbr70_mean,val_tbr54_mean,val_patients_below_54,score\n";
  double best_score = -1e300;
  int best_iteration = 0;
  std::vector<torch::Tensor> best_state;
  for (int it = 1; it <= o.iterations; ++it) {
    actor->eval();
    {
      torch::NoGradGuard ng;
      for (int t = 0; t < T; ++t) {
        auto obs = obs_buf[t];
        float* po = obs.data_ptr<float>();
        for (int i = 0; i < n_env; ++i) features(venv.observation(i), venv.settings(i), po + i * kObs);
        auto mean = actor->forward(obs);
        auto std = log_std.exp();
        auto a = mean + std * torch::randn_like(mean);
        auto logp = (-0.5 * ((a - mean) / std).pow(2) - log_std - 0.5 * std::log(2 * M_PI)).sum(1);
        act_buf[t].copy_(a);
        logp_buf[t].copy_(logp);
        val_buf[t].copy_(critic->forward(obs).squeeze(1));
        const float* pa = a.data_ptr<float>();
        for (int i = 0; i < n_env; ++i)
          doses[i] = dose_from_action(pa[2 * i], pa[2 * i + 1], venv.observation(i), venv.settings(i));
        auto t0 = std::chrono::steady_clock::now();
        venv.step(doses, reward, done);
        env_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        env_steps += n_env;
        bool any_done = false;
        for (int i = 0; i < n_env; ++i) {
          rew_buf[t][i] = reward[i] * o.reward_scale;
          any_done |= done[i] != 0;
        }
        term_buf[t].zero_();
        if (any_done || t == T - 1) {
          // Time limit: bootstrap from the value of the final observation (not a true terminal).
          auto fin = torch::empty({n_env, kObs});
          for (int i = 0; i < n_env; ++i) features(venv.observation(i), venv.settings(i), fin.data_ptr<float>() + i * kObs);
          auto vfin = critic->forward(fin).squeeze(1);
          for (int i = 0; i < n_env; ++i)
            if (done[i] || t == T - 1) {
              rew_buf[t][i] += o.gamma * vfin[i].item<float>();
              term_buf[t][i] = 1.0f;
            }
          venv.reset_finished();
        }
      }
    }
    // GAE over the rollout (every rollout ends in a bootstrapped cut).
    auto adv = torch::zeros({T, n_env}), ret = torch::zeros({T, n_env});
    {
      auto next_adv = torch::zeros({n_env}), next_val = torch::zeros({n_env});
      for (int t = T - 1; t >= 0; --t) {
        auto nonterm = 1.0 - term_buf[t];
        auto delta = rew_buf[t] + o.gamma * next_val * nonterm - val_buf[t];
        next_adv = delta + o.gamma * o.gae_lambda * nonterm * next_adv;
        adv[t] = next_adv;
        next_val = val_buf[t];
      }
      ret = adv + val_buf;
    }
    auto X = obs_buf.reshape({-1, kObs}), A = act_buf.reshape({-1, kAct}), LP = logp_buf.reshape({-1});
    auto ADV = adv.reshape({-1}), RET = ret.reshape({-1});
    ADV = (ADV - ADV.mean()) / (ADV.std() + 1e-8);
    actor->train();
    const int64_t N = X.size(0);
    double pl_sum = 0, vl_sum = 0;
    int n_upd = 0;
    for (int ep = 0; ep < o.update_epochs; ++ep) {
      auto perm = torch::randperm(N);
      for (int64_t b = 0; b < N; b += o.minibatch) {
        auto idx = perm.slice(0, b, std::min(N, b + o.minibatch));
        auto x = X.index_select(0, idx), a = A.index_select(0, idx);
        auto mean = actor->forward(x);
        auto logp = (-0.5 * ((a - mean) / log_std.exp()).pow(2) - log_std - 0.5 * std::log(2 * M_PI)).sum(1);
        auto ratio = (logp - LP.index_select(0, idx)).exp();
        auto adv_b = ADV.index_select(0, idx);
        auto pl = -torch::min(ratio * adv_b, ratio.clamp(1 - o.clip, 1 + o.clip) * adv_b).mean();
        auto vl = 0.5 * (critic->forward(x).squeeze(1) - RET.index_select(0, idx)).pow(2).mean();
        auto ent = (log_std + 0.5 * std::log(2 * M_PI * M_E)).sum();
        auto loss = pl + o.value_coef * vl - o.entropy_coef * ent;
        actor_opt.zero_grad();
        critic_opt.zero_grad();
        loss.backward();
        torch::nn::utils::clip_grad_norm_(actor_params, 0.5);
        torch::nn::utils::clip_grad_norm_(critic_params, 5.0);
        actor_opt.step();
        critic_opt.step();
        pl_sum += pl.item<double>();
        vl_sum += vl.item<double>();
        ++n_upd;
      }
    }
    auto st = venv.take_stats();
    const double mean_r = rew_buf.mean().item<double>();
    auto sd = log_std.exp();
    char buf[256];
    std::snprintf(buf, sizeof buf, "%d,%.5f,%.2f,%.3f,%.3f,%.5f,%.5f,%.4f,%.4f,%.0f\n", it, mean_r, st.tir, st.tbr70,
                  st.tbr54, pl_sum / n_upd, vl_sum / n_upd, sd[0].item<double>(), sd[1].item<double>(),
                  env_steps / std::max(env_seconds, 1e-9));
    curves += buf;
    it_x.push_back(it);
    tir_y.push_back(st.tir);
    tbr_y.push_back(st.tbr70);
    rew_y.push_back(mean_r);
    std::snprintf(buf, sizeof buf, "TIR %.1f%% <70 %.2f%%", st.tir, st.tbr70);
    bar.set_postfix(buf);
    bar.advance();
    if (o.select_every > 0 && (it % o.select_every == 0 || it == o.iterations)) {
      // Model selection on validation days (their own seeds): the deterministic policy's median
      // TIR, penalised for any time below 70 and heavily below 54.
      actor->eval();
      glucose::EvaluationOptions vo;
      vo.days = o.select_days;
      vo.seed = 500000;
      vo.env = o.env;
      vo.safety = o.safety;
      Mlp snapshot = actor;
      auto r = glucose::evaluate_controller(
          "ppo", [&](const glucose::VirtualPatient&) { return std::make_unique<PpoController>(snapshot, "ppo"); },
          patients, vo, false);
      const double score = r.tir_median - 2.0 * r.tbr70_mean - 20.0 * r.tbr54_mean - 10.0 * r.patients_with_any_below_54;
      spdlog::debug("PPO iteration {}: validation TIR median {:.2f}, <70 {:.2f}, <54 {:.3f}, score {:.2f}", it,
                    r.tir_median, r.tbr70_mean, r.tbr54_mean, score);
      selection += std::to_string(it) + "," + std::to_string(r.tir_median) + "," + std::to_string(r.tbr70_mean) + "," +
                   std::to_string(r.tbr54_mean) + "," + std::to_string(r.patients_with_any_below_54) + "," +
                   std::to_string(score) + "\n";
      if (score > best_score) {
        best_score = score;
        best_iteration = it;
        best_state.clear();
        for (const auto& p : actor->parameters()) best_state.push_back(p.detach().clone());
      }
    }
  }
  bar.finish();
  if (!best_state.empty()) {
    torch::NoGradGuard ng;
    auto ps = actor->parameters();
    for (size_t i = 0; i < ps.size(); ++i) ps[i].copy_(best_state[i]);
    spdlog::info("PPO: kept the policy of iteration {} (validation score {:.2f})", best_iteration, best_score);
  }

  fs::create_directories(o.out);
  actor->eval();
  core::write_atomic_with(o.out / "policy.pt", [&](const fs::path& tmp) { torch::save(actor, tmp.string()); });
  core::write_atomic_with(o.out / "critic.pt", [&](const fs::path& tmp) { torch::save(critic, tmp.string()); });
  core::write_file_atomic(o.out / "curves.csv", curves);
  core::write_file_atomic(o.out / "selection.csv", selection);
  io::PlotPanel p1{"time in range while learning (sampled policy)", "iteration", "%", std::nullopt, std::nullopt, false, {}};
  p1.series = {{"TIR 70-180", it_x, tir_y, {44, 160, 44}, false, {}}, {"<70", it_x, tbr_y, {214, 39, 40}, false, {}}};
  io::PlotPanel p2{"mean reward per step", "iteration", "reward", std::nullopt, std::nullopt, false, {}};
  p2.series = {{"reward", it_x, rew_y, {31, 119, 180}, false, {}}};
  io::save_plot(o.out / "curves.png", {p1, p2});

  nlohmann::json card = {
      {"task", "glucose-ppo"},
      {"created", core::utc_timestamp()},
      {"architecture", "actor-critic MLP " + std::to_string(kObs) + "-" + std::to_string(o.hidden) + "-" +
                           std::to_string(o.hidden) + "-" + std::to_string(kAct) + " (tanh)"},
      {"hidden", o.hidden},
      {"patients", o.patients},
      {"observation", "last 12 CGM readings (1 h), 30-min CGM trend, IOB / (3 h of basal), carbs/CR, time of day"},
      {"action", "basal = patient basal x exp(a0), a0 in [-3, 1.5]; meal bolus = (1 + a1) x carbs/CR, factor 0..2"},
      {"reward", "mean over each minute of -risk(BG)/10, -3 below 70 mg/dL, -20 more below 54 mg/dL"},
      {"safety", {{"enabled", o.safety.enabled}, {"suspend_below_mgdl", o.safety.suspend_below_mgdl},
                  {"predicted_low_mgdl", o.safety.predicted_low_mgdl}, {"max_basal_multiple", o.safety.max_basal_multiple}}},
      {"sensor", o.env.sensor ? o.env.sensor->name : "none (CGM = BG)"},
      {"pump", o.env.pump ? o.env.pump->name : "none (exact delivery)"},
      {"training",
       {{"iterations", o.iterations}, {"environments", n_env}, {"rollout_steps", T}, {"episode_days", o.episode_days},
        {"transitions", static_cast<int64_t>(o.iterations) * T * n_env}, {"lr", o.lr}, {"gamma", o.gamma},
        {"gae_lambda", o.gae_lambda}, {"clip", o.clip}, {"seed", o.seed}, {"reward_scale", o.reward_scale},
        {"selected_iteration", best_iteration},
        {"selection", "deterministic policy checked every " + std::to_string(o.select_every) + " iterations on " +
                          std::to_string(o.select_days) + " validation days per patient (seeds 500000+)"},
        {"env_steps_per_s", env_steps / std::max(env_seconds, 1e-9)}}},
      {"intended_use", "Research: in-silico insulin dosing policies for type 1 diabetes on the UVA/Padova model. "
                       "Not a medical device; never dose a person from it."},
      {"limits", "Learned on simulated adults/adolescents/children of simglucose's 30-patient table with announced "
                 "meals; real patients differ (exercise, illness, unannounced meals, sensor faults). Always behind "
                 "the safety layer."},
      {"software", core::software_versions()}};
  core::write_json_file(o.out / core::kModelCardFile, card);  // usable before the evaluation finishes

  if (o.eval_days > 0) {
    glucose::EvaluationOptions eo;
    eo.days = o.eval_days;
    eo.seed = 1;
    eo.env = o.env;
    eo.safety = o.safety;
    std::vector<glucose::ControllerResult> res;
    res.push_back(glucose::evaluate_controller(
        "ppo", [&](const glucose::VirtualPatient&) { return load_ppo_controller(o.out); }, patients, eo, o.progress));
    for (const std::string n : {"basal-bolus", "pid"})
      res.push_back(glucose::evaluate_controller(
          n, [&](const glucose::VirtualPatient&) { return glucose::make_standard_controller(n); }, patients, eo, o.progress));
    nlohmann::json ev = nlohmann::json::array();
    for (const auto& r : res)
      ev.push_back({{"controller", r.controller}, {"tir_median", r.tir_median}, {"tir_q1", r.tir_q1},
                    {"tir_q3", r.tir_q3}, {"tbr70_mean", r.tbr70_mean}, {"tbr54_mean", r.tbr54_mean},
                    {"tar180_mean", r.tar180_mean}, {"patients_with_time_below_54", r.patients_with_any_below_54},
                    {"patients_below_10", r.patients_below_10},
                    {"risk_index_mean", r.risk_mean}, {"safety_interventions", r.safety_interventions}});
    card["evaluation"] = {{"days_per_patient", o.eval_days}, {"scenario", "random (held-out seeds)"}, {"results", ev}};
    core::write_file_atomic(o.out / "evaluation.txt", glucose::format_results_table(res));
    glucose::write_results_csv(o.out / "evaluation.csv", res);
    core::write_json_file(o.out / core::kModelCardFile, card);
  }
  return card;
}

std::unique_ptr<glucose::Controller> load_ppo_controller(const fs::path& run) {
  auto card = core::read_model_card(run);
  if (card.value("task", "") != "glucose-ppo")
    fail_invalid(run.string() + ": model card task is '" + card.value("task", "") + "', not a PPO insulin policy");
  Mlp actor(kObs, card.value("hidden", 64), kAct);
  const fs::path w = run / "policy.pt";
  if (!fs::exists(w)) fail_not_found(w.string() + ": policy weights missing");
  try {
    torch::load(actor, w.string());
  } catch (const c10::Error& e) {
    fail_invalid(w.string() + ": damaged or not a medai PPO policy (" + e.what_without_backtrace() + ")");
  }
  actor->eval();
  return std::make_unique<PpoController>(actor, "ppo:" + run.filename().string());
}

}  // namespace medai::rl
