#include "medai/icu/sequence_model.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/metrics/classification.h"
#include "medai/train/distributed.h"
#include "medai/train/torch_helpers.h"
#include "medai/train/trainer.h"

namespace medai::icu {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kHours = 48;
constexpr int kStatics = 10;  // age, gender, height, weight, ICUType x4, missing-height, missing-weight

// Skewed laboratory values (enzymes, bilirubin, creatinine, lactate, troponins, urine...) enter on
// log(1 + x): a few extreme values would otherwise squash everyone else to the mean.
bool log_scaled(int variable) {
  static const std::vector<bool> flags = [] {
    const std::vector<std::string> skewed{"ALP",        "ALT",     "AST",     "Bilirubin", "BUN",
                                          "Creatinine", "Glucose", "Lactate", "Platelets", "TroponinI",
                                          "TroponinT",  "Urine",   "WBC",     "PaO2",      "Cholesterol"};
    std::vector<bool> f;
    for (const auto& n : series_names()) f.push_back(std::find(skewed.begin(), skewed.end(), n) != skewed.end());
    return f;
  }();
  return flags[variable];
}

double scaled(const Observation& o) { return log_scaled(o.variable) ? std::log1p(std::max(0.0f, o.value)) : o.value; }

// Per-variable mean and standard deviation of the training observations (and of the statics).
struct Normaliser {
  std::vector<double> mean, sd, static_mean, static_sd;
};

struct Batch {
  torch::Tensor x, mask, delta, last, statics;  // [N, 48, V] x4, [N, S]
};

std::vector<float> static_row(const Stay& s) {
  std::vector<float> r{s.age, s.gender, s.height, s.weight};
  for (int t = 1; t <= 4; ++t) r.push_back(s.icu_type == t ? 1.0f : 0.0f);
  r.push_back(std::isnan(s.height) ? 1.0f : 0.0f);
  r.push_back(std::isnan(s.weight) ? 1.0f : 0.0f);
  return r;
}

Normaliser fit_normaliser(const std::vector<Stay>& stays) {
  const size_t v = series_names().size();
  Normaliser n;
  std::vector<double> sum(v, 0), sum2(v, 0), count(v, 0), ss(kStatics, 0), ss2(kStatics, 0), sc(kStatics, 0);
  for (const auto& s : stays) {
    for (const auto& o : s.observations)
      sum[o.variable] += o.value, sum2[o.variable] += o.value * o.value, ++count[o.variable];
    const auto r = static_row(s);
    for (int k = 0; k < kStatics; ++k)
      if (!std::isnan(r[k])) ss[k] += r[k], ss2[k] += r[k] * r[k], ++sc[k];
  }
  const auto finish = [](double s, double s2, double c, std::vector<double>& mean, std::vector<double>& sd) {
    const double m = c > 0 ? s / c : 0, var = c > 1 ? s2 / c - m * m : 1;
    mean.push_back(m);
    sd.push_back(var > 1e-12 ? std::sqrt(var) : 1.0);
  };
  for (size_t k = 0; k < v; ++k) finish(sum[k], sum2[k], count[k], n.mean, n.sd);
  for (int k = 0; k < kStatics; ++k) finish(ss[k], ss2[k], sc[k], n.static_mean, n.static_sd);
  return n;
}

Batch make_batch(const std::vector<Stay>& stays, const Normaliser& norm) {
  const int64_t n = static_cast<int64_t>(stays.size()), v = static_cast<int64_t>(series_names().size());
  auto x = torch::zeros({n, kHours, v}), mask = torch::zeros({n, kHours, v}), delta = torch::zeros({n, kHours, v}),
       last = torch::zeros({n, kHours, v}), statics = torch::zeros({n, kStatics});
  auto xa = x.accessor<float, 3>(), ma = mask.accessor<float, 3>(), da = delta.accessor<float, 3>(),
       la = last.accessor<float, 3>();
  auto sa = statics.accessor<float, 2>();
  std::vector<float> bin_sum(kHours * v), bin_n(kHours * v);
  for (int64_t i = 0; i < n; ++i) {
    std::fill(bin_sum.begin(), bin_sum.end(), 0.0f);
    std::fill(bin_n.begin(), bin_n.end(), 0.0f);
    for (const auto& o : stays[i].observations) {
      const int h = std::clamp(static_cast<int>(o.minutes / 60), 0, kHours - 1);
      bin_sum[h * v + o.variable] += static_cast<float>((scaled(o) - norm.mean[o.variable]) / norm.sd[o.variable]);
      bin_n[h * v + o.variable] += 1;
    }
    for (int64_t k = 0; k < v; ++k) {
      float since = 0, previous = 0;  // hours since last seen; its normalised value (0 = the mean)
      bool seen = false;
      for (int h = 0; h < kHours; ++h) {
        if (h > 0) since += 1;
        da[i][h][k] = seen ? since : static_cast<float>(h);
        la[i][h][k] = previous;
        if (bin_n[h * v + k] > 0) {
          const float value = bin_sum[h * v + k] / bin_n[h * v + k];
          xa[i][h][k] = value;
          ma[i][h][k] = 1;
          previous = value;
          since = 0;
          seen = true;
        }
      }
    }
    const auto r = static_row(stays[i]);
    for (int k = 0; k < kStatics; ++k)
      sa[i][k] = std::isnan(r[k]) ? 0.0f : static_cast<float>((r[k] - norm.static_mean[k]) / norm.static_sd[k]);
  }
  return {x, mask, delta, last, statics};
}

struct GruDImpl : torch::nn::Module {
  GruDImpl(int64_t v, int64_t hidden, double dropout)
      : gamma_x_w(register_parameter("gamma_x_w", torch::full({v}, 0.05))),
        gamma_x_b(register_parameter("gamma_x_b", torch::zeros({v}))),
        gamma_h(register_module("gamma_h", torch::nn::Linear(v, hidden))),
        cell(register_module("cell", torch::nn::GRUCell(2 * v, hidden))),
        drop(register_module("drop", torch::nn::Dropout(dropout))),
        out(register_module("out", torch::nn::Linear(hidden + kStatics, 1))) {}
  torch::Tensor forward(const Batch& b) {
    const auto n = b.x.size(0);
    // Input decay towards the mean (0 after normalisation) and the imputed inputs, all hours at once.
    const auto gx = torch::exp(-torch::relu(gamma_x_w * b.delta + gamma_x_b));
    const auto x_hat = b.mask * b.x + (1 - b.mask) * gx * b.last;
    const auto inputs = torch::cat({x_hat, b.mask}, 2);
    const auto gh = torch::exp(-torch::relu(gamma_h->forward(b.delta)));
    auto h = torch::zeros({n, cell->options.hidden_size()});
    for (int t = 0; t < kHours; ++t) h = cell->forward(inputs.select(1, t), gh.select(1, t) * h);
    return out->forward(torch::cat({drop->forward(h), b.statics}, 1)).squeeze(1);
  }
  torch::Tensor gamma_x_w, gamma_x_b;
  torch::nn::Linear gamma_h{nullptr};
  torch::nn::GRUCell cell{nullptr};
  torch::nn::Dropout drop{nullptr};
  torch::nn::Linear out{nullptr};
};
TORCH_MODULE(GruD);

Batch slice(const Batch& b, const torch::Tensor& idx) {
  return {b.x.index_select(0, idx), b.mask.index_select(0, idx), b.delta.index_select(0, idx),
          b.last.index_select(0, idx), b.statics.index_select(0, idx)};
}

torch::Tensor run(GruD& net, const Batch& b) {
  torch::NoGradGuard ng;
  net->eval();
  std::vector<torch::Tensor> parts;
  const int64_t n = b.x.size(0);
  for (int64_t s = 0; s < n; s += 512) parts.push_back(net->forward(slice(b, torch::arange(s, std::min(n, s + 512)))));
  return torch::cat(parts);
}

}  // namespace

struct SequenceModel::Impl {
  Normaliser norm;
  SequenceOptions options;
  GruD net{nullptr};
};

SequenceModel::SequenceModel() = default;
SequenceModel::~SequenceModel() = default;
SequenceModel::SequenceModel(SequenceModel&&) noexcept = default;
SequenceModel& SequenceModel::operator=(SequenceModel&&) noexcept = default;

SequenceModel SequenceModel::train(const std::vector<Stay>& stays, const std::vector<int>& died,
                                   const SequenceOptions& o) {
  if (stays.size() != died.size() || stays.size() < 20) fail_invalid("ICU sequence model: too few stays");
  train::apply_torch_threads();
  torch::manual_seed(o.seed);
  // Stratified validation split for early stopping.
  std::vector<size_t> fit_idx, val_idx;
  std::mt19937_64 rng(o.seed);
  for (int cls = 0; cls <= 1; ++cls) {
    std::vector<size_t> members;
    for (size_t i = 0; i < died.size(); ++i)
      if (died[i] == cls) members.push_back(i);
    std::shuffle(members.begin(), members.end(), rng);
    const size_t nv = static_cast<size_t>(std::round(o.validation_fraction * members.size()));
    val_idx.insert(val_idx.end(), members.begin(), members.begin() + nv);
    fit_idx.insert(fit_idx.end(), members.begin() + nv, members.end());
  }
  std::vector<Stay> fit_stays, val_stays;
  std::vector<int> val_y;
  std::vector<float> fit_y;
  for (size_t i : fit_idx) fit_stays.push_back(stays[i]), fit_y.push_back(static_cast<float>(died[i]));
  for (size_t i : val_idx) val_stays.push_back(stays[i]), val_y.push_back(died[i]);
  SequenceModel m;
  m.impl_ = std::make_unique<Impl>();
  m.impl_->options = o;
  m.impl_->norm = fit_normaliser(fit_stays);
  const Batch fit = make_batch(fit_stays, m.impl_->norm), val = make_batch(val_stays, m.impl_->norm);
  const auto y = torch::tensor(fit_y);
  GruD net(static_cast<int64_t>(series_names().size()), o.hidden, o.dropout);
  std::unique_ptr<train::DataParallel> dp;
  if (o.distributed) {
    dp = std::make_unique<train::DataParallel>(train::distributed_env_from_environment());
    dp->broadcast_parameters(net->parameters());
    dp->attach(net->parameters());
    if (dp->is_main())
      spdlog::info("GRU-D data-parallel: {} processes, {} gradient buckets, {} bytes all-reduced per step", dp->world(),
                   dp->buckets(), dp->bytes_per_step());
  }
  const bool main_rank = !dp || dp->is_main();
  auto opt = train::make_adamw(net->parameters(), o.lr, o.weight_decay);
  const int64_t n = static_cast<int64_t>(fit_stays.size()), steps = (n + o.batch_size - 1) / o.batch_size;
  train::TrainerOptions to;
  to.epochs = o.epochs;
  to.steps_per_epoch = steps;
  to.schedule = {train::ScheduleKind::Cosine, o.lr, steps * o.epochs, 0, 0.0};
  to.monitor = "val_auroc";
  to.patience = o.patience;
  to.label = "GRU-D epoch";
  to.progress = o.progress && main_rank;
  to.log_epochs = false;
  torch::Tensor perm;
  train::ParameterSnapshot best;
  train::TrainerHooks hooks;
  hooks.begin_epoch = [&](int epoch) {
    net->train();
    // Its own generator: every rank draws the same order whatever else consumed random numbers.
    auto gen = at::detail::createCPUGenerator(o.seed * 1000003ULL + static_cast<uint64_t>(epoch));
    perm = torch::randperm(n, gen);
  };
  hooks.train_step = [&](int64_t b, double lr) -> std::optional<std::pair<double, int64_t>> {
    train::set_lr(*opt, lr);
    auto idx = perm.slice(0, b * o.batch_size, std::min(n, (b + 1) * o.batch_size));
    const int64_t global = idx.size(0);
    if (dp) {
      const auto [lo, hi] = dp->shard(global);
      idx = idx.slice(0, lo, hi);
    }
    // The batch mean as a sum over this rank's rows / the global batch: summed across ranks it is exact.
    const auto loss = torch::binary_cross_entropy_with_logits(net->forward(slice(fit, idx)), y.index_select(0, idx), {},
                                                              {}, at::Reduction::Sum) /
                      static_cast<double>(global);
    opt->zero_grad();
    loss.backward();
    if (dp) dp->finish_gradients();
    torch::nn::utils::clip_grad_norm_(net->parameters(), 1.0);
    opt->step();
    const double value = dp ? dp->sum(loss.item<double>()) : loss.item<double>();
    return std::pair{value, int64_t{1}};
  };
  hooks.validate = [&](int) {
    const auto z = run(net, val);
    const std::vector<double> s(z.data_ptr<float>(), z.data_ptr<float>() + z.numel());
    return train::Metrics{{"val_auroc", metrics::auroc(s, val_y)}};
  };
  hooks.save_best = [&] { best.capture(net->parameters()); };
  if (!o.curves_csv.empty() && main_rank)
    hooks.end_epoch = [&](const std::vector<train::EpochRecord>& h) {
      core::write_file_atomic(o.curves_csv, train::epoch_curves(h).to_csv());
    };
  const auto r = train::fit(to, hooks);
  best.restore(net->parameters());
  spdlog::debug("GRU-D: best epoch {} of {}, validation AUROC {:.4f}", r.best_epoch, r.history.size(), r.best_value);
  m.impl_->net = net;
  return m;
}

std::vector<double> SequenceModel::log_odds(const std::vector<Stay>& stays) const {
  const auto z = run(impl_->net, make_batch(stays, impl_->norm));
  return std::vector<double>(z.data_ptr<float>(), z.data_ptr<float>() + z.numel());
}

SequenceModel::Attributions SequenceModel::attributions(const Stay& stay, int steps) const {
  const Batch b = make_batch({stay}, impl_->norm);
  auto& net = impl_->net;
  net->eval();
  // The path from the baseline (alpha 0) to the stay (alpha 1), all steps in one batch.
  const auto alpha = (torch::arange(1, steps + 1, torch::kFloat) / steps).view({steps, 1, 1});
  auto x = (alpha * b.x).detach().requires_grad_(true), last = (alpha * b.last).detach().requires_grad_(true);
  auto statics = (alpha.view({steps, 1}) * b.statics).detach().requires_grad_(true);
  const auto expand = [&](const torch::Tensor& t) { return t.expand({steps, t.size(1), t.size(2)}); };
  const Batch path{x, expand(b.mask), expand(b.delta), last, statics.expand({steps, b.statics.size(1)})};
  const auto z = net->forward(path);
  z.sum().backward();
  Attributions a;
  {
    torch::NoGradGuard ng;
    a.baseline_log_odds =
        net->forward({torch::zeros_like(b.x), b.mask, b.delta, torch::zeros_like(b.last), torch::zeros_like(b.statics)})
            .item<double>();
  }
  const auto per_input = (x.grad().mean(0) * b.x[0] + last.grad().mean(0) * b.last[0]).sum(0);  // [V]
  const auto per_static = statics.grad().mean(0) * b.statics[0];                                // [S]
  for (size_t k = 0; k < series_names().size(); ++k)
    a.per_variable[series_names()[k]] += per_input[static_cast<int64_t>(k)].item<double>();
  const char* static_names[kStatics] = {"Age",     "Gender",  "Height",  "Weight", "ICUType",
                                        "ICUType", "ICUType", "ICUType", "Height", "Weight"};
  for (int k = 0; k < kStatics; ++k) a.per_variable[static_names[k]] += per_static[k].item<double>();
  return a;
}

void SequenceModel::save(const fs::path& dir) const {
  fs::create_directories(dir);
  const auto& n = impl_->norm;
  core::write_json_file(dir / "grud.json", {{"format", "medai.icu_grud/1"},
                                            {"hidden", impl_->options.hidden},
                                            {"mean", n.mean},
                                            {"sd", n.sd},
                                            {"static_mean", n.static_mean},
                                            {"static_sd", n.static_sd},
                                            {"variables", series_names()}});
  train::save_module(*impl_->net, dir / "grud.pt");
}

SequenceModel SequenceModel::load(const fs::path& dir) {
  const fs::path meta = dir / "grud.json";
  const json j = core::read_json_file(meta);
  if (!j.is_object() || j.value("format", "") != "medai.icu_grud/1" ||
      j.value("variables", json()) != json(series_names()))
    fail_invalid(meta.string() + ": not a medai GRU-D model for these variables (format medai.icu_grud/1)");
  SequenceModel m;
  m.impl_ = std::make_unique<Impl>();
  m.impl_->options.hidden = core::json_int(j, "hidden", meta.string(), 1, 4096);
  auto& n = m.impl_->norm;
  n.mean = j.at("mean").get<std::vector<double>>();
  n.sd = j.at("sd").get<std::vector<double>>();
  n.static_mean = j.at("static_mean").get<std::vector<double>>();
  n.static_sd = j.at("static_sd").get<std::vector<double>>();
  if (n.mean.size() != series_names().size() || n.static_mean.size() != kStatics)
    fail_invalid(meta.string() + ": normaliser sizes do not match");
  m.impl_->net = GruD(static_cast<int64_t>(series_names().size()), m.impl_->options.hidden, 0.0);
  train::load_module(*m.impl_->net, dir / "grud.pt");
  return m;
}

}  // namespace medai::icu
