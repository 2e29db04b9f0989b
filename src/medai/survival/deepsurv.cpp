#include "medai/survival/deepsurv.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/survival/concordance.h"
#include "medai/train/torch_helpers.h"
#include "medai/train/trainer.h"

namespace medai::survival {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

torch::nn::Sequential make_net(int64_t in, const std::vector<int>& hidden, double dropout, int64_t out) {
  torch::nn::Sequential net;
  int64_t width = in;
  for (int h : hidden) {
    net->push_back(torch::nn::Linear(width, h));
    net->push_back(torch::nn::SELU());
    net->push_back(torch::nn::Dropout(dropout));
    width = h;
  }
  net->push_back(torch::nn::Linear(width, out));
  return net;
}

// Rows sorted by time descending, with, for each row, the index of the last row of its tie group
// (the Breslow risk set of a death at t is everyone with time >= t).
struct RiskSets {
  torch::Tensor order, group_end, event;
  float events = 0;
};

RiskSets risk_sets(const std::vector<double>& time, const std::vector<int>& event) {
  std::vector<int64_t> order(time.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return time[a] > time[b]; });
  std::vector<int64_t> end(order.size());
  for (size_t i = order.size(); i-- > 0;)
    end[i] = i + 1 < order.size() && time[order[i + 1]] == time[order[i]] ? end[i + 1] : static_cast<int64_t>(i);
  std::vector<float> ev;
  for (auto i : order) ev.push_back(static_cast<float>(event[i]));
  RiskSets r{torch::tensor(order), torch::tensor(end), torch::tensor(ev)};
  r.events = std::accumulate(ev.begin(), ev.end(), 0.0f);
  return r;
}

// Mean negative log partial likelihood over the events (Breslow ties).
torch::Tensor cox_loss(const torch::Tensor& eta, const RiskSets& r) {
  const auto sorted = eta.index_select(0, r.order);
  const auto log_risk = torch::logcumsumexp(sorted, 0).index_select(0, r.group_end);
  return -((sorted - log_risk) * r.event).sum() / std::max(1.0f, r.events);
}

// Logistic hazard (discrete time, as pycox's nll_logistic_hazard): with phi the logits of the
// interval hazards, a subject whose time falls in interval k survived the intervals before it
// (-log(1 - h) = softplus(phi)) and then died in k (-log h = softplus(-phi)) or survived it.
torch::Tensor logistic_hazard_loss(const torch::Tensor& phi, const torch::Tensor& interval,
                                   const torch::Tensor& event) {
  const auto k = phi.size(1);
  const auto steps = torch::arange(k).unsqueeze(0);
  const auto before = (steps < interval.unsqueeze(1)).to(torch::kFloat);
  const auto at = (steps == interval.unsqueeze(1)).to(torch::kFloat);
  const auto survive = torch::softplus(phi), die = torch::softplus(-phi);
  const auto e = event.unsqueeze(1);
  return ((before + at * (1 - e)) * survive + at * e * die).sum(1).mean();
}

}  // namespace

struct DeepSurvModel::Impl {
  std::vector<std::string> names;
  std::vector<FactorCoding> factors;
  std::vector<double> mean, sd, base_time, base_cumhaz;
  std::vector<int> log_scaled;  // per covariate: enters as log(1 + x) (non-negative and skewed)
  std::vector<double> cuts;     // logistic hazard: the intervals' upper edges (quantiles of event times)
  bool discrete() const { return options.head == "logistic-hazard"; }
  int64_t outputs() const { return discrete() ? static_cast<int64_t>(cuts.size()) : 1; }
  // 0-based interval of a time: the first upper edge at or above it (the last for later times).
  int64_t interval(double t) const {
    const auto it = std::lower_bound(cuts.begin(), cuts.end(), t);
    return std::min<int64_t>(static_cast<int64_t>(it - cuts.begin()), static_cast<int64_t>(cuts.size()) - 1);
  }
  // A member's risk score: the log-risk (Cox head), or the cumulative hazard over every interval.
  static torch::Tensor member_risk(const torch::Tensor& out, bool discrete) {
    return discrete ? torch::softplus(out).sum(1) : out.squeeze(1);
  }
  DeepSurvOptions options;
  std::vector<torch::nn::Sequential> nets;  // the members; eval() and forward() are not const in libtorch
  std::vector<int> best_epoch;
  std::vector<double> validation_c;

  double value(double v, size_t j) const { return log_scaled[j] ? std::log1p(std::max(0.0, v)) : v; }
  torch::Tensor standardise(const std::vector<double>& x, size_t n) const {
    const size_t p = names.size();
    auto t = torch::empty({static_cast<int64_t>(n), static_cast<int64_t>(p)});
    auto a = t.accessor<float, 2>();
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < p; ++j) a[i][j] = static_cast<float>((value(x[i * p + j], j) - mean[j]) / sd[j]);
    return t;
  }
  // The members' mean log-risk.
  std::vector<double> eta(const std::vector<double>& x, size_t n) const {
    torch::NoGradGuard ng;
    const auto input = standardise(x, n);
    auto sum = torch::zeros({static_cast<int64_t>(n)});
    for (auto net : nets) {
      net->eval();
      sum += member_risk(net->forward(input), discrete());
    }
    sum = (sum / static_cast<double>(nets.size())).contiguous();
    return std::vector<double>(sum.data_ptr<float>(), sum.data_ptr<float>() + sum.numel());
  }
  void fit_scaling(const SurvivalData& d);
  void fit_member(const SurvivalData& d, uint64_t seed);
  void fit_baseline(const SurvivalData& d);
};

// Non-negative covariates with skewness above 2 (hormone receptors, lab values) enter on the log
// scale, a few extreme values would otherwise squash the rest towards the mean; then every
// covariate is standardised on the training rows.
void DeepSurvModel::Impl::fit_scaling(const SurvivalData& d) {
  const size_t n = d.n(), p = d.p();
  const double nf = static_cast<double>(n);
  log_scaled.assign(p, 0);
  mean.assign(p, 0.0);
  sd.assign(p, 0.0);
  for (size_t j = 0; j < p; ++j) {
    double lo = d.at(0, j), m1 = 0, m2 = 0, m3 = 0;
    for (size_t i = 0; i < n; ++i) lo = std::min(lo, d.at(i, j)), m1 += d.at(i, j) / nf;
    for (size_t i = 0; i < n; ++i) {
      const double dv = d.at(i, j) - m1;
      m2 += dv * dv / nf, m3 += dv * dv * dv / nf;
    }
    log_scaled[j] = lo >= 0 && m2 > 0 && m3 / std::pow(m2, 1.5) > 2;
    for (size_t i = 0; i < n; ++i) mean[j] += value(d.at(i, j), j) / nf;
    for (size_t i = 0; i < n; ++i) sd[j] += std::pow(value(d.at(i, j), j) - mean[j], 2) / nf;
    sd[j] = sd[j] > 1e-24 ? std::sqrt(sd[j]) : 1.0;
  }
}

// One member: its own stratified validation split (by event) for early stopping on Harrell's C.
void DeepSurvModel::Impl::fit_member(const SurvivalData& d, uint64_t seed) {
  const size_t n = d.n(), p = d.p();
  torch::manual_seed(seed);
  std::mt19937_64 rng(seed);
  std::vector<size_t> fit_rows, val_rows;
  for (int e = 0; e <= 1; ++e) {
    std::vector<size_t> rows;
    for (size_t i = 0; i < n; ++i)
      if (d.event[i] == e) rows.push_back(i);
    std::shuffle(rows.begin(), rows.end(), rng);
    const size_t nv = static_cast<size_t>(std::round(options.validation_fraction * rows.size()));
    val_rows.insert(val_rows.end(), rows.begin(), rows.begin() + nv);
    fit_rows.insert(fit_rows.end(), rows.begin() + nv, rows.end());
  }
  std::vector<double> xf, tf, tv;
  std::vector<int> ef, ev;
  for (size_t i : fit_rows)
    xf.insert(xf.end(), &d.x[i * p], &d.x[i * p] + p), tf.push_back(d.time[i]), ef.push_back(d.event[i]);
  std::vector<double> xv;
  for (size_t i : val_rows)
    xv.insert(xv.end(), &d.x[i * p], &d.x[i * p] + p), tv.push_back(d.time[i]), ev.push_back(d.event[i]);
  const auto x_fit = standardise(xf, fit_rows.size()), x_val = standardise(xv, val_rows.size());
  const auto sets = risk_sets(tf, ef);
  auto net = make_net(static_cast<int64_t>(p), options.hidden, options.dropout, outputs());
  std::vector<int64_t> intervals;
  for (double t : tf) intervals.push_back(discrete() ? interval(t) : 0);
  const auto interval_t = torch::tensor(intervals), event_t = torch::tensor(std::vector<float>(ef.begin(), ef.end()));
  std::vector<int64_t> val_intervals;
  for (double t : tv) val_intervals.push_back(discrete() ? interval(t) : 0);
  const auto val_interval = torch::tensor(val_intervals),
             val_event = torch::tensor(std::vector<float>(ev.begin(), ev.end()));
  if (discrete()) {  // start at the pooled interval hazards: logit(deaths / at risk) per interval
    std::vector<double> deaths(cuts.size(), 0), at_risk(cuts.size(), 0);
    for (size_t i = 0; i < intervals.size(); ++i) {
      for (int64_t k = 0; k <= intervals[i]; ++k) at_risk[k] += 1;
      deaths[intervals[i]] += ef[i];
    }
    auto& last = *net->children().back()->as<torch::nn::Linear>();
    torch::NoGradGuard ng;
    for (size_t k = 0; k < cuts.size(); ++k) {
      const double h = std::clamp((deaths[k] + 0.5) / (at_risk[k] + 1.0), 1e-4, 1 - 1e-4);
      last.bias[static_cast<int64_t>(k)].fill_(std::log(h / (1 - h)));
    }
  }
  auto opt = train::make_adamw(net->parameters(), options.lr, options.weight_decay);
  train::TrainerOptions to;
  to.epochs = options.epochs;
  to.steps_per_epoch = options.steps_per_epoch;
  to.schedule = {train::ScheduleKind::Constant, options.lr,
                 static_cast<int64_t>(options.epochs) * options.steps_per_epoch, 0, 0.0};
  // DeepSurv stops on the validation C; the logistic hazard, a likelihood of calibrated hazards, on
  // the validation negative log-likelihood (C alone would keep uncalibrated early epochs).
  to.monitor = discrete() ? "val_nll" : "val_c";
  to.maximize = !discrete();
  to.patience = options.patience;
  to.label = "DeepSurv " + std::to_string(nets.size() + 1) + "/" + std::to_string(options.members) + " epoch";
  to.progress = options.progress;
  to.log_epochs = false;
  train::ParameterSnapshot best;
  train::TrainerHooks hooks;
  hooks.begin_epoch = [&](int) { net->train(); };
  hooks.train_step = [&](int64_t, double lr) -> std::optional<std::pair<double, int64_t>> {
    train::set_lr(*opt, lr);
    net->train();
    const auto out = net->forward(x_fit);
    const auto loss = discrete() ? logistic_hazard_loss(out, interval_t, event_t) : cox_loss(out.squeeze(1), sets);
    return std::pair{train::optimise(*opt, loss), int64_t{1}};
  };
  hooks.validate = [&](int) {
    torch::NoGradGuard ng;
    net->eval();
    const auto out = net->forward(x_val);
    const auto z = member_risk(out, discrete()).contiguous();
    const std::vector<double> eta(z.data_ptr<float>(), z.data_ptr<float>() + z.numel());
    train::Metrics m{{"val_c", harrell_concordance(tv, ev, eta).c()}};
    if (discrete()) m.push_back({"val_nll", logistic_hazard_loss(out, val_interval, val_event).item<double>()});
    return m;
  };
  hooks.save_best = [&] { best.capture(net->parameters()); };
  const auto r = train::fit(to, hooks);
  best.restore(net->parameters());
  nets.push_back(net);
  best_epoch.push_back(r.best_epoch);
  validation_c.push_back(r.best_value);
}

// Breslow's cumulative baseline hazard on every training row, at the members' mean log-risk.
void DeepSurvModel::Impl::fit_baseline(const SurvivalData& d) {
  const size_t n = d.n();
  const auto e = eta(d.x, n);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return d.time[a] > d.time[b]; });
  std::vector<double> times, risk_sum, deaths;
  double s0 = 0;
  for (size_t i = 0; i < n;) {
    const double t = d.time[order[i]];
    double dd = 0;
    for (; i < n && d.time[order[i]] == t; ++i) s0 += std::exp(e[order[i]]), dd += d.event[order[i]];
    times.push_back(t), risk_sum.push_back(s0), deaths.push_back(dd);
  }
  double h = 0;
  for (size_t k = times.size(); k-- > 0;) {
    if (deaths[k] == 0) continue;
    h += deaths[k] / risk_sum[k];
    base_time.push_back(times[k]);
    base_cumhaz.push_back(h);
  }
}

DeepSurvModel::DeepSurvModel() = default;
DeepSurvModel::~DeepSurvModel() = default;
DeepSurvModel::DeepSurvModel(DeepSurvModel&&) noexcept = default;
DeepSurvModel& DeepSurvModel::operator=(DeepSurvModel&&) noexcept = default;

DeepSurvModel DeepSurvModel::fit(const SurvivalData& d, const DeepSurvOptions& o) {
  if (d.stratum_names.size() > 1) fail_unsupported("DeepSurv: strata are not supported (use the Cox model)");
  if (d.events() < 10) fail_invalid("DeepSurv: needs at least 10 events (" + std::to_string(d.events()) + ")");
  if (o.members < 1) fail_invalid("DeepSurv: members must be at least 1");
  train::apply_torch_threads();
  DeepSurvModel m;
  m.impl_ = std::make_unique<Impl>();
  auto& im = *m.impl_;
  im.names = d.names;
  im.factors = d.factors;
  im.options = o;
  check_known("survival network head", o.head, {"cox", "logistic-hazard"});
  im.fit_scaling(d);
  if (im.discrete()) {  // interval edges at quantiles of the event times, the last at the longest time
    std::vector<double> events;
    for (size_t i = 0; i < d.n(); ++i)
      if (d.event[i]) events.push_back(d.time[i]);
    std::sort(events.begin(), events.end());
    for (int k = 1; k <= o.intervals; ++k) im.cuts.push_back(events[(events.size() - 1) * k / o.intervals]);
    im.cuts.back() = *std::max_element(d.time.begin(), d.time.end());
    im.cuts.erase(std::unique(im.cuts.begin(), im.cuts.end()), im.cuts.end());
  }
  for (int k = 0; k < o.members; ++k) im.fit_member(d, o.seed + static_cast<uint64_t>(k));
  if (!im.discrete()) im.fit_baseline(d);
  return m;
}

std::vector<double> DeepSurvModel::risk(const std::vector<double>& x, size_t n) const { return impl_->eta(x, n); }

std::vector<double> DeepSurvModel::survival(const double* x, const std::vector<double>& times) const {
  const auto& im = *impl_;
  const std::vector<double> row(x, x + im.names.size());
  std::vector<double> out;
  if (im.discrete()) {  // the members' mean of prod (1 - h) over the intervals ended by t
    torch::NoGradGuard ng;
    const auto input = im.standardise(row, 1);
    auto s = torch::zeros({static_cast<int64_t>(im.cuts.size())}, torch::kDouble);
    for (auto net : im.nets) {
      net->eval();
      s += torch::exp(-torch::cumsum(torch::softplus(net->forward(input)[0]).to(torch::kDouble), 0));
    }
    s /= static_cast<double>(im.nets.size());
    for (double t : times) {
      const auto ended = std::upper_bound(im.cuts.begin(), im.cuts.end(), t) - im.cuts.begin();
      out.push_back(ended == 0 ? 1.0 : s[ended - 1].item<double>());
    }
    return out;
  }
  const double r = std::exp(im.eta(row, 1).at(0));
  for (double t : times) {
    const auto it = std::upper_bound(im.base_time.begin(), im.base_time.end(), t);
    const double h = it == im.base_time.begin() ? 0.0 : im.base_cumhaz[it - im.base_time.begin() - 1];
    out.push_back(std::exp(-h * r));
  }
  return out;
}

const std::vector<std::string>& DeepSurvModel::names() const { return impl_->names; }
const std::vector<FactorCoding>& DeepSurvModel::factors() const { return impl_->factors; }
int DeepSurvModel::best_epoch() const { return impl_->best_epoch.empty() ? 0 : impl_->best_epoch[0]; }
double DeepSurvModel::validation_c() const {
  double s = 0;
  for (double c : impl_->validation_c) s += c / static_cast<double>(impl_->validation_c.size());
  return s;
}

void DeepSurvModel::save(const fs::path& dir) const {
  fs::create_directories(dir);
  const auto& im = *impl_;
  json f = json::array();
  for (const auto& c : im.factors) f.push_back({{"column", c.column}, {"levels", c.levels}});
  core::write_json_file(dir / "deepsurv.json", {{"format", "medai.deepsurv/1"},
                                                {"names", im.names},
                                                {"factors", f},
                                                {"mean", im.mean},
                                                {"sd", im.sd},
                                                {"log_scaled", im.log_scaled},
                                                {"hidden", im.options.hidden},
                                                {"baseline", {{"time", im.base_time}, {"cumhaz", im.base_cumhaz}}},
                                                {"best_epoch", im.best_epoch},
                                                {"validation_c", im.validation_c},
                                                {"members", im.nets.size()},
                                                {"head", im.options.head},
                                                {"cuts", im.cuts}});
  for (size_t k = 0; k < im.nets.size(); ++k)
    train::save_module(*im.nets[k], dir / ("deepsurv_" + std::to_string(k) + ".pt"));
}

DeepSurvModel DeepSurvModel::load(const fs::path& dir) {
  const fs::path meta = dir / "deepsurv.json";
  const json j = core::read_json_file(meta);
  if (!j.is_object() || j.value("format", "") != "medai.deepsurv/1")
    fail_invalid(meta.string() + ": not a medai DeepSurv model (format medai.deepsurv/1)");
  DeepSurvModel m;
  m.impl_ = std::make_unique<Impl>();
  auto& im = *m.impl_;
  try {
    im.names = j.at("names").get<std::vector<std::string>>();
    for (const auto& f : j.at("factors"))
      im.factors.push_back({f.at("column").get<std::string>(), f.at("levels").get<std::vector<std::string>>()});
    im.mean = j.at("mean").get<std::vector<double>>();
    im.sd = j.at("sd").get<std::vector<double>>();
    im.log_scaled = j.at("log_scaled").get<std::vector<int>>();
    im.options.hidden = j.at("hidden").get<std::vector<int>>();
    im.base_time = j.at("baseline").at("time").get<std::vector<double>>();
    im.base_cumhaz = j.at("baseline").at("cumhaz").get<std::vector<double>>();
    im.best_epoch = j.at("best_epoch").get<std::vector<int>>();
    im.validation_c = j.at("validation_c").get<std::vector<double>>();
    im.options.members = j.at("members").get<int>();
    im.options.head = j.at("head").get<std::string>();
    im.cuts = j.at("cuts").get<std::vector<double>>();
  } catch (const json::exception& e) {
    fail_invalid(meta.string() + ": " + e.what());
  }
  if (im.mean.size() != im.names.size() || im.sd.size() != im.names.size() || im.log_scaled.size() != im.names.size() ||
      im.base_time.size() != im.base_cumhaz.size())
    fail_invalid(meta.string() + ": names, mean, sd and baseline do not agree in size");
  if (im.options.members < 1 || im.options.members > 1000) fail_invalid(meta.string() + ": members out of range");
  check_known(meta.string() + ": head", im.options.head, {"cox", "logistic-hazard"});
  if (im.discrete() && im.cuts.empty()) fail_invalid(meta.string() + ": a logistic-hazard model without intervals");
  for (int k = 0; k < im.options.members; ++k) {
    im.nets.push_back(make_net(static_cast<int64_t>(im.names.size()), im.options.hidden, 0.0, im.outputs()));
    train::load_module(*im.nets.back(), dir / ("deepsurv_" + std::to_string(k) + ".pt"));
  }
  return m;
}

}  // namespace medai::survival
