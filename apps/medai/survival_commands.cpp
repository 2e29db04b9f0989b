// medai survival km | fit | predict | evaluate: Kaplan-Meier and log-rank, Cox proportional
// hazards (exact to R's coxph), survival curves per patient, and C / Brier figures on new data.
#include <spdlog/spdlog.h>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "medai/core/atomic_file.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/data/row_splits.h"
#include "medai/io/csv.h"
#include "medai/io/plot.h"
#include "medai/metrics/subgroup.h"
#include "medai/survival/concordance.h"
#include "medai/survival/cox.h"
#include "medai/survival/deepsurv.h"
#include "medai/survival/kaplan_meier.h"
#include "medai/survival/survival_data.h"
#include "medai/survival/survival_metrics.h"

namespace medai::app {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kCoxFile = "cox_model.json";
constexpr const char* kModelFile = "survival_model.json";  // the model kind and its columns
constexpr const char* kCoxLimits =
    "Intended use: estimating how covariates relate to the hazard of an event and each patient's survival curve, for "
    "research and as one input to clinical judgement. Limits: assumes proportional hazards and log-linear covariate "
    "effects (check Schoenfeld residuals and functional form); censoring must be independent of the event; "
    "predictions outside the training covariate range or follow-up are extrapolations; not validated for any "
    "population other than the one it was fitted on.";

json finite_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

struct ColumnOpts {
  fs::path data;
  std::string time = "time", event = "status", covariates, factors, strata;
  bool impute = false;
};

void add_column_options(CLI::App* cmd, ColumnOpts& o, bool covariates) {
  cmd->add_option("--data", o.data, "CSV with one row per subject")->required();
  cmd->add_option("--time", o.time, "follow-up time column (> 0)")->capture_default_str();
  cmd->add_option("--event", o.event, "event column: 1 = event, 0 = censored (or R's 2 = event, 1 = censored)")
      ->capture_default_str();
  if (!covariates) return;
  cmd->add_option("--covariates", o.covariates, "comma-separated covariate columns")->required();
  cmd->add_option("--factors", o.factors,
                  "covariates that are categorical (one-hot, the first sorted level the reference, as R)");
  cmd->add_option("--strata", o.strata, "comma-separated columns to stratify the baseline hazard on");
  cmd->add_flag("--impute", o.impute,
                "fill missing covariates with the training mean (numeric) or most frequent level (factors) instead "
                "of dropping the rows");
}

survival::SurvivalColumns columns_of(const ColumnOpts& o) {
  return {o.time, o.event, survival::split_names(o.covariates, "--covariates"),
          survival::split_names(o.factors, "--factors"), survival::split_names(o.strata, "--strata")};
}

void log_dropped(const survival::SurvivalData& d, const fs::path& file) {
  if (d.dropped_missing)
    spdlog::warn("{}: {} rows with a missing value in a model column were dropped ({} used)", file.string(),
                 d.dropped_missing, d.n());
  for (const auto& [column, n] : d.imputed)
    spdlog::warn("{}: {} missing values of '{}' imputed (the training mean or most frequent level)", file.string(), n,
                 column);
}

void km_plot(const fs::path& path, const std::vector<survival::KmCurve>& curves, const std::string& time_label) {
  static const std::array<std::array<unsigned char, 3>, 6> kColours{
      {{31, 119, 180}, {214, 39, 40}, {44, 160, 44}, {148, 103, 189}, {255, 127, 14}, {140, 86, 75}}};
  io::PlotPanel km{"Kaplan-Meier (light lines: 95 % limits)", time_label, "survival probability"};
  km.y_range = {{0.0, 1.0}};
  io::PlotPanel risk{"numbers at risk", time_label, "group"};
  double t_max = 0;
  for (const auto& c : curves) t_max = std::max(t_max, c.time.back());
  risk.x_range = {{0.0, t_max}};
  risk.y_range = {{-0.5, curves.size() - 0.5}};
  for (size_t g = 0; g < curves.size(); ++g) {
    const auto& c = curves[g];
    const auto colour = kColours[g % kColours.size()];
    const std::array<unsigned char, 3> light{static_cast<unsigned char>((colour[0] + 255) / 2),
                                             static_cast<unsigned char>((colour[1] + 255) / 2),
                                             static_cast<unsigned char>((colour[2] + 255) / 2)};
    io::Series s{c.group, {0.0}, {1.0}, colour}, lo{"", {0.0}, {1.0}, light}, hi{"", {0.0}, {1.0}, light};
    for (size_t i = 0; i < c.time.size(); ++i) {  // steps: horizontal then vertical
      for (auto* series : {&s, &lo, &hi}) series->x.push_back(c.time[i]);
      s.y.push_back(s.y.back());
      lo.y.push_back(lo.y.back());
      hi.y.push_back(hi.y.back());
      s.x.push_back(c.time[i]);
      s.y.push_back(c.survival[i]);
      if (std::isfinite(c.lower[i])) lo.x.push_back(c.time[i]), lo.y.push_back(c.lower[i]);
      if (std::isfinite(c.upper[i])) hi.x.push_back(c.time[i]), hi.y.push_back(c.upper[i]);
    }
    km.series.push_back(lo);
    km.series.push_back(hi);
    km.series.push_back(s);
    io::Series at{c.group, {}, {}, colour, true};
    for (int k = 0; k <= 5; ++k) {
      const double t = t_max * k / 5;
      at.x.push_back(t);
      at.y.push_back(static_cast<double>(g));
      at.point_labels.push_back(std::to_string(c.at_risk(t)));
    }
    risk.series.push_back(at);
  }
  io::save_plot_stacked(path, {km, risk}, 640, {420, 60 + 40 * static_cast<int>(curves.size())});
}

void add_km_command(CLI::App* parent, GlobalOptions& g) {
  auto* cmd = parent->add_subcommand("km", "Kaplan-Meier curves (Greenwood CIs), Nelson-Aalen and the log-rank test");
  struct Opts {
    ColumnOpts cols;
    std::string group;
    fs::path plot;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  add_column_options(cmd, o->cols, false);
  cmd->add_option("--group", o->group, "one curve per value of this column, compared by the log-rank test");
  cmd->add_option("--plot", o->plot, "write the curves with CIs and numbers at risk as a PNG");
  cmd->add_flag("--json", o->json, "print every curve as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    const io::CsvTable t = io::read_csv(o->cols.data);
    survival::SurvivalColumns c{o->cols.time, o->cols.event};
    if (!o->group.empty()) c.strata = {o->group};
    const auto d = survival::read_survival_data(t, c);
    log_dropped(d, o->cols.data);
    std::vector<survival::KmCurve> curves;
    for (size_t s = 0; s < d.stratum_names.size(); ++s) {
      std::vector<double> time;
      std::vector<int> event;
      for (size_t i = 0; i < d.n(); ++i)
        if (d.stratum[i] == static_cast<int>(s)) time.push_back(d.time[i]), event.push_back(d.event[i]);
      curves.push_back(survival::kaplan_meier(time, event));
      curves.back().group = o->group.empty() ? "all" : d.stratum_names[s];
    }
    json j = {{"n", d.n()}, {"events", d.events()}, {"dropped_missing", d.dropped_missing}, {"curves", json::array()}};
    for (const auto& k : curves) {
      json rows = json::array();
      for (size_t i = 0; i < k.time.size(); ++i)
        rows.push_back({{"time", k.time[i]},
                        {"n_risk", k.n_risk[i]},
                        {"n_event", k.n_event[i]},
                        {"n_censor", k.n_censor[i]},
                        {"survival", k.survival[i]},
                        {"std_err", finite_or_null(k.std_err[i])},
                        {"lower95", finite_or_null(k.lower[i])},
                        {"upper95", finite_or_null(k.upper[i])},
                        {"cumhaz", k.cumhaz[i]}});
      j["curves"].push_back({{"group", k.group},
                             {"n", k.n},
                             {"events", k.events},
                             {"median", finite_or_null(k.median)},
                             {"median_lower95", finite_or_null(k.median_lower)},
                             {"median_upper95", finite_or_null(k.median_upper)},
                             {"table", rows}});
    }
    if (curves.size() > 1) {
      const auto lr = survival::log_rank(d.time, d.event, d.stratum, d.stratum_names);
      j["log_rank"] = {{"chi_square", lr.chi_square},
                       {"df", lr.df},
                       {"p", lr.p},
                       {"observed", lr.observed},
                       {"expected", lr.expected}};
    }
    if (!o->plot.empty()) km_plot(o->plot, curves, o->cols.time);
    if (o->json) return print_json(j);
    const auto num = [](double v) { return std::isfinite(v) ? std::to_string(v) : std::string("not reached"); };
    std::printf("%-28s %6s %6s %12s %12s %12s\n", "group", "n", "events", "median", "lower95", "upper95");
    for (const auto& k : curves)
      std::printf("%-28s %6zu %6zu %12s %12s %12s\n", k.group.c_str(), k.n, k.events, num(k.median).c_str(),
                  num(k.median_lower).c_str(), num(k.median_upper).c_str());
    if (j.contains("log_rank"))
      std::printf("log-rank: chi-square %.4f on %d df, p = %.4g\n", j["log_rank"]["chi_square"].get<double>(),
                  j["log_rank"]["df"].get<int>(), j["log_rank"]["p"].get<double>());
    if (!o->plot.empty()) std::printf("plot: %s\n", o->plot.string().c_str());
  });
}

struct ModelOpts {
  std::string model = "auto", ties = "efron", hidden = "32,32";
  double ridge = 0;
  int max_iterations = 20;
  survival::DeepSurvOptions deep;
};

void add_model_options(CLI::App* cmd, ModelOpts& o) {
  cmd->add_option("--model", o.model,
                  "auto: deepsurv, or cox with --strata, --ridge or under 50 events | cox (proportional hazards, exact "
                  "to R) | deepsurv (an ensemble of MLPs on the Cox likelihood; the Cox fit is kept beside it) | "
                  "logistic-hazard (the same networks as a discrete-time model)")
      ->check(CLI::IsMember({"auto", "cox", "deepsurv", "logistic-hazard"}))
      ->capture_default_str();
  cmd->add_option("--hidden", o.hidden, "deepsurv: hidden layer widths")->capture_default_str();
  cmd->add_option("--epochs", o.deep.epochs, "deepsurv: full-batch epochs at most")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--dropout", o.deep.dropout, "deepsurv")->check(CLI::Range(0.0, 0.9))->capture_default_str();
  cmd->add_option("--lr", o.deep.lr, "deepsurv")->check(CLI::Range(1e-6, 1.0))->capture_default_str();
  cmd->add_option("--weight-decay", o.deep.weight_decay, "deepsurv")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--seed", o.deep.seed, "deepsurv")->capture_default_str();
  cmd->add_option("--intervals", o.deep.intervals, "logistic-hazard: time intervals (quantiles of event times)")
      ->check(CLI::Range(2, 1000))
      ->capture_default_str();
  cmd->add_option("--members", o.deep.members, "deepsurv: networks averaged (seeds seed, seed + 1, ...)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--ties", o.ties, "efron | breslow")
      ->check(CLI::IsMember({"efron", "breslow"}))
      ->capture_default_str();
  cmd->add_option("--ridge", o.ridge, "ridge penalty lambda / 2 * sum(beta^2) (0 = none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--max-iterations", o.max_iterations)->check(CLI::PositiveNumber)->capture_default_str();
}

survival::CoxOptions cox_options(const ModelOpts& o) {
  survival::CoxOptions c;
  c.ties = survival::parse_ties(o.ties);
  c.ridge = o.ridge;
  c.max_iterations = o.max_iterations;
  return c;
}

// A fitted Cox or DeepSurv model behind one face: the design it reads, a risk score and curves.
struct FittedModel {
  std::string kind = "cox";
  survival::CoxModel cox;
  std::shared_ptr<survival::DeepSurvModel> deep;
  const std::vector<std::string>& names() const { return deep ? deep->names() : cox.names; }
  const std::vector<survival::FactorCoding>& factors() const { return deep ? deep->factors() : cox.factors; }
  std::vector<std::string> strata() const { return deep ? std::vector<std::string>{""} : cox.stratum_names; }
  // Every row's risk score at once (one batch through DeepSurv's networks).
  std::vector<double> risks(const survival::SurvivalData& d) const {
    if (deep) return deep->risk(d.x, d.n());
    std::vector<double> r;
    for (size_t i = 0; i < d.n(); ++i) r.push_back(cox.linear_predictor(&d.x[i * d.p()]));
    return r;
  }
  std::vector<double> survival(const double* x, int stratum, const std::vector<double>& times) const {
    return deep ? deep->survival(x, times) : cox.survival(x, stratum, times);
  }
};

// auto: DeepSurv (better than Cox on Rotterdam, 5-fold CV C 0.664 vs 0.658, docs/cli.md), except
// where it does not apply or has too little to learn from.
std::string resolve_model(const ModelOpts& o, const survival::SurvivalData& d) {
  if (o.model != "auto") return o.model;
  return d.stratum_names.size() > 1 || o.ridge > 0 || d.events() < 50 ? "cox" : "deepsurv";
}

// The Cox model always (DeepSurv's interpretable reference on the same rows), DeepSurv when chosen.
FittedModel fit_model(const survival::SurvivalData& d, ModelOpts o, bool progress) {
  FittedModel m;
  m.kind = resolve_model(o, d);
  m.cox = survival::fit_cox(d, cox_options(o));
  if (m.kind == "cox") return m;
  o.deep.hidden.clear();
  for (const auto& w : survival::split_names(o.hidden, "--hidden")) {
    const auto v = io::parse_number(w);
    if (!v || *v < 1 || *v > 4096 || *v != std::floor(*v)) fail_invalid("--hidden: '" + w + "' is not a layer width");
    o.deep.hidden.push_back(static_cast<int>(*v));
  }
  o.deep.progress = progress;
  o.deep.head = m.kind == "logistic-hazard" ? "logistic-hazard" : "cox";
  m.deep = std::make_shared<survival::DeepSurvModel>(survival::DeepSurvModel::fit(d, o.deep));
  return m;
}

void print_cox(const survival::CoxModel& m) {
  std::printf("%-24s %12s %10s %10s %8s %10s %18s\n", "", "coef", "exp(coef)", "se(coef)", "z", "p", "95 % CI of HR");
  for (size_t j = 0; j < m.coef.size(); ++j)
    std::printf("%-24s %12.6f %10.4f %10.6f %8.3f %10.3g %8.4f-%-8.4f\n", m.names[j].c_str(), m.coef[j],
                std::exp(m.coef[j]), m.se[j], m.z(j), m.p(j), std::exp(m.coef[j] - 1.96 * m.se[j]),
                std::exp(m.coef[j] + 1.96 * m.se[j]));
  std::printf("n = %zu, events = %zu; log partial likelihood %.6f (null %.6f); concordance %.4f; %d iterations\n", m.n,
              m.events, m.loglik, m.loglik_null, m.concordance, m.iterations);
}

void add_fit_command(CLI::App* parent, GlobalOptions& g) {
  auto* cmd = parent->add_subcommand("fit", "fit a survival model (Cox proportional hazards) and save it as a run");
  struct Opts {
    ColumnOpts cols;
    ModelOpts model;
    fs::path out;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  add_column_options(cmd, o->cols, true);
  add_model_options(cmd, o->model);
  cmd->add_option("--out", o->out, "run folder to write")->required();
  cmd->add_flag("--json", o->json, "print the coefficients, log-likelihoods and counts as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    const io::CsvTable t = io::read_csv(o->cols.data);
    auto columns = columns_of(o->cols);
    if (o->cols.impute) columns.impute = survival::imputation_values(t, columns);
    const auto d = survival::read_survival_data(t, columns);
    log_dropped(d, o->cols.data);
    const auto m = fit_model(d, o->model, !g.quiet && !o->json);
    for (const auto& w : m.cox.warnings) spdlog::warn("cox: {}", w);
    fs::create_directories(o->out);
    const json columns_json = {{"time", o->cols.time},
                               {"event", o->cols.event},
                               {"covariates", o->cols.covariates},
                               {"factors", o->cols.factors},
                               {"strata", o->cols.strata}};
    core::write_json_file(
        o->out / kModelFile,
        {{"model", m.kind}, {"columns", columns_json}, {"impute", columns.impute}, {"event_coding", d.event_coding}});
    const auto risk = m.risks(d);
    const double c = survival::harrell_concordance(d.time, d.event, risk, &d.stratum).c();
    core::write_file_atomic(o->out / kCoxFile, core::dump_json(m.cox.to_json(), 1));
    json summary = m.cox.summary_json();
    if (m.deep) {
      m.deep->save(o->out);
      summary["model"] = m.kind;
      summary["cox_concordance"] = m.cox.concordance;
      summary["concordance"] = c;
      summary["deepsurv"] = {{"hidden", o->model.hidden},
                             {"members", o->model.deep.members},
                             {"validation_c", m.deep->validation_c()},
                             {"note", "coefficients, loglik: the Cox model fitted beside it on the same rows"}};
    }
    core::write_json_file(o->out / core::kModelCardFile,
                          {{"name", o->out.filename().string()},
                           {"kind", "survival"},
                           {"task", "survival-" + m.kind},
                           {"created", core::utc_timestamp()},
                           {"architecture", m.deep ? "DeepSurv: MLP (" + o->model.hidden +
                                                         ", SELU, dropout) on the Cox partial likelihood"
                                                   : "Cox proportional hazards (" + o->model.ties + " ties)"},
                           {"data",
                            {{"source", o->cols.data.filename().string()},
                             {"rows_used", d.n()},
                             {"events", d.events()},
                             {"dropped_missing", d.dropped_missing}}},
                           {"metrics", {{"training", {{"concordance", c}}}}},
                           {"intended_use_and_limits", kCoxLimits},
                           {"software", core::software_versions()}});
    if (o->json) return print_json(summary);
    print_cox(m.cox);
    if (m.deep)
      std::printf("DeepSurv (%d members) on the same rows: training C %.4f (Cox %.4f), validation C %.4f\n",
                  o->model.deep.members, c, m.cox.concordance, m.deep->validation_c());
    std::printf("saved %s (%s)\n", o->out.string().c_str(), m.kind.c_str());
  });
}

struct LoadedModel {
  FittedModel model;
  survival::SurvivalColumns columns;
};

LoadedModel load_model(const fs::path& run) {
  const fs::path file = run / kModelFile;
  if (!fs::exists(file)) fail_not_found(run.string() + ": no " + kModelFile + " (not a `medai survival fit` run)");
  const json j = core::read_json_file(file);
  LoadedModel m;
  try {
    const auto& c = j.at("columns");
    m.columns = {c.at("time"), c.at("event"),
                 survival::split_names(c.at("covariates").get<std::string>(), "covariates"),
                 survival::split_names(c.at("factors").get<std::string>(), "factors"),
                 survival::split_names(c.at("strata").get<std::string>(), "strata")};
    m.model.kind = j.at("model").get<std::string>();
    if (j.contains("impute")) m.columns.impute = j.at("impute").get<std::map<std::string, std::string>>();
  } catch (const json::exception& e) {
    fail_invalid(file.string() + ": " + e.what());
  }
  check_known(file.string() + ": model", m.model.kind, {"cox", "deepsurv", "logistic-hazard"});
  if (m.model.kind != "cox")
    m.model.deep = std::make_shared<survival::DeepSurvModel>(survival::DeepSurvModel::load(run));
  if (!fs::exists(run / kCoxFile)) fail_not_found(run.string() + ": no " + kCoxFile);
  m.model.cox = survival::CoxModel::from_json(core::read_json_file(run / kCoxFile), (run / kCoxFile).string());
  return m;
}

// The rows of `t` (all, or `rows`) as the model codes them; strata mapped to the model's.
survival::SurvivalData model_rows(const FittedModel& m, const survival::SurvivalColumns& columns, const io::CsvTable& t,
                                  const std::vector<size_t>* rows = nullptr) {
  auto d = survival::read_survival_data(t, columns, &m.factors(), rows);
  if (d.names != m.names()) fail_invalid(t.source.string() + ": the design columns differ from the model's");
  const auto strata = m.strata();
  for (auto& s : d.stratum) {
    const auto it = std::find(strata.begin(), strata.end(), d.stratum_names[s]);
    if (it == strata.end())
      fail_invalid(t.source.string() + ": stratum '" + d.stratum_names[s] + "' was not in the training data");
    s = static_cast<int>(it - strata.begin());
  }
  return d;
}

// Risk scores and survival curves at `grid` of every row of `d`.
struct Predictions {
  std::vector<double> risk;
  survival::SurvivalCurves curves;
};
Predictions predict_rows(const FittedModel& m, const survival::SurvivalData& d, const std::vector<double>& grid) {
  Predictions p;
  p.risk = m.risks(d);
  for (size_t i = 0; i < d.n(); ++i) p.curves.push_back(m.survival(&d.x[i * d.p()], d.stratum[i], grid));
  return p;
}

// Harrell's C within each group of each --groups column (a subgroup audit), warnings logged.
std::vector<metrics::SubgroupAudit> survival_audits(const survival::SurvivalData& d,
                                                    const std::vector<std::string>& columns,
                                                    const std::vector<double>& risk) {
  std::vector<metrics::SubgroupAudit> out;
  for (size_t g = 0; g < columns.size(); ++g) {
    metrics::AuditInput in;
    in.column = columns[g];
    in.group = d.group_values[g];
    in.metric_name = "c_harrell";
    in.outcome = d.event;
    in.metric = [&](const std::vector<size_t>& idx) {
      std::vector<double> t, r;
      std::vector<int> e;
      for (size_t i : idx) t.push_back(d.time[i]), e.push_back(d.event[i]), r.push_back(risk[i]);
      return survival::harrell_concordance(t, e, r).c();
    };
    out.push_back(metrics::audit_subgroups(in));
    for (const auto& w : out.back().warnings) spdlog::warn("subgroup audit: {}", w);
  }
  return out;
}

void report_audits(const std::vector<metrics::SubgroupAudit>& audits, const fs::path& plot, json& j) {
  if (audits.empty()) return;
  j["subgroups"] = json::array();
  for (const auto& a : audits) j["subgroups"].push_back(metrics::audit_json(a));
  if (!plot.empty()) metrics::save_audit_plot(plot, audits);
}

json scores_json(const survival::SurvivalScores& s, bool with_ci = false) {
  json j = {{"c_harrell", s.c_harrell},
            {"c_uno", s.c_uno},
            {"ibs", s.ibs},
            {"ibs_grid", {s.grid.front(), s.grid.back()}},
            {"horizon", s.horizon},
            {"auc_at_horizon", finite_or_null(s.auc_at_horizon)},
            {"calibration_ece_at_horizon", s.calibration.ece},
            {"n", s.n},
            {"events", s.events}};
  if (with_ci)
    j["ci95"] = {{"c_harrell", {finite_or_null(s.c_harrell_lower), finite_or_null(s.c_harrell_upper)}},
                 {"c_uno", {finite_or_null(s.c_uno_lower), finite_or_null(s.c_uno_upper)}},
                 {"ibs", {finite_or_null(s.ibs_lower), finite_or_null(s.ibs_upper)}},
                 {"auc_at_horizon", {finite_or_null(s.auc_lower), finite_or_null(s.auc_upper)}}};
  json bins = json::array();
  for (size_t b = 0; b < s.calibration.count.size(); ++b)
    bins.push_back({{"predicted", s.calibration.predicted[b]},
                    {"observed", s.calibration.observed[b]},
                    {"n", s.calibration.count[b]}});
  j["calibration_at_horizon"] = bins;
  return j;
}

// Predicted against Kaplan-Meier S(horizon) per decile of predicted risk, and the Brier score over time.
void save_calibration_plot(const fs::path& path, const survival::SurvivalScores& s) {
  io::PlotPanel cal{"calibration of S(" + std::to_string(static_cast<long>(s.horizon)) + ")", "predicted survival",
                    "observed (Kaplan-Meier)"};
  cal.x_range = cal.y_range = {{0.0, 1.0}};
  cal.diagonal = true;
  io::Series pts{"deciles of predicted risk", s.calibration.predicted, s.calibration.observed, {31, 119, 180}, true};
  cal.series.push_back(pts);
  io::PlotPanel brier{"Brier score (IPCW)", "time", "Brier"};
  brier.series.push_back({"model", s.grid, s.brier});
  io::save_plot(path, {cal, brier});
}

std::vector<double> parse_times(const std::string& text) {
  std::vector<double> out;
  for (const auto& item : survival::split_names(text, "--times")) {
    const auto v = io::parse_number(item);
    if (!v || !(*v >= 0)) fail_invalid("--times: '" + item + "' is not a time >= 0");
    out.push_back(*v);
  }
  return out;
}

void add_predict_command(CLI::App* parent, GlobalOptions& g) {
  auto* cmd = parent->add_subcommand("predict", "survival curves per patient: S(t) at given times and the risk score");
  struct Opts {
    fs::path model, data, out;
    std::string times;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "run folder of `medai survival fit`")->required();
  cmd->add_option("--data", o->data, "CSV of patients (the model's covariate columns)")->required();
  cmd->add_option("--times", o->times, "comma-separated times (default: quartiles of the training event times)");
  cmd->add_option("--out", o->out, "CSV to write (default: standard output)");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    const auto m = load_model(o->model);
    const io::CsvTable t = io::read_csv(o->data);
    // Time and event are not needed to predict (new patients have neither): set to placeholders.
    io::CsvTable filled = t;
    for (const auto& col : {m.columns.time, m.columns.event}) {
      auto c = filled.find_column(col);
      if (!c) {
        filled.header.push_back(col);
        for (auto& row : filled.rows) row.emplace_back();
        c = filled.header.size() - 1;
      }
      for (auto& row : filled.rows) row[*c] = "1";
    }
    const auto d = model_rows(m.model, m.columns, filled);
    std::vector<double> times = parse_times(o->times);
    if (times.empty()) {
      const auto& bt = m.model.cox.base_time.at(0);  // the training event times (the Cox fit is always kept)
      if (bt.empty()) fail_invalid("--times: give the times (the training data had no events)");
      for (double q : {0.25, 0.5, 0.75}) times.push_back(bt.at(static_cast<size_t>(q * (bt.size() - 1))));
    }
    std::ostringstream csv;
    csv << "row,stratum,risk_score";
    for (double tt : times) csv << ",S(" << tt << ")";
    csv << "\n";
    const auto risk = m.model.risks(d);
    const auto strata = m.model.strata();
    for (size_t i = 0; i < d.n(); ++i) {
      const double* x = &d.x[i * d.p()];
      csv << d.source_rows[i] << "," << io::csv_escape(strata[d.stratum[i]]) << "," << risk[i];
      for (double s : m.model.survival(x, d.stratum[i], times)) csv << "," << s;
      csv << "\n";
    }
    if (d.dropped_missing)
      spdlog::warn("{}: {} rows with a missing covariate were not predicted", o->data.string(), d.dropped_missing);
    if (o->out.empty()) return static_cast<void>(std::fputs(csv.str().c_str(), stdout));
    core::write_file_atomic(o->out, csv.str());
    spdlog::info("{} patients -> {}", d.n(), o->out.string());
  });
}

void add_audit_options(CLI::App* cmd, std::string& groups, fs::path& plot) {
  cmd->add_option("--groups", groups,
                  "subgroup audit: Harrell's C within each value of these columns (comma-separated)");
  cmd->add_option("--audit-plot", plot, "PNG of each group's C with its CI (with --groups)");
}

void add_evaluate_command(CLI::App* parent, GlobalOptions& g) {
  auto* cmd = parent->add_subcommand("evaluate", "Harrell's and Uno's C and the integrated Brier score on new data");
  struct Opts {
    fs::path model, data, audit_plot, calibration_plot;
    std::string groups;
    double horizon = 0;
    int bootstrap = 200;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "run folder of `medai survival fit`")->required();
  cmd->add_option("--data", o->data, "CSV with the model's time, event and covariate columns")->required();
  cmd->add_option("--horizon", o->horizon,
                  "time for the time-dependent AUC and the calibration of S(t) (default: the middle of the grid)");
  cmd->add_option("--bootstrap", o->bootstrap, "resamples for the 95 % CIs")
      ->check(CLI::Range(10, 100000))
      ->capture_default_str();
  cmd->add_option("--calibration-plot", o->calibration_plot,
                  "PNG: calibration at the horizon and the Brier score over time");
  add_audit_options(cmd, o->groups, o->audit_plot);
  cmd->add_flag("--json", o->json, "print the figures as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    auto m = load_model(o->model);
    m.columns.groups = survival::split_names(o->groups, "--groups");
    const auto d = model_rows(m.model, m.columns, io::read_csv(o->data));
    log_dropped(d, o->data);
    const auto grid = survival::default_time_grid(d.time);
    const auto p = predict_rows(m.model, d, grid);
    const auto s =
        survival::bootstrap_survival_scores(d.time, d.event, p.risk, p.curves, grid, o->horizon, o->bootstrap);
    json j = scores_json(s, true);
    if (!o->calibration_plot.empty()) save_calibration_plot(o->calibration_plot, s);
    j["dropped_missing"] = d.dropped_missing;
    const auto audits = survival_audits(d, m.columns.groups, p.risk);
    report_audits(audits, o->audit_plot, j);
    if (o->json) return print_json(j);
    std::printf(
        "n %zu (%zu events): Harrell's C %.4f (%.4f-%.4f), Uno's C %.4f (%.4f-%.4f), integrated Brier %.4f "
        "(%.4f-%.4f) over [%g, %g]\n",
        s.n, s.events, s.c_harrell, s.c_harrell_lower, s.c_harrell_upper, s.c_uno, s.c_uno_lower, s.c_uno_upper, s.ibs,
        s.ibs_lower, s.ibs_upper, s.grid.front(), s.grid.back());
    std::printf("at t = %g: AUC %.4f (%.4f-%.4f), calibration ECE %.4f\n", s.horizon, s.auc_at_horizon, s.auc_lower,
                s.auc_upper, s.calibration.ece);
    for (const auto& a : audits) std::fputs(metrics::audit_text(a).c_str(), stdout);
  });
}

void add_cv_command(CLI::App* parent, GlobalOptions& g) {
  auto* cmd = parent->add_subcommand("cv", "cross-validated C and integrated Brier score over a row,fold file");
  struct Opts {
    ColumnOpts cols;
    ModelOpts model;
    fs::path folds, audit_plot;
    std::string groups;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  add_column_options(cmd, o->cols, true);
  add_model_options(cmd, o->model);
  cmd->add_option("--folds", o->folds, "row,fold file over the data CSV's rows (medai text split --folds writes one)")
      ->required();
  add_audit_options(cmd, o->groups, o->audit_plot);
  cmd->add_flag("--json", o->json, "print the figures as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    const io::CsvTable t = io::read_csv(o->cols.data);
    const auto folds = data::read_row_splits(o->folds, t.rows.size());
    if (!folds.folds) fail_invalid(o->folds.string() + ": a row,fold file is needed (this one is row,split)");
    auto columns = columns_of(o->cols);
    columns.groups = survival::split_names(o->groups, "--groups");
    // One time grid for every fold (from all listed rows), so pooled curves share their times.
    std::vector<size_t> listed;
    for (size_t r = 0; r < folds.assignment.size(); ++r)
      if (folds.assignment[r] >= 0) listed.push_back(r);
    auto all_columns = columns;
    if (o->cols.impute) all_columns.impute = survival::imputation_values(t, columns, &listed);
    const auto all = survival::read_survival_data(t, all_columns, nullptr, &listed);
    log_dropped(all, o->cols.data);
    const auto grid = survival::default_time_grid(all.time);
    std::vector<double> time, risk;
    std::vector<int> event;
    survival::SurvivalCurves curves;
    survival::SurvivalData pooled;  // the out-of-fold rows' outcomes and groups, for the audit
    pooled.group_values.resize(columns.groups.size());
    json per_fold = json::array();
    for (int k = 0; k < folds.fold_count(); ++k) {
      const auto train_rows = folds.rows_without(k), test_rows = folds.rows_with(k);
      if (test_rows.empty()) continue;
      auto fold_columns = columns;  // imputed from the training folds only
      if (o->cols.impute) fold_columns.impute = survival::imputation_values(t, columns, &train_rows);
      const auto m = fit_model(survival::read_survival_data(t, fold_columns, nullptr, &train_rows), o->model, false);
      const auto d = model_rows(m, fold_columns, t, &test_rows);
      const auto p = predict_rows(m, d, grid);
      json f = scores_json(survival::score_survival(d.time, d.event, p.risk, p.curves, grid));
      f["fold"] = k;
      per_fold.push_back(f);
      time.insert(time.end(), d.time.begin(), d.time.end());
      event.insert(event.end(), d.event.begin(), d.event.end());
      risk.insert(risk.end(), p.risk.begin(), p.risk.end());
      curves.insert(curves.end(), p.curves.begin(), p.curves.end());
      for (size_t g = 0; g < columns.groups.size(); ++g)
        pooled.group_values[g].insert(pooled.group_values[g].end(), d.group_values[g].begin(), d.group_values[g].end());
    }
    pooled.time = time;
    pooled.event = event;
    json j = scores_json(survival::score_survival(time, event, risk, curves, grid));
    j["model"] = resolve_model(o->model, all);
    j["folds"] = per_fold;
    j["dropped_missing"] = all.dropped_missing;
    const auto audits = survival_audits(pooled, columns.groups, risk);
    report_audits(audits, o->audit_plot, j);
    if (o->json) return print_json(j);
    for (const auto& a : audits) std::fputs(metrics::audit_text(a).c_str(), stdout);
    std::printf("pooled out of fold, n %zu: Harrell's C %.4f, Uno's C %.4f, integrated Brier %.4f\n",
                j["n"].get<size_t>(), j["c_harrell"].get<double>(), j["c_uno"].get<double>(), j["ibs"].get<double>());
    for (const auto& f : per_fold)
      std::printf("  fold %d: n %zu, C %.4f\n", f["fold"].get<int>(), f["n"].get<size_t>(),
                  f["c_harrell"].get<double>());
  });
}

}  // namespace

void add_survival_commands(CLI::App& app, GlobalOptions& global) {
  auto* survival = app.add_subcommand("survival", "survival analysis: Kaplan-Meier, log-rank, Cox models");
  survival->require_subcommand(1);
  add_km_command(survival, global);
  add_fit_command(survival, global);
  add_predict_command(survival, global);
  add_evaluate_command(survival, global);
  add_cv_command(survival, global);
}

}  // namespace medai::app
