// medai icu split | train | cv | predict: in-hospital mortality from the first 48 h of an ICU stay
// (PhysioNet/CinC 2012 format) with gradient-boosted trees on per-stay summaries.
#include <spdlog/spdlog.h>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "commands.h"
#include "medai/core/atomic_file.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/icu/mortality_model.h"
#include "medai/icu/physionet.h"
#include "medai/io/csv.h"
#include "medai/metrics/bootstrap.h"
#include "medai/metrics/calibration.h"
#include "medai/metrics/classification.h"
#include "medai/metrics/subgroup.h"
#include "medai/train/distributed_env.h"

namespace medai::app {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kIcuLimits =
    "Intended use: estimating the risk of in-hospital death from the first 48 hours of an adult ICU stay, for "
    "research, audit and as one input to clinical judgement; never a reason to withhold care. Limits: trained on "
    "MIMIC-II stays (one US tertiary centre, 2001-2008) in the PhysioNet 2012 format; other hospitals, charting "
    "practices or eras shift the risk scale (recalibrate locally); the 48-hour window means it cannot be used "
    "earlier in the stay; values outside the physiologic ranges are dropped, not corrected.";

// Stays with an outcome, and their outcomes; stays without one are counted and left out.
struct Cohort {
  std::vector<icu::Stay> stays;
  std::vector<int> died;
  icu::CleaningReport cleaning;
  size_t without_outcome = 0;
};

Cohort read_cohort(const fs::path& data, const fs::path& outcomes, bool progress) {
  const auto t0 = std::chrono::steady_clock::now();
  Cohort c;
  auto stays = icu::read_stays(data, &c.cleaning);
  const auto o = icu::read_outcomes(outcomes);
  for (auto& s : stays) {
    const auto it = o.find(s.record_id);
    if (it == o.end()) {
      ++c.without_outcome;
      continue;
    }
    c.died.push_back(it->second);
    c.stays.push_back(std::move(s));
  }
  if (c.stays.empty()) fail_invalid(outcomes.string() + ": no RecordID of " + data.string() + " has an outcome");
  if (c.without_outcome)
    spdlog::warn("{} stays have no outcome in {} and are left out", c.without_outcome, outcomes.string());
  size_t dropped = 0;
  for (const auto& [k, v] : c.cleaning.dropped) dropped += v;
  if (progress)
    spdlog::info("read {} stays ({} deaths) in {:.1f} s; {} implausible values dropped", c.stays.size(),
                 std::count(c.died.begin(), c.died.end(), 1),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), dropped);
  return c;
}

void add_sequence_options(CLI::App* cmd, icu::SequenceOptions& s);

// --model, the trees' and the GRU-D's settings.
void add_tree_options(CLI::App* cmd, icu::MortalityOptions& o) {
  cmd->add_option("--model", o.model,
                  "trees (XGBoost on summaries) | grud (GRU-D on the hourly series) | ensemble (their weighted blend)")
      ->check(CLI::IsMember({"trees", "grud", "ensemble"}))
      ->capture_default_str();
  add_sequence_options(cmd, o.sequence);
  auto& p = o.trees;
  cmd->add_option("--bags", o.bags, "tree ensembles with successive seeds, averaged on the log-odds scale")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--rounds", p.rounds, "boosting rounds")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--learning-rate", p.learning_rate)->check(CLI::Range(1e-4, 1.0))->capture_default_str();
  cmd->add_option("--max-depth", p.max_depth)->check(CLI::Range(1, 16))->capture_default_str();
  cmd->add_option("--subsample", p.subsample, "rows per tree")->check(CLI::Range(0.1, 1.0))->capture_default_str();
  cmd->add_option("--colsample", p.colsample_bytree, "features per tree")
      ->check(CLI::Range(0.05, 1.0))
      ->capture_default_str();
  cmd->add_option("--min-child-weight", p.min_child_weight)->check(CLI::Range(0.0, 1000.0))->capture_default_str();
  cmd->add_option("--seed", p.seed)->capture_default_str();
}

void add_sequence_options(CLI::App* cmd, icu::SequenceOptions& s) {
  cmd->add_option("--grud-hidden", s.hidden, "GRU-D hidden units")->check(CLI::Range(4, 1024))->capture_default_str();
  cmd->add_option("--grud-epochs", s.epochs)->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--grud-lr", s.lr)->check(CLI::Range(1e-6, 1.0))->capture_default_str();
  cmd->add_option("--grud-dropout", s.dropout)->check(CLI::Range(0.0, 0.9))->capture_default_str();
  cmd->add_option("--grud-weight-decay", s.weight_decay)->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->add_option("--grud-batch-size", s.batch_size)->check(CLI::Range(1, 65536))->capture_default_str();
  cmd->add_option("--grud-curves", s.curves_csv, "write the GRU-D's epoch curves (CSV) here");
}

std::vector<std::string> parse_groups(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != ',') {
      item += text[i];
      continue;
    }
    if (item.empty()) continue;
    check_known("--groups", item, {"sex", "age_band", "ICUType"});
    out.push_back(item);
    item.clear();
  }
  return out;
}

std::string descriptor_group(const icu::Stay& s, const std::string& column) {
  if (column == "sex") return std::isnan(s.gender) ? "unknown" : s.gender == 1 ? "male" : "female";
  if (column == "age_band") return metrics::age_band(s.age);
  const char* names[] = {"unknown", "coronary care", "cardiac surgery recovery", "medical ICU", "surgical ICU"};
  return std::isnan(s.icu_type) ? names[0] : names[static_cast<int>(s.icu_type)];
}

json cleaning_json(const icu::CleaningReport& r) {
  json dropped = json::object();
  for (const auto& [k, v] : r.dropped) dropped[k] = v;
  return {{"stays", r.stays}, {"dropped_implausible", dropped}};
}

struct BinaryFigures {
  double auroc, auprc, brier;
  metrics::Interval auroc_ci, auprc_ci;
};

BinaryFigures figures(const std::vector<double>& p, const std::vector<int>& y) {
  BinaryFigures f{metrics::auroc(p, y), metrics::average_precision(p, y), metrics::brier_score(p, y)};
  f.auroc_ci = metrics::bootstrap_ci(
      p.size(), [&](const auto& idx) { return metrics::metric_on(metrics::auroc, p, y, idx); }, 500);
  f.auprc_ci = metrics::bootstrap_ci(
      p.size(), [&](const auto& idx) { return metrics::metric_on(metrics::average_precision, p, y, idx); }, 500);
  return f;
}

std::vector<const icu::Stay*> used_stays(const std::vector<icu::Stay>& stays, const std::vector<double>& oof) {
  std::vector<const icu::Stay*> used;
  for (size_t i = 0; i < oof.size(); ++i)
    if (!std::isnan(oof[i])) used.push_back(&stays[i]);
  return used;
}

// The subgroup audit of out-of-fold probabilities `p` (outcomes `y`, stays `used`) over the
// descriptor columns, at `threshold` (< 0: Youden's), into j["subgroups"] and the plot.
std::vector<metrics::SubgroupAudit> icu_audits(const std::vector<std::string>& groups,
                                               const std::vector<const icu::Stay*>& used, const std::vector<double>& p,
                                               const std::vector<int>& y, double threshold, const fs::path& plot,
                                               json& j) {
  std::vector<metrics::SubgroupAudit> audits;
  if (groups.empty()) return audits;
  if (threshold < 0) threshold = metrics::youden_threshold(p, y);
  for (const auto& column : groups) {
    metrics::AuditInput in;
    in.column = column;
    for (const auto* s : used) in.group.push_back(descriptor_group(*s, column));
    in.outcome = y;
    in.probabilities = &p;
    in.threshold = threshold;
    in.metric = [&](const std::vector<size_t>& idx) { return metrics::metric_on(metrics::auroc, p, y, idx); };
    audits.push_back(metrics::audit_subgroups(in));
    for (const auto& w : audits.back().warnings) spdlog::warn("subgroup audit: {}", w);
  }
  j["subgroups"] = json::array();
  for (const auto& a : audits) j["subgroups"].push_back(metrics::audit_json(a));
  j["audit_threshold"] = threshold;
  if (!plot.empty()) metrics::save_audit_plot(plot, audits);
  return audits;
}

void add_split_command(CLI::App* parent, GlobalOptions& g) {
  auto* cmd = parent->add_subcommand("split", "write a RecordID,fold file, stratified by the outcome");
  struct Opts {
    fs::path outcomes, out;
    int folds = 5;
    uint64_t seed = 1;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--outcomes", o->outcomes, "Outcomes file (RecordID, In-hospital_death)")->required();
  cmd->add_option("--out", o->out, "RecordID,fold CSV to write")->required();
  cmd->add_option("--folds", o->folds)->check(CLI::Range(2, 100))->capture_default_str();
  cmd->add_option("--seed", o->seed)->capture_default_str();
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    const auto outcomes = icu::read_outcomes(o->outcomes);
    std::vector<int64_t> ids[2];
    for (const auto& [id, d] : outcomes) ids[d].push_back(id);
    std::mt19937_64 rng(o->seed);
    std::string csv = "RecordID,fold\n";
    std::map<int64_t, int> fold;
    for (auto& group : ids) {
      std::shuffle(group.begin(), group.end(), rng);
      for (size_t i = 0; i < group.size(); ++i) fold[group[i]] = static_cast<int>(i % o->folds);
    }
    for (const auto& [id, f] : fold) csv += std::to_string(id) + "," + std::to_string(f) + "\n";
    core::write_file_atomic(o->out, csv);
    std::printf("%s: %zu stays in %d folds (stratified by death)\n", o->out.string().c_str(), fold.size(), o->folds);
  });
}

struct TrainOpts {
  fs::path data, outcomes, out;
  icu::MortalityOptions trees;
};

// `icu train --distributed`: the GRU-D on every rank (each a shard of every batch), rank 0 saves.
void train_distributed(const TrainOpts& o, const GlobalOptions& g) {
  if (o.trees.model != "grud") fail_invalid("--distributed trains the GRU-D: add --model grud");
  const auto env = train::distributed_env_from_environment();
  const auto c = read_cohort(o.data, o.outcomes, !g.quiet && env.rank == 0);
  auto opts = o.trees;
  opts.sequence.progress = !g.quiet;
  const auto model = icu::MortalityModel::train(c.stays, c.died, opts);
  if (env.rank != 0) return;
  model.save(o.out);
  core::write_json_file(o.out / core::kModelCardFile,
                        {{"name", o.out.filename().string()},
                         {"kind", "icu-mortality"},
                         {"task", "in-hospital death from the first 48 h of an ICU stay"},
                         {"created", core::utc_timestamp()},
                         {"architecture", "GRU-D on the hourly series"},
                         {"training", {{"distributed", {{"world_size", env.world}, {"backend", "gloo"}}}}},
                         {"data", {{"source", o.data.filename().string()}, {"stays", c.stays.size()}}},
                         {"metrics", json::object()},
                         {"intended_use_and_limits", kIcuLimits},
                         {"software", core::software_versions()}});
  std::printf("trained on %zu stays with %d processes -> %s (not cross-validated: run medai icu cv for figures)\n",
              c.stays.size(), env.world, o.out.string().c_str());
}

void add_train_command(CLI::App* parent, GlobalOptions& g) {
  auto* cmd = parent->add_subcommand("train", "train the mortality model on every stay with an outcome");
  using Opts = TrainOpts;
  auto o = std::make_shared<Opts>();
  cmd->add_option("--data", o->data, "folder of stay files (RecordID.txt, PhysioNet 2012 format)")->required();
  cmd->add_option("--outcomes", o->outcomes, "Outcomes file (RecordID, In-hospital_death)")->required();
  cmd->add_option("--out", o->out, "run folder to write")->required();
  add_tree_options(cmd, o->trees);
  cmd->add_flag("--distributed", o->trees.sequence.distributed,
                "data-parallel GRU-D training over c10d/Gloo (with --model grud; RANK, WORLD_SIZE, MASTER_ADDR, "
                "MASTER_PORT as torchrun sets them); rank 0 writes the run; no cross-validation for the card");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    if (o->trees.sequence.distributed) {
      train_distributed(*o, g);
      return;
    }
    const auto c = read_cohort(o->data, o->outcomes, !g.quiet);
    // An honest figure for the card: 5-fold CV on the same stays (stratified, seed 1).
    std::map<int64_t, int> folds;
    for (size_t i = 0, k[2] = {0, 0}; i < c.stays.size(); ++i) folds[c.stays[i].record_id] = k[c.died[i]]++ % 5;
    o->trees.sequence.progress = false;
    spdlog::info("icu train: 5-fold cross-validation of the {} model for the card (about 2 min for the ensemble)",
                 o->trees.model);
    const auto oof = icu::cross_validated_mortality(c.stays, c.died, folds, o->trees).of(o->trees.model);
    const auto f = figures(oof, c.died);
    spdlog::info("icu train: out-of-fold AUROC {:.4f}; training on all {} stays", f.auroc, c.stays.size());
    o->trees.sequence.progress = !g.quiet;
    const auto model = icu::MortalityModel::train(c.stays, c.died, o->trees);
    model.save(o->out);
    core::write_json_file(
        o->out / core::kModelCardFile,
        {{"name", o->out.filename().string()},
         {"kind", "icu-mortality"},
         {"task", "in-hospital death from the first 48 h of an ICU stay"},
         {"created", core::utc_timestamp()},
         {"architecture", o->trees.model == "trees" ? "XGBoost gradient-boosted trees on per-stay summaries"
                          : o->trees.model == "grud"
                              ? "GRU-D on the hourly series"
                              : "0.8 x XGBoost trees on per-stay summaries + 0.2 x GRU-D on the hourly series "
                                "(log-odds)"},
         {"data",
          {{"source", o->data.filename().string()},
           {"stays", c.stays.size()},
           {"deaths", std::count(c.died.begin(), c.died.end(), 1)},
           {"stays_without_outcome", c.without_outcome},
           {"cleaning", cleaning_json(c.cleaning)}}},
         {"metrics",
          {{"cv5_out_of_fold",
            {{"auroc", f.auroc},
             {"auroc_ci95", {f.auroc_ci.lower, f.auroc_ci.upper}},
             {"auprc", f.auprc},
             {"auprc_ci95", {f.auprc_ci.lower, f.auprc_ci.upper}},
             {"brier", f.brier}}}}},
         {"intended_use_and_limits", kIcuLimits},
         {"software", core::software_versions()}});
    std::printf("trained on %zu stays -> %s; 5-fold out-of-fold AUROC %.4f (%.4f-%.4f), AUPRC %.4f, Brier %.4f\n",
                c.stays.size(), o->out.string().c_str(), f.auroc, f.auroc_ci.lower, f.auroc_ci.upper, f.auprc, f.brier);
  });
}

void add_cv_command(CLI::App* parent, GlobalOptions& g) {
  auto* cmd = parent->add_subcommand("cv", "pooled out-of-fold AUROC, AUPRC and Brier score over a RecordID,fold file");
  struct Opts {
    fs::path data, outcomes, folds;
    icu::MortalityOptions trees;
    fs::path predictions, audit_plot;
    std::string groups;
    double threshold = -1;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--data", o->data, "folder of stay files (RecordID.txt, PhysioNet 2012 format)")->required();
  cmd->add_option("--outcomes", o->outcomes, "Outcomes file (RecordID, In-hospital_death)")->required();
  cmd->add_option("--folds", o->folds, "RecordID,fold CSV (medai icu split writes one)")->required();
  add_tree_options(cmd, o->trees);
  cmd->add_option("--predictions", o->predictions,
                  "write the out-of-fold probabilities (RecordID, died, fold, each model) to this CSV");
  cmd->add_option("--groups", o->groups,
                  "subgroup audit over these descriptors: sex, age_band, ICUType (comma-separated)");
  cmd->add_option("--threshold", o->threshold,
                  "operating threshold for the audit's TPR/FPR (default: Youden's on the pooled predictions)");
  cmd->add_option("--audit-plot", o->audit_plot, "PNG of each group's AUROC with its CI (with --groups)");
  cmd->add_flag("--json", o->json, "print the figures as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    const auto groups = parse_groups(o->groups);
    const auto c = read_cohort(o->data, o->outcomes, !g.quiet && !o->json);
    const auto folds = icu::read_record_folds(o->folds);
    std::set<int64_t> known;
    for (const auto& s : c.stays) known.insert(s.record_id);
    for (const auto& [id, f] : folds)
      if (!known.count(id))
        fail_invalid(o->folds.string() + ": RecordID " + std::to_string(id) + " has no stay file with an outcome");
    o->trees.sequence.progress = !g.quiet && !o->json;
    const auto cvp = icu::cross_validated_mortality(c.stays, c.died, folds, o->trees);
    const auto& oof = cvp.of(o->trees.model);
    const auto field = [](double v) { return std::isnan(v) ? std::string() : std::to_string(v); };
    if (!o->predictions.empty()) {
      std::string csv = "RecordID,died,fold,trees,grud,ensemble\n";
      for (size_t i = 0; i < oof.size(); ++i)
        if (!std::isnan(oof[i]))
          csv += std::to_string(c.stays[i].record_id) + "," + std::to_string(c.died[i]) + "," +
                 std::to_string(folds.at(c.stays[i].record_id)) + "," + field(cvp.trees[i]) + "," +
                 field(cvp.sequence[i]) + "," + field(cvp.ensemble[i]) + "\n";
      core::write_file_atomic(o->predictions, csv);
    }
    std::vector<double> p;
    std::vector<int> y;
    for (size_t i = 0; i < oof.size(); ++i)
      if (!std::isnan(oof[i])) p.push_back(oof[i]), y.push_back(c.died[i]);
    const auto f = figures(p, y);
    const auto cal = metrics::calibration_report(p, y);
    json j = {{"auroc", f.auroc},
              {"auprc", f.auprc},
              {"brier", f.brier},
              {"n", p.size()},
              {"deaths", std::count(y.begin(), y.end(), 1)},
              {"auroc_ci95", {f.auroc_ci.lower, f.auroc_ci.upper}},
              {"auprc_ci95", {f.auprc_ci.lower, f.auprc_ci.upper}},
              {"ece", cal.ece},
              {"model", o->trees.model},
              {"folds", folds.empty() ? 0
                                      : std::max_element(
                                            folds.begin(), folds.end(),
                                            [](auto& a, auto& b) {
                                              return a.second < b.second;
                                            })->second +
                                            1}};
    if (o->trees.model == "ensemble") {
      json parts = json::object();
      for (const auto& [name, v] : {std::pair{"trees", &cvp.trees}, {"grud", &cvp.sequence}}) {
        std::vector<double> q;
        for (size_t i = 0; i < v->size(); ++i)
          if (!std::isnan(oof[i])) q.push_back((*v)[i]);
        parts[name] = {{"auroc", metrics::auroc(q, y)},
                       {"auprc", metrics::average_precision(q, y)},
                       {"brier", metrics::brier_score(q, y)}};
      }
      j["components"] = parts;
    }
    const auto audits = icu_audits(groups, used_stays(c.stays, oof), p, y, o->threshold, o->audit_plot, j);
    if (o->json) return print_json(j);
    for (const auto& a : audits) std::fputs(metrics::audit_text(a).c_str(), stdout);
    if (j.contains("components")) std::printf("components: %s\n", j["components"].dump().c_str());
    std::printf("pooled out of fold, n %zu: AUROC %.4f (%.4f-%.4f), AUPRC %.4f (%.4f-%.4f), Brier %.4f, ECE %.4f\n",
                p.size(), f.auroc, f.auroc_ci.lower, f.auroc_ci.upper, f.auprc, f.auprc_ci.lower, f.auprc_ci.upper,
                f.brier, cal.ece);
  });
}

void add_predict_command(CLI::App* parent, GlobalOptions& g) {
  auto* cmd =
      parent->add_subcommand("predict", "risk of in-hospital death for one stay, with its top contributing variables");
  struct Opts {
    fs::path model, stay;
    int top = 5;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "run folder of `medai icu train`")->required();
  cmd->add_option("--stay", o->stay, "one stay file (PhysioNet 2012 format)")->required();
  cmd->add_option("--top", o->top, "contributing variables to list")->check(CLI::Range(1, 50))->capture_default_str();
  cmd->add_flag("--json", o->json, "print as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    const auto model = icu::MortalityModel::load(o->model);
    icu::CleaningReport cleaning;
    const auto stay = icu::read_stay(o->stay, &cleaning);
    const auto e = model.explain(stay);
    json top = json::array();
    for (size_t i = 0; i < e.contributions.size() && static_cast<int>(i) < o->top; ++i)
      top.push_back({{"variable", e.contributions[i].first}, {"log_odds", e.contributions[i].second}});
    size_t dropped = 0;
    for (const auto& [k, v] : cleaning.dropped) dropped += v;
    const json j = {{"probability", e.probability},
                    {"base_log_odds", e.base_log_odds},
                    {"top_contributions", top},
                    {"explanation", "TreeSHAP (XGBoost), summed per variable, log-odds of death"},
                    {"implausible_values_dropped", dropped},
                    {"observations", stay.observations.size()}};
    if (stay.observations.empty())
      spdlog::warn("{}: no time-series observation: the risk rests on the descriptors alone", o->stay.string());
    if (o->json) return print_json(j);
    std::printf("risk of in-hospital death %.3f\n", e.probability);
    for (const auto& t : top)
      std::printf("  %-12s %+.3f log-odds\n", t["variable"].get<std::string>().c_str(), t["log_odds"].get<double>());
  });
}

void add_summary_command(CLI::App* parent, GlobalOptions& g) {
  auto* cmd = parent->add_subcommand("summary", "read every stay file: counts, and the values dropped as implausible");
  struct Opts {
    fs::path data;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--data", o->data, "folder of stay files (RecordID.txt, PhysioNet 2012 format)")->required();
  cmd->add_flag("--json", o->json, "print as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    const auto t0 = std::chrono::steady_clock::now();
    icu::CleaningReport report;
    const auto stays = icu::read_stays(o->data, &report);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    size_t kept = 0, dropped = 0;
    for (const auto& [k, v] : report.kept) kept += v;
    for (const auto& [k, v] : report.dropped) dropped += v;
    json j = cleaning_json(report);
    j["observations_kept"] = kept;
    j["observations_dropped"] = dropped;
    j["seconds"] = seconds;
    if (o->json) return print_json(j);
    std::printf("%zu stays, %zu observations kept, %zu dropped as implausible (%.2f s)\n", stays.size(), kept, dropped,
                seconds);
    for (const auto& [k, v] : report.dropped) std::printf("  %-12s %zu dropped\n", k.c_str(), v);
  });
}

}  // namespace

void add_icu_commands(CLI::App& app, GlobalOptions& global) {
  auto* icu = app.add_subcommand("icu", "ICU mortality from the first 48 h (PhysioNet/CinC 2012 format)");
  icu->require_subcommand(1);
  add_summary_command(icu, global);
  add_split_command(icu, global);
  add_train_command(icu, global);
  add_cv_command(icu, global);
  add_predict_command(icu, global);
}

}  // namespace medai::app
