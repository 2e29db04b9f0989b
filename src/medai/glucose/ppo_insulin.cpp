#include "medai/glucose/ppo_insulin.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/precision.h"
#include "medai/core/run_folder.h"
#include "medai/glucose/evaluation.h"
#include "medai/glucose/insulin_env.h"
#include "medai/glucose/learned_cards.h"
#include "medai/glucose/vector_env.h"
#include "medai/rl/ppo.h"
#include "medai/train/stored_options.h"

namespace medai::glucose {

namespace fs = std::filesystem;

namespace {

constexpr int kObs = kInsulinObservations, kAct = kInsulinActions;

class PpoController : public Controller {
 public:
  PpoController(nn::Mlp actor, std::string name) : actor_(std::move(actor)), name_(std::move(name)) {}
  std::string name() const override { return name_; }
  Dose decide(const Observation& o, const PatientSettings& p) override {
    torch::NoGradGuard ng;
    auto x = torch::empty({1, kObs});
    insulin_observation(o, p, x.data_ptr<float>());
    auto m = actor_->forward(x);
    const float* a = m.data_ptr<float>();
    return insulin_dose(a[0], a[1], o, p);
  }

 private:
  nn::Mlp actor_;
  std::string name_;
};

rl::PpoConfig ppo_config(const PpoOptions& o) {
  rl::PpoConfig c;
  c.iterations = o.iterations;
  c.rollout_steps = o.rollout_steps;
  c.update_epochs = o.update_epochs;
  c.minibatch = o.minibatch;
  c.lr = o.lr;
  c.gamma = o.gamma;
  c.gae_lambda = o.gae_lambda;
  c.clip = o.clip;
  c.entropy_coef = o.entropy_coef;
  c.value_coef = o.value_coef;
  c.reward_scale = o.reward_scale;
  c.hidden = o.hidden;
  c.initial_mean = {std::log(std::max(o.initial_basal_multiple, 1e-3)), 0.0};
  c.select_every = o.select_every;
  c.seed = o.seed;
  c.bf16 = core::resolve_precision(o.precision) == core::Precision::Bf16;
  c.progress = o.progress;
  return c;
}

// The learning settings, stored in train_state.json (a resumed run takes them).
template <class F>
void stored_fields(F&& f, PpoOptions& o) {
  f("patients", o.patients)("copies_per_patient", o.copies_per_patient)("iterations", o.iterations);
  f("rollout_steps", o.rollout_steps)("episode_days", o.episode_days)("update_epochs", o.update_epochs);
  f("minibatch", o.minibatch)("lr", o.lr)("gamma", o.gamma)("gae_lambda", o.gae_lambda)("clip", o.clip);
  f("entropy_coef", o.entropy_coef)("value_coef", o.value_coef)("hidden", o.hidden)("seed", o.seed);
  f("eval_days", o.eval_days)("select_every", o.select_every)("select_days", o.select_days);
  f("reward_scale", o.reward_scale)("initial_basal_multiple", o.initial_basal_multiple);
  f("safety", o.safety.enabled)("precision", o.precision);
}

nlohmann::json options_json(PpoOptions o) {
  o.precision = core::precision_name(core::resolve_precision(o.precision));
  nlohmann::json j = nlohmann::json::object();
  stored_fields(train::StoreOptions{j}, o);
  return j;
}

PpoOptions with_stored_options(PpoOptions o) {
  stored_fields(train::LoadOptions{train::resume_options(o.out), (o.out / train::kTrainStateFile).string()}, o);
  return o;
}

// Model selection on validation days (their own seeds): the deterministic policy's median TIR,
// penalised for any time below 70 and heavily below 54.
rl::PpoCallbacks insulin_callbacks(const PpoOptions& o, VectorEnv& venv, const std::vector<VirtualPatient>& patients) {
  rl::PpoCallbacks cb;
  cb.stat_columns = {{"tir", 2}, {"tbr70", 3}, {"tbr54", 3}};
  cb.iteration_stats = [&venv] {
    auto st = venv.take_stats();
    return std::vector<double>{st.tir, st.tbr70, st.tbr54};
  };
  cb.selection_columns = {
      {"val_tir_median", 6}, {"val_tbr70_mean", 6}, {"val_tbr54_mean", 6}, {"val_patients_below_54", 0}};
  cb.evaluate_policy = [&o, &patients](nn::Mlp actor) {
    EvaluationOptions vo;
    vo.days = o.select_days;
    vo.seed = 500000;
    vo.env = o.env;
    vo.safety = o.safety;
    auto r = evaluate_controller(
        "ppo", [&](const VirtualPatient&) { return std::make_unique<PpoController>(actor, "ppo"); }, patients, vo,
        false);
    const double score = r.tir_median - 2.0 * r.tbr70_mean - 20.0 * r.tbr54_mean - 10.0 * r.patients_with_any_below_54;
    return std::pair{score, std::vector<double>{r.tir_median, r.tbr70_mean, r.tbr54_mean,
                                                static_cast<double>(r.patients_with_any_below_54)}};
  };
  return cb;
}

PolicyCard make_card(const PpoOptions& o, int n_env, const rl::PpoResult& res) {
  const int T = o.rollout_steps;
  const int best_iteration = res.selected_iteration;
  const double env_steps_per_s = res.env_steps_per_s;

  PolicyCard card;
  card.core = core::ModelCardCore::fresh(o.out, core::ModelKind::Policy, kPolicyTask);
  card.core.architecture = "actor-critic MLP " + std::to_string(kObs) + "-" + std::to_string(o.hidden) + "-" +
                           std::to_string(o.hidden) + "-" + std::to_string(kAct) + " (tanh)";
  card.core.inputs = {{"cgm", "last 12 CGM readings (1 h) and the 30-min CGM trend", "mg/dL"},
                      {"iob", "insulin on board / (3 h of the patient's basal)", "1"},
                      {"carbs", "announced carbohydrate / carb ratio", "U"},
                      {"time_of_day", "clock time (sin, cos)", "minutes"}};
  card.core.training = {
      {"iterations", o.iterations},
      {"environments", n_env},
      {"rollout_steps", T},
      {"episode_days", o.episode_days},
      {"transitions", static_cast<int64_t>(o.iterations) * T * n_env},
      {"lr", o.lr},
      {"gamma", o.gamma},
      {"gae_lambda", o.gae_lambda},
      {"clip", o.clip},
      {"seed", o.seed},
      {"reward_scale", o.reward_scale},
      {"precision", core::precision_name(core::resolve_precision(o.precision))},
      {"selected_iteration", best_iteration},
      {"selection", "deterministic policy checked every " + std::to_string(o.select_every) + " iterations on " +
                        std::to_string(o.select_days) + " validation days per patient (seeds 500000+)"},
      {"env_steps_per_s", env_steps_per_s}};
  card.core.intended_use =
      "Research: in-silico insulin dosing policies for type 1 diabetes on the UVA/Padova model. "
      "Not a medical device; never dose a person from it.";
  card.core.limitations = {
      "Learned on simulated adults/adolescents/children of simglucose's 30-patient table with announced meals; real "
      "patients differ (exercise, illness, unannounced meals, sensor faults).",
      "Always behind the safety layer."};
  card.hidden = o.hidden;
  card.extra = {
      {"patients", o.patients},
      {"observation", "last 12 CGM readings (1 h), 30-min CGM trend, IOB / (3 h of basal), carbs/CR, time of day"},
      {"action", "basal = patient basal x exp(a0), a0 in [-3, 1.5]; meal bolus = (1 + a1) x carbs/CR, factor 0..2"},
      {"reward", "mean over each minute of -risk(BG)/10, -3 below 70 mg/dL, -20 more below 54 mg/dL"},
      {"safety",
       {{"enabled", o.safety.enabled},
        {"suspend_below_mgdl", o.safety.suspend_below_mgdl},
        {"predicted_low_mgdl", o.safety.predicted_low_mgdl},
        {"max_basal_multiple", o.safety.max_basal_multiple}}},
      {"sensor", o.env.sensor ? o.env.sensor->name : "none (CGM = BG)"},
      {"pump", o.env.pump ? o.env.pump->name : "none (exact delivery)"}};
  return card;
}

}  // namespace

nlohmann::json train_ppo(const PpoOptions& cli) {
  if (cli.out.empty()) fail_invalid("out: a run folder is required");
  const PpoOptions o = cli.resume ? with_stored_options(cli) : cli;
  if (!o.resume) train::check_fresh_run_folder(o.out);
  if (o.iterations < 1 || o.copies_per_patient < 1 || o.rollout_steps < 2) fail_invalid("PPO sizes must be positive");
  std::vector<VirtualPatient> patients;
  for (const auto& n : expand_patient_names(o.patients, o.params))
    patients.push_back(load_virtual_patient(n, o.params, o.quest));
  VectorEnv venv(patients, o.copies_per_patient, o.env, o.safety, o.seed, o.episode_days);
  InsulinEnvironment env(venv);
  const int n_env = venv.size(), T = o.rollout_steps;
  spdlog::info("PPO: {} patients x {} copies = {} environments, {} steps per rollout", patients.size(),
               o.copies_per_patient, n_env, T);
  rl::PpoConfig config = ppo_config(o);
  const nlohmann::json stored = options_json(o);
  config.run_dir = o.out;
  config.resume = o.resume;
  config.run_options = &stored;
  rl::PpoResult res = rl::train_ppo(env, config, insulin_callbacks(o, venv, patients));

  fs::create_directories(o.out);
  core::write_atomic_with(o.out / "policy.pt", [&](const fs::path& tmp) { torch::save(res.actor, tmp.string()); });
  core::write_atomic_with(o.out / "critic.pt", [&](const fs::path& tmp) { torch::save(res.critic, tmp.string()); });
  res.curves.write(
      o.out, {{"time in range while learning (sampled policy)",
               "iteration",
               "%",
               "iteration",
               {"tir", "tbr70"},
               {"TIR 70-180", "<70"},
               {{44, 160, 44}, {214, 39, 40}},
               false},
              {"mean reward per step", "iteration", "reward", "iteration", {"mean_reward"}, {"reward"}, {}, false}});
  core::write_file_atomic(o.out / "selection.csv", res.selection.to_csv());
  PolicyCard card = make_card(o, n_env, res);
  core::write_json_file(o.out / core::kModelCardFile, card.to_json());  // usable before the evaluation finishes

  if (o.eval_days > 0) {
    EvaluationOptions eo;
    eo.days = o.eval_days;
    eo.seed = 1;
    eo.env = o.env;
    eo.safety = o.safety;
    std::vector<ControllerResult> res;
    res.push_back(evaluate_controller(
        "ppo", [&](const VirtualPatient&) { return load_ppo_controller(o.out); }, patients, eo, o.progress));
    for (const std::string n : {"basal-bolus", "pid"})
      res.push_back(evaluate_controller(
          n, [&](const VirtualPatient&) { return make_standard_controller(n); }, patients, eo, o.progress));
    card.extra["evaluation"] = {
        {"days_per_patient", o.eval_days}, {"scenario", "random (held-out seeds)"}, {"results", results_json(res)}};
    core::write_file_atomic(o.out / "evaluation.txt", format_results_table(res));
    write_results_csv(o.out / "evaluation.csv", res);
    core::write_json_file(o.out / core::kModelCardFile, card.to_json());
  }
  return card.to_json();
}

std::unique_ptr<Controller> load_ppo_controller(const fs::path& run) {
  const PolicyCard card = PolicyCard::from_json(core::read_model_card(run), (run / core::kModelCardFile).string());
  nn::Mlp actor(nn::MlpOptions(kObs, card.hidden, kAct));
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

}  // namespace medai::glucose
