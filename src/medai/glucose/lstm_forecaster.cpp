#include "medai/glucose/lstm_forecaster.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <numeric>
#include <random>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/precision.h"
#include "medai/core/progress.h"
#include "medai/core/run_folder.h"
#include "medai/glucose/learned_cards.h"
#include "medai/nn/nets/lstm_forecaster_net.h"
#include "medai/train/stored_options.h"
#include "medai/train/torch_helpers.h"
#include "medai/train/trainer.h"

namespace medai::glucose {

namespace fs = std::filesystem;

namespace {

constexpr int kFeatures = 6;  // scaled BG, 5-min change, time of day (sin, cos), insulin, carbs
constexpr int kOutputs = 12;  // BG change 5..60 min ahead
constexpr double kCenter = 140, kScale = 60, kDiffScale = 10, kTargetScale = 30;
constexpr const char* kWeightsFile = "forecaster.pt";

using LstmNet = nn::LstmForecasterNet;
LstmNet make_net(int hidden, int layers, double dropout = 0.0) {
  return LstmNet(nn::LstmForecasterNetOptions(kFeatures, hidden, kOutputs).layers(layers).dropout(dropout));
}

// `ins`, `carbs`: per-slot insulin (U) and carbohydrate (g) aligned with `g`, or null (zeros).
void fill_features(float* dst, const double* g, int history, int64_t last_minute, bool tod_on,
                   const double* ins = nullptr, const double* carbs = nullptr) {
  constexpr double kTwoPi = 6.283185307179586;
  for (int k = 0; k < history; ++k) {
    const int64_t minute = last_minute - 5 * static_cast<int64_t>(history - 1 - k);
    const double tod = static_cast<double>(((minute % 1440) + 1440) % 1440) / 1440.0;
    dst[k * kFeatures + 0] = static_cast<float>((g[k] - kCenter) / kScale);
    dst[k * kFeatures + 1] = static_cast<float>(k == 0 ? 0.0 : (g[k] - g[k - 1]) / kDiffScale);
    dst[k * kFeatures + 2] = tod_on ? static_cast<float>(std::sin(kTwoPi * tod)) : 0.0f;
    dst[k * kFeatures + 3] = tod_on ? static_cast<float>(std::cos(kTwoPi * tod)) : 0.0f;
    dst[k * kFeatures + 4] = ins ? static_cast<float>(ins[k] / 2.0) : 0.0f;
    dst[k * kFeatures + 5] = carbs ? static_cast<float>(carbs[k] / 50.0) : 0.0f;
  }
}

torch::Tensor features(const std::vector<CgmSeries>& s, const std::vector<Window>& w, int history, bool tod,
                       bool inputs) {
  auto x = torch::empty({static_cast<int64_t>(w.size()), history, kFeatures});
  float* p = x.data_ptr<float>();
  for (size_t i = 0; i < w.size(); ++i) {
    const auto& [si, last] = w[i];
    const int first = last - history + 1;
    fill_features(p + i * history * kFeatures, s[si].mgdl.data() + first, history,
                  s[si].start_minute + 5 * static_cast<int64_t>(last), tod,
                  inputs ? s[si].insulin_u.data() + first : nullptr, inputs ? s[si].carbs_g.data() + first : nullptr);
  }
  return x;
}

torch::Tensor targets(const std::vector<CgmSeries>& s, const std::vector<Window>& w) {
  auto y = torch::empty({static_cast<int64_t>(w.size()), kOutputs});
  float* p = y.data_ptr<float>();
  for (size_t i = 0; i < w.size(); ++i) {
    const auto& [si, last] = w[i];
    for (int k = 0; k < kOutputs; ++k)
      p[i * kOutputs + k] = static_cast<float>((s[si].mgdl[last + k + 1] - s[si].mgdl[last]) / kTargetScale);
  }
  return y;
}

// BG at 30/60 min from the network's outputs (changes) and the last readings.
std::vector<std::array<double, 2>> to_bg(const torch::Tensor& out, const std::vector<double>& last) {
  auto o = out.contiguous();
  const float* p = o.data_ptr<float>();
  std::vector<std::array<double, 2>> r(last.size());
  for (size_t i = 0; i < last.size(); ++i)
    for (int h = 0; h < 2; ++h) r[i][h] = last[i] + kTargetScale * p[i * kOutputs + kHorizonSteps[h] - 1];
  return r;
}

torch::Tensor run_batched(LstmNet& net, const torch::Tensor& x, int64_t batch = 4096) {
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> outs;
  for (int64_t i = 0; i < x.size(0); i += batch)
    outs.push_back(net->forward(x.slice(0, i, std::min(i + batch, x.size(0)))));
  return outs.empty() ? torch::empty({0, kOutputs}) : torch::cat(outs);
}

// Mean of the members' outputs (an ensemble of networks trained from different seeds).
torch::Tensor ensemble_forward(std::vector<LstmNet>& nets, const torch::Tensor& x) {
  torch::Tensor sum;
  for (auto& n : nets) {
    auto o = run_batched(n, x);
    sum = sum.defined() ? sum + o : o;
  }
  return sum / static_cast<double>(nets.size());
}

// RMSE (mg/dL) at 30 and 60 min of forecasts for the given windows.
std::array<double, 2> rmse_at_horizons(const std::vector<std::array<double, 2>>& pred, const std::vector<CgmSeries>& s,
                                       const std::vector<Window>& w) {
  std::array<double, 2> sq{};
  for (size_t i = 0; i < w.size(); ++i)
    for (int h = 0; h < 2; ++h) sq[h] += std::pow(pred[i][h] - s[w[i].first].mgdl[w[i].second + kHorizonSteps[h]], 2);
  return {std::sqrt(sq[0] / w.size()), std::sqrt(sq[1] / w.size())};
}

std::string member_file(int k) { return k == 0 ? kWeightsFile : "forecaster_" + std::to_string(k) + ".pt"; }

}  // namespace

struct GlucoseForecaster::Impl {
  std::vector<LstmNet> nets;
  nlohmann::json card;
  int history = 24;
  bool time_of_day = true;
  bool inputs = false;  // insulin and carbs channels learned
};

GlucoseForecaster::GlucoseForecaster() : impl_(std::make_shared<Impl>()) {}
GlucoseForecaster::~GlucoseForecaster() = default;
GlucoseForecaster::GlucoseForecaster(GlucoseForecaster&&) noexcept = default;
GlucoseForecaster& GlucoseForecaster::operator=(GlucoseForecaster&&) noexcept = default;

GlucoseForecaster GlucoseForecaster::load(const fs::path& run) {
  GlucoseForecaster f;
  f.impl_->card = core::read_model_card(run);
  const ForecasterCard c = ForecasterCard::from_json(f.impl_->card, (run / core::kModelCardFile).string());
  f.impl_->history = c.history;
  f.impl_->time_of_day = c.time_of_day;
  f.impl_->inputs = c.insulin_and_carbs;
  const int members = c.ensemble, hidden = c.hidden, layers = c.layers;
  for (int k = 0; k < members; ++k) f.impl_->nets.push_back(make_net(hidden, layers));
  for (size_t k = 0; k < f.impl_->nets.size(); ++k) {
    const fs::path w = run / member_file(static_cast<int>(k));
    if (!fs::exists(w)) fail_not_found(w.string() + ": forecaster weights missing");
    try {
      torch::load(f.impl_->nets[k], w.string());
    } catch (const c10::Error& e) {
      fail_invalid(w.string() + ": damaged or not a medai forecaster (" + e.what_without_backtrace() + ")");
    }
    f.impl_->nets[k]->eval();
  }
  return f;
}

int GlucoseForecaster::history() const { return impl_->history; }
const nlohmann::json& GlucoseForecaster::card() const { return impl_->card; }

namespace {
std::vector<std::array<double, 2>> predict_windows(GlucoseForecaster::Impl& impl, const std::vector<CgmSeries>& s,
                                                   const std::vector<Window>& w) {
  std::vector<double> last;
  for (const auto& [si, l] : w) last.push_back(s[si].mgdl[l]);
  if (impl.inputs)
    for (const auto& x : s)
      if (!x.has_inputs())
        fail_invalid(
            x.id +
            ": this forecaster was trained with insulin and carbs; the recording has no insulin_u/carbs_g columns");
  return to_bg(ensemble_forward(impl.nets, features(s, w, impl.history, impl.time_of_day, impl.inputs)), last);
}
}  // namespace

std::vector<std::array<double, 2>> GlucoseForecaster::predict(const std::vector<CgmSeries>& s,
                                                              const std::vector<Window>& w) const {
  return predict_windows(*impl_, s, w);
}

bool GlucoseForecaster::uses_insulin_and_carbs() const { return impl_->inputs; }

std::array<double, 2> GlucoseForecaster::predict_one(const std::vector<double>& readings, int64_t last_minute,
                                                     const std::vector<double>& insulin_u,
                                                     const std::vector<double>& carbs_g) const {
  if (static_cast<int>(readings.size()) != impl_->history)
    fail_invalid("the forecaster needs the last " + std::to_string(impl_->history) + " CGM readings 5 min apart, got " +
                 std::to_string(readings.size()));
  for (double r : readings)
    if (!std::isfinite(r) || r <= 0) fail_invalid("a forecast needs finite positive CGM readings");
  auto x = torch::empty({1, impl_->history, kFeatures});
  const bool with = impl_->inputs && insulin_u.size() == readings.size() && carbs_g.size() == readings.size();
  if (impl_->inputs && !with)
    fail_invalid("this forecaster was trained with insulin and carbs: give them for each of the last " +
                 std::to_string(impl_->history) + " readings");
  fill_features(x.data_ptr<float>(), readings.data(), impl_->history, last_minute, impl_->time_of_day,
                with ? insulin_u.data() : nullptr, with ? carbs_g.data() : nullptr);
  return to_bg(ensemble_forward(impl_->nets, x), {readings.back()})[0];
}

ForecastFn forecast_fn(std::shared_ptr<GlucoseForecaster> model) {
  auto mu = std::make_shared<std::mutex>();
  return [model, mu](const std::vector<double>& r, int64_t t, const std::vector<double>& ins,
                     const std::vector<double>& cho) -> std::optional<std::array<double, 2>> {
    const auto n = static_cast<size_t>(model->history());
    if (r.size() < n) return std::nullopt;
    std::vector<double> last(r.end() - n, r.end()), li, lc;
    if (model->uses_insulin_and_carbs() && ins.size() == r.size() && cho.size() == r.size()) {
      li.assign(ins.end() - n, ins.end());
      lc.assign(cho.end() - n, cho.end());
    }
    std::lock_guard<std::mutex> lock(*mu);
    return model->predict_one(last, t, li, lc);
  };
}

BatchForecaster GlucoseForecaster::as_batch() const {
  return [impl = impl_](const std::vector<CgmSeries>& s, const std::vector<Window>& w) {
    return predict_windows(*impl, s, w);
  };
}

namespace {

struct MemberFit {
  LstmNet net;
  int best_epoch = 0;
  std::vector<train::EpochRecord> history;
};

// The training settings, stored in each member's train_state.json (a resumed run takes them).
template <class F>
void stored_fields(F&& f, ForecasterTrainOptions& o) {
  f("test_fraction", o.test_fraction)("validation_fraction", o.validation_fraction)("history", o.history);
  f("hidden", o.hidden)("layers", o.layers)("dropout", o.dropout)("time_of_day", o.time_of_day);
  f("skip_straight_runs", o.skip_straight_runs)("use_insulin_and_carbs", o.use_insulin_and_carbs);
  f("epochs", o.epochs)("batch_size", o.batch_size)("patience", o.patience)("lr", o.lr);
  f("weight_decay", o.weight_decay)("seed", o.seed)("ensemble", o.ensemble)("max_windows", o.max_windows);
  f("precision", o.precision);
}

nlohmann::json options_json(ForecasterTrainOptions o) {
  o.precision = core::precision_name(core::resolve_precision(o.precision));
  nlohmann::json j = nlohmann::json::object();
  stored_fields(train::StoreOptions{j}, o);
  return j;
}

ForecasterTrainOptions with_stored_options(ForecasterTrainOptions o, const fs::path& run_dir) {
  stored_fields(train::LoadOptions{train::resume_options(run_dir), (run_dir / train::kTrainStateFile).string()}, o);
  return o;
}

fs::path member_dir(const ForecasterTrainOptions& o, int member) {
  return o.out / "members" / std::to_string(member + 1);
}

// One member of the ensemble, from seed + member: AdamW on a cosine schedule, gradients clipped
// at norm 1, early stopping on validation RMSE (30 + 60 min), the best epoch's weights kept. Each
// member checkpoints every epoch in RUN/members/K (network, optimiser, best weights, random state),
// so a resumed member continues with the numbers of an uninterrupted run.
MemberFit fit_member(const ForecasterTrainOptions& o, int member, const torch::Tensor& xf, const torch::Tensor& yf,
                     const torch::Tensor& xv, const std::vector<double>& last_v, const std::vector<CgmSeries>& val,
                     const std::vector<Window>& w_val) {
  torch::manual_seed(o.seed + member);
  LstmNet net = make_net(o.hidden, o.layers, o.dropout);
  torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  const int64_t n = xf.size(0), steps_per_epoch = (n + o.batch_size - 1) / o.batch_size;
  train::TrainerOptions to;
  to.epochs = o.epochs;
  to.steps_per_epoch = steps_per_epoch;
  to.schedule = {train::ScheduleKind::Cosine, o.lr, steps_per_epoch * o.epochs, 0, 0.0};
  to.monitor = "val_rmse_sum";
  to.maximize = false;
  to.min_delta = 1e-4;
  to.patience = o.patience;
  to.label = o.ensemble > 1 ? "forecaster " + std::to_string(member + 1) + "/" + std::to_string(o.ensemble) + " epoch"
                            : std::string("forecaster epoch");
  to.progress = o.progress;
  to.log_epochs = false;
  to.run_dir = member_dir(o, member);
  to.resume = o.resume && fs::exists(to.run_dir / train::kTrainStateFile);
  const nlohmann::json stored = options_json(o);
  to.run_options = &stored;
  torch::Tensor perm;
  train::ParameterSnapshot best;
  const bool bf16 = core::resolve_precision(o.precision) == core::Precision::Bf16;
  train::TrainerHooks hooks;
  hooks.begin_epoch = [&](int) {
    net->train();
    perm = torch::randperm(n);
  };
  hooks.train_step = [&](int64_t b, double lr) -> std::optional<std::pair<double, int64_t>> {
    train::set_lr(opt, lr);
    auto idx = perm.slice(0, b * o.batch_size, std::min(n, (b + 1) * o.batch_size));
    torch::Tensor loss;
    {
      train::AutocastGuard autocast(bf16);
      loss = torch::mse_loss(net->forward(xf.index_select(0, idx)).to(torch::kFloat), yf.index_select(0, idx));
    }
    return std::pair{train::optimise(opt, loss, net->parameters(), 1.0), int64_t{1}};
  };
  hooks.validate = [&](int) {
    net->eval();
    train::AutocastGuard autocast(bf16);
    const auto [r30, r60] = rmse_at_horizons(to_bg(run_batched(net, xv).to(torch::kFloat), last_v), val, w_val);
    return train::Metrics{{"val_rmse_30", r30}, {"val_rmse_60", r60}, {"val_rmse_sum", r30 + r60}};
  };
  hooks.save_best = [&] { best.capture(net->parameters()); };
  hooks.save_checkpoint = [&](const fs::path& ck) {
    train::save_module(*net, ck / "model.pt");
    train::save_optimizer(opt, ck / "optimizer.pt");
    best.save(ck / "best.pt");
    train::save_rng_state(ck / "rng.pt");
  };
  hooks.load_checkpoint = [&](const fs::path& ck) {
    train::load_module(*net, ck / "model.pt");
    train::load_optimizer(opt, ck / "optimizer.pt");
    best.load(ck / "best.pt");
    train::load_rng_state(ck / "rng.pt");
  };
  train::TrainResult r = train::fit(to, hooks);
  if (r.stopped_early) spdlog::info("forecaster: early stop after epoch {} (best {})", r.history.size(), r.best_epoch);
  best.restore(net->parameters());
  net->eval();
  return {net, r.best_epoch, r.history};
}

}  // namespace

namespace {

// People sorted by id: the last test_fraction held out, the last validation_fraction of the rest
// choose the epoch; windows touching straight-line runs left out of training and selection.
struct ForecasterData {
  std::vector<CgmSeries> fit, val, train_all, test;
  std::vector<Window> w_fit, w_val;
  bool inputs = false;  // insulin and carbs learned (every training recording has them)
};

ForecasterData prepare_data(const ForecasterTrainOptions& o) {
  auto series = read_cgm_folder(o.data);
  const size_t n_train_all = split_by_sorted_id(series, o.test_fraction);
  if (n_train_all < 2)
    fail_invalid(o.data.string() + ": need at least 2 training patients (have " + std::to_string(series.size()) +
                 " files)");
  size_t n_val = std::max<size_t>(1, static_cast<size_t>(std::llround(n_train_all * o.validation_fraction)));
  const size_t n_fit = n_train_all - n_val;
  ForecasterData d;
  d.fit.assign(series.begin(), series.begin() + n_fit);
  d.val.assign(series.begin() + n_fit, series.begin() + n_train_all);
  d.train_all.assign(series.begin(), series.begin() + n_train_all);
  d.test.assign(series.begin() + n_train_all, series.end());
  auto& [fit, val, train_all, test, w_fit, w_val, inputs] = d;
  w_fit = make_windows(fit, o.history, kMaxHorizon).at;
  w_val = make_windows(val, o.history, kMaxHorizon).at;
  if (o.skip_straight_runs) {
    auto drop = [&](std::vector<Window>& w, const std::vector<CgmSeries>& s) {
      w.erase(std::remove_if(w.begin(), w.end(),
                             [&](const Window& x) {
                               return window_touches_straight(s[x.first], x.second, o.history, kMaxHorizon);
                             }),
              w.end());
    };
    drop(w_fit, fit);
    drop(w_val, val);
  }
  if (o.max_windows > 0 && static_cast<int>(w_fit.size()) > o.max_windows) {
    std::mt19937_64 rng(o.seed);
    std::shuffle(w_fit.begin(), w_fit.end(), rng);
    w_fit.resize(o.max_windows);
  }
  if (w_fit.empty() || w_val.empty())
    fail_invalid(o.data.string() + ": not enough 3-hour stretches of CGM to train on");
  spdlog::info("forecaster: {} training patients ({} windows), {} validation patients ({} windows), {} test patients",
               fit.size(), w_fit.size(), val.size(), w_val.size(), test.size());

  size_t with_inputs = 0;
  for (const auto& x : train_all) with_inputs += x.has_inputs();
  inputs = o.use_insulin_and_carbs && with_inputs == train_all.size();
  if (o.use_insulin_and_carbs && with_inputs > 0 && !inputs)
    spdlog::warn("forecaster: only {} of {} training recordings have insulin_u/carbs_g columns; learning from CGM only",
                 with_inputs, train_all.size());
  return d;
}

ForecasterCard make_card(const ForecasterTrainOptions& o, const ForecasterData& d, const std::vector<int>& best_epochs,
                         double val30, double val60, const RidgeForecaster& ridge) {
  const auto& [fit, val, train_all, test, w_fit, w_val, inputs] = d;
  ForecasterCard card;
  card.core = core::ModelCardCore::fresh(o.out, core::ModelKind::Forecaster, kForecasterTask);
  card.core.architecture =
      o.ensemble > 1 ? "ensemble of " + std::to_string(o.ensemble) + " LSTMs (mean)" : std::string("lstm");
  card.core.inputs = {
      {"cgm", "last " + std::to_string(o.history) + " CGM readings 5 min apart, and their 5-min changes", "mg/dL"}};
  if (o.time_of_day) card.core.inputs.push_back({"time_of_day", "clock time of each reading (sin, cos)", "minutes"});
  if (inputs) {
    card.core.inputs.push_back({"insulin", "insulin given per 5-min slot", "U"});
    card.core.inputs.push_back({"carbs", "carbohydrate eaten per 5-min slot", "g"});
  }
  card.core.training = {{"data", o.data.filename().string()},
                        {"patients_fit", fit.size()},
                        {"patients_validation", val.size()},
                        {"windows_fit", w_fit.size()},
                        {"windows_validation", w_val.size()},
                        {"best_epochs", best_epochs},
                        {"skip_straight_runs", o.skip_straight_runs},
                        {"best_epoch", best_epochs.front()},
                        {"lr", o.lr},
                        {"batch_size", o.batch_size},
                        {"seed", o.seed},
                        {"precision", core::precision_name(core::resolve_precision(o.precision))},
                        {"validation_rmse_30", val30},
                        {"validation_rmse_60", val60}};
  card.core.split = {{"rule", "patients sorted by id; the last " + std::to_string(o.test_fraction) + " held out"},
                     {"train_ids", nlohmann::json::array()},
                     {"test_ids", nlohmann::json::array()}};
  for (const auto& s : train_all) card.core.split["train_ids"].push_back(s.id);
  for (const auto& s : test) card.core.split["test_ids"].push_back(s.id);
  card.core.intended_use = std::string("Research decision support: 30/60-minute glucose forecasts from ") +
                           (inputs ? "CGM, insulin and carbohydrate records" : "CGM alone") +
                           " for people with type 1 diabetes. Not a medical device; not for dosing without clinician "
                           "review.";
  card.core.limitations = {
      inputs ? "Trained on CGM with insulin and carbohydrate records, which must be given (per 5-minute slot) at "
               "prediction time."
             : "Trained on CGM only (no insulin/carbs in these recordings).",
      "HUPA-UCM is partly linear interpolation of 15-minute FreeStyle Libre readings, which flatters every model - "
      "see the figures excluding straight runs.",
      "Held-out set dominated by one long recording (HUPA0027P); compare per-patient means."};
  card.history = o.history;
  card.hidden = o.hidden;
  card.layers = o.layers;
  card.ensemble = o.ensemble;
  card.dropout = o.dropout;
  card.time_of_day = o.time_of_day;
  card.insulin_and_carbs = inputs;
  card.outputs = "BG change 5..60 min ahead; reported at 30 and 60 min (mg/dL)";
  card.ridge_baseline = ridge.to_json();
  return card;
}

// Held-out patients: the LSTM against the three baselines on the same windows.
void evaluate_on_test(const ForecasterTrainOptions& o, const ForecasterData& d, const GlucoseForecaster& f,
                      const RidgeForecaster& ridge, ForecasterCard& card) {
  const auto& test = d.test;
  if (!test.empty()) {
    auto w_test = make_windows(test, o.history, kMaxHorizon).at;
    if (!w_test.empty()) {
      std::vector<MethodAccuracy> m{
          evaluate_forecaster("lstm", f.as_batch(), test, w_test, o.history),
          evaluate_forecaster("ridge", ridge_batch(ridge), test, w_test, o.history),
          evaluate_forecaster("linear", linear_batch(o.history), test, w_test, o.history),
          evaluate_forecaster("persistence", persistence_batch(o.history), test, w_test, o.history)};
      core::write_json_file(o.out / "test_report.json", forecast_json(m));
      core::write_file_atomic(o.out / "test_report.txt", format_forecast_table(m));
      card.extra["test"] = {{"patients", test.size()},
                            {"windows", w_test.size()},
                            {"lstm_rmse_30", m[0].all.pooled[0].rmse},
                            {"lstm_rmse_60", m[0].all.pooled[1].rmse},
                            {"ridge_rmse_30", m[1].all.pooled[0].rmse},
                            {"ridge_rmse_60", m[1].all.pooled[1].rmse},
                            {"lstm_rmse_30_excluding_straight_runs", m[0].no_straight.pooled[0].rmse},
                            {"lstm_rmse_60_excluding_straight_runs", m[0].no_straight.pooled[1].rmse},
                            {"ridge_rmse_30_excluding_straight_runs", m[1].no_straight.pooled[0].rmse},
                            {"ridge_rmse_60_excluding_straight_runs", m[1].no_straight.pooled[1].rmse}};
    }
  }
}

}  // namespace

nlohmann::json train_forecaster(const ForecasterTrainOptions& cli) {
  if (cli.out.empty()) fail_invalid("out: a run folder is required");
  ForecasterTrainOptions o = cli;
  if (cli.resume) o = with_stored_options(cli, member_dir(cli, 0));
  else train::check_fresh_run_folder(o.out);
  if (o.history < 8 || o.history > 288) fail_invalid("history must be 8..288 readings");
  torch::manual_seed(o.seed);
  ForecasterData d = prepare_data(o);
  const auto& [fit, val, train_all, test, w_fit, w_val, inputs] = d;
  auto xf = features(fit, w_fit, o.history, o.time_of_day, inputs), yf = targets(fit, w_fit);
  auto xv = features(val, w_val, o.history, o.time_of_day, inputs);
  std::vector<double> last_v;
  for (const auto& [si, l] : w_val) last_v.push_back(val[si].mgdl[l]);

  if (o.ensemble < 1 || o.ensemble > 32) fail_invalid("ensemble must be 1..32 networks");
  std::vector<LstmNet> members;
  std::vector<int> best_epochs;
  train::Curves curves({{"member", 0}, {"epoch", 0}, {"train_loss", 6}, {"val_rmse_30", 4}, {"val_rmse_60", 4}});
  for (int member = 0; member < o.ensemble; ++member) {
    MemberFit m = fit_member(o, member, xf, yf, xv, last_v, val, w_val);
    for (const auto& r : m.history)
      curves.add({static_cast<double>(member), static_cast<double>(r.epoch), r.train_loss, r.metric("val_rmse_30"),
                  r.metric("val_rmse_60")});
    members.push_back(m.net);
    best_epochs.push_back(m.best_epoch);
  }

  // Validation RMSE of the whole ensemble.
  const auto [val30, val60] = rmse_at_horizons(to_bg(ensemble_forward(members, xv), last_v), val, w_val);

  fs::create_directories(o.out);
  for (int k = 0; k < o.ensemble; ++k)
    core::write_atomic_with(o.out / member_file(k),
                            [&](const fs::path& tmp) { torch::save(members[k], tmp.string()); });
  core::write_file_atomic(o.out / "curves.csv", curves.to_csv());
  curves.where("member", 0)
      .plot(o.out / "curves.png",
            {{"training loss (member 1)", "epoch", "MSE (scaled)", "epoch", {"train_loss"}, {"train"}},
             {"validation RMSE (mg/dL, member 1)",
              "epoch",
              "mg/dL",
              "epoch",
              {"val_rmse_30", "val_rmse_60"},
              {"30 min", "60 min"}}});

  auto ridge = RidgeForecaster::fit(train_all, make_windows(train_all, o.history, kMaxHorizon).at, o.history);
  ForecasterCard card = make_card(o, d, best_epochs, val30, val60, ridge);
  GlucoseForecaster f;
  f.impl_->nets = members;
  f.impl_->history = o.history;
  f.impl_->time_of_day = o.time_of_day;
  f.impl_->inputs = inputs;
  evaluate_on_test(o, d, f, ridge, card);
  const nlohmann::json json = card.to_json();
  core::write_json_file(o.out / core::kModelCardFile, json);
  return json;
}

}  // namespace medai::glucose
