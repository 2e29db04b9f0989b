// medai dose: warfarin dosing from clinical and pharmacogenetic data (IWPC), learned models,
// contextual bandits and single-patient recommendations.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "medai/core/atomic_file.h"
#include "medai/core/model_card.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/data/row_splits.h"
#include "medai/dosing/dose_bandit.h"
#include "medai/dosing/dose_evaluation.h"
#include "medai/dosing/iwpc.h"
#include "medai/dosing/recommend.h"
#include "medai/io/csv.h"

namespace medai::app {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace medai::dosing;

namespace {

constexpr const char* kDoseTask = "warfarin-dose";
constexpr const char* kIntendedUse =
    "Decision support for choosing a warfarin starting dose (mg/week) in adults with a target INR of about 2-3, "
    "from clinical data and, when typed, CYP2C9 and VKORC1; INR monitoring and titration remain necessary.";
const std::vector<std::string> kLimits = {
    "Trained on the IWPC cohort (21 sites, 9 countries, 2009): doses and populations elsewhere may differ; "
    "per-race results are in the card and should be checked before use in another population.",
    "CYP4F2, other genes and interacting drugs beyond those listed are not modelled.",
    "Missing height or weight is imputed from patients of the same sex and race and widens the interval; age is "
    "required (no recommendation without it).",
    "A starting dose is a prediction of the stable dose, not a substitute for INR-guided titration.",
};

std::vector<WarfarinPatient> rows_in(const WarfarinCohort& c, const data::RowSplits& s, int part) {
  std::vector<WarfarinPatient> out;
  for (size_t r : s.rows_with(part)) out.push_back(c.patients[r]);
  return out;
}

// A random 80/20 split of the patients (seeded), written to `path`.
data::RowSplits random_split(const WarfarinCohort& c, uint64_t seed, const fs::path& path) {
  data::RowSplitRequest q;
  for (const auto& p : c.patients) q.groups.push_back(std::to_string(p.row));
  q.test_fraction = 0.2;
  q.seed = seed;
  auto s = data::make_row_splits(q);
  data::write_row_splits(s, path);
  return s;
}

void add_train_command(CLI::App* dose, GlobalOptions& g) {
  struct Opt {
    fs::path data, out, splits;
    DoseTrainOptions train;
    bool json = false;
  };
  auto o = std::make_shared<Opt>();
  auto* cmd = dose->add_subcommand("train", "fit a warfarin dose model (sqrt weekly dose) with conformal intervals");
  cmd->add_option("--data", o->data, "CSV in the IWPC layout (Race, Age, Height (cm), Weight (kg), genotypes, dose)")
      ->required();
  cmd->add_option("--out", o->out, "run folder to write")->required();
  cmd->add_option("--splits", o->splits,
                  "row,split file (train rows are fitted); without it a random 80/20 split is made and saved as "
                  "RUN/splits.csv");
  cmd->add_option("--model", o->train.model, "ridge | xgboost | mlp | iwpc-pharmacogenetic | iwpc-clinical | fixed")
      ->capture_default_str();
  cmd->add_option("--interval-level", o->train.interval_level, "conformal prediction interval level")
      ->check(CLI::Range(0.5, 0.99))
      ->capture_default_str();
  cmd->add_option("--seed", o->train.seed)->capture_default_str();
  cmd->add_flag("--json", o->json, "print the model card");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    parse_model_kind(o->train.model, nullptr);
    if (fs::exists(o->out / "dose_model.json")) fail_invalid(o->out.string() + ": already holds a dose model");
    const auto cohort = read_warfarin_csv(o->data, true);
    fs::create_directories(o->out);
    const auto splits = o->splits.empty() ? random_split(cohort, o->train.seed, o->out / "splits.csv")
                                          : data::read_row_splits(o->splits, cohort.patients.size());
    if (splits.folds) fail_invalid(o->splits.string() + ": a row,fold file; dose train takes a row,split file");
    const auto train = rows_in(cohort, splits, data::RowSplits::kTrain);
    o->train.threads = g.threads;
    const auto model = DoseModel::train(train, o->train);
    model.save(o->out);
    auto core = core::ModelCardCore::fresh(o->out, core::ModelKind::Dosing, kDoseTask);
    core.architecture = model.name() + " on the square root of the weekly dose; split-conformal intervals";
    core.inputs = {{"patient", "IWPC clinical and pharmacogenetic fields", "mg/week"}};
    core.training = {{"model", model.name()}, {"interval_level", o->train.interval_level}, {"seed", o->train.seed}};
    core.data = {{"source", o->data.filename().string()},
                 {"patients", cohort.patients.size()},
                 {"vkorc1_imputed_from_linked_snps", cohort.vkorc1_imputed}};
    core.split = {{"file", o->splits.empty() ? "splits.csv (random 80/20, seed " + std::to_string(o->train.seed) + ")"
                                             : o->splits.string()},
                  {"train_rows", train.size()}};
    core.metrics = {{"train_out_of_fold", model.training_report()}};
    core.intended_use = kIntendedUse;
    core.limitations = kLimits;
    json card = json::object();
    core.write(card);
    core::write_json_file(o->out / core::kModelCardFile, card);
    const auto& oof = model.training_report()["out_of_fold"];
    spdlog::info("dose model {} on {} patients: out-of-fold MAE {:.2f} mg/week, within 20 % {:.1f} %", model.name(),
                 oof["n"].get<size_t>(), oof["mae_mg_week"].get<double>(), 100 * oof["within_20pct"].get<double>());
    if (o->json) print_json(card);
    else std::printf("dose model written to %s\n", o->out.string().c_str());
  });
}

void write_predictions(const fs::path& path, const std::vector<RowPrediction>& rows) {
  std::string csv = "row,predicted_dose,lower,upper,dose_band,imputed\n";
  for (const auto& r : rows) {
    std::string imputed;
    for (const auto& f : r.prediction.imputed) imputed += (imputed.empty() ? "" : ";") + f;
    char line[160];
    std::snprintf(line, sizeof line, "%zu,%.3f,%.3f,%.3f,%d,", r.row, r.prediction.dose, r.prediction.lower,
                  r.prediction.upper, dose_bucket(r.prediction.dose));
    csv += line + io::csv_escape(imputed) + "\n";
  }
  core::write_file_atomic(path, csv);
}

void print_evaluation(const json& r) {
  std::printf("%s on %zu patients (%.1f %% of %zu with a dose given a recommendation)\n",
              r["model"].get<std::string>().c_str(), r["n"].get<size_t>(), 100 * r["coverage"].get<double>(),
              r["n_with_dose"].get<size_t>());
  std::printf(
      "  MAE %.2f mg/week, within 20 %% %.1f %%, dose band %.1f %%, interval coverage %.1f %% (level %.0f %%)\n",
      r["mae_mg_week"].get<double>(), 100 * r["within_20pct"].get<double>(), 100 * r["bucket_accuracy"].get<double>(),
      100 * r["interval_coverage"].get<double>(), 100 * r["interval_level"].get<double>());
  std::printf("  complete cases:\n");
  for (const auto& [name, f] : r["complete_cases"].items())
    if (f.is_object())
      std::printf("    %-24s MAE %.2f, within 20 %% %.1f %%, band %.1f %% (n %zu)\n", name.c_str(),
                  f["mae_mg_week"].get<double>(), 100 * f["within_20pct"].get<double>(),
                  100 * f["bucket_accuracy"].get<double>(), f["n"].get<size_t>());
  for (const char* key : {"by_dose_band", "by_race"}) {
    std::printf("  %s:\n", key);
    for (const auto& g : r[key])
      std::printf("    %-28s MAE %.2f, within 20 %% %.1f %% (n %zu)\n", g["group"].get<std::string>().c_str(),
                  g["mae_mg_week"].get<double>(), 100 * g["within_20pct"].get<double>(), g["n"].get<size_t>());
  }
}

void add_evaluate_command(CLI::App* dose, GlobalOptions& g) {
  struct Opt {
    fs::path model, data, splits, predictions;
    std::string split = "test";
    int bootstrap = 1000;
    bool json = false;
  };
  auto o = std::make_shared<Opt>();
  auto* cmd = dose->add_subcommand("evaluate", "MAE, within-20 %, dose-band accuracy, coverage, subgroups vs IWPC");
  cmd->add_option("--model", o->model, "run folder of medai dose train")->required();
  cmd->add_option("--data", o->data, "CSV in the IWPC layout")->required();
  cmd->add_option("--splits", o->splits, "row,split file (default: every row)");
  cmd->add_option("--split", o->split, "train | valid | test")->capture_default_str();
  cmd->add_option("--predictions", o->predictions, "CSV to write: row,predicted_dose,lower,upper,dose_band,imputed");
  cmd->add_option("--bootstrap", o->bootstrap, "resamples for the 95 % CIs")->check(CLI::Range(0, 100000));
  cmd->add_flag("--json", o->json, "print the figures as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    const auto model = DoseModel::load(o->model);
    const auto cohort = read_warfarin_csv(o->data, true);
    std::vector<WarfarinPatient> patients = cohort.patients;
    if (!o->splits.empty()) {
      const auto s = data::read_row_splits(o->splits, cohort.patients.size());
      if (s.folds) fail_invalid(o->splits.string() + ": a row,fold file; dose evaluate takes a row,split file");
      patients = rows_in(cohort, s, data::split_part(o->split));
    }
    if (patients.empty()) fail_invalid("dose evaluate: no rows in split '" + o->split + "'");
    const auto ev = evaluate_dose_model(model, patients, o->bootstrap);
    if (!o->predictions.empty()) write_predictions(o->predictions, ev.predicted);
    if (o->json) print_json(ev.report);
    else print_evaluation(ev.report);
  });
}

void add_bandit_command(CLI::App* dose, GlobalOptions& g) {
  struct Opt {
    fs::path data;
    std::string policy = kBestPolicy, plot;
    BanditOptions bandit;
    bool json = false;
  };
  auto o = std::make_shared<Opt>();
  auto* cmd = dose->add_subcommand("bandit", "replay patients as a contextual bandit (dose bands, reward 0 / -1)");
  cmd->add_option("--data", o->data, "CSV in the IWPC layout")->required();
  cmd->add_option("--policy", o->policy,
                  "fixed | clinical | pharmacogenetic | linucb | thompson | lasso-bandit | pgx-linucb, a "
                  "comma-separated list, or all (default: the best, pgx-linucb)")
      ->capture_default_str();
  cmd->add_option("--permutations", o->bandit.permutations, "random patient orders")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--seed", o->bandit.seed)->capture_default_str();
  cmd->add_option("--alpha", o->bandit.alpha, "LinUCB exploration (pgx-linucb uses alpha / 5)")->capture_default_str();
  cmd->add_option("--plot", o->plot, "PNG of cumulative regret and running accuracy per policy");
  cmd->add_flag("--json", o->json, "print the results as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    std::vector<std::string> names = o->policy == "all" ? bandit_policies() : io::split_names(o->policy, "--policy");
    for (const auto& n : names) check_known("--policy", n, bandit_policies());
    const auto cohort = read_warfarin_csv(o->data, true);
    std::vector<BanditResult> results;
    for (const auto& n : names) {
      results.push_back(run_bandit(cohort.patients, n, o->bandit));
      const auto& r = results.back();
      spdlog::info("{}: accuracy {:.4f} (95 % CI {:.4f}-{:.4f}), regret {:.1f} over {} patients x {} orders", n,
                   r.accuracy, r.accuracy_lo, r.accuracy_hi, r.regret, r.n, r.permutations);
    }
    if (!o->plot.empty()) save_regret_plot(o->plot, results);
    size_t best = 0;
    for (size_t i = 1; i < results.size(); ++i)
      if (results[i].regret < results[best].regret) best = i;
    json out = results[best].to_json();
    if (results.size() > 1) {
      out["policies"] = json::array();
      for (const auto& r : results) out["policies"].push_back(r.to_json());
      out["best"] = "the listed policy with the lowest mean regret";
    }
    if (o->json) print_json(out);
    else
      for (const auto& r : results)
        std::printf("%-16s accuracy %.4f [%.4f, %.4f]  regret %.1f [%.1f, %.1f]  safety overrides %.1f\n",
                    r.policy.c_str(), r.accuracy, r.accuracy_lo, r.accuracy_hi, r.regret, r.regret_lo, r.regret_hi,
                    r.safety_overrides);
  });
}

void add_recommend_command(CLI::App* dose, GlobalOptions& g) {
  struct Opt {
    std::string patient;
    fs::path model;
  };
  auto o = std::make_shared<Opt>();
  auto* cmd = dose->add_subcommand("recommend", "a weekly dose for one patient, with interval and explanation");
  cmd->add_option("--patient", o->patient, "patient JSON file, or - for standard input")->required();
  cmd->add_option("--model", o->model,
                  "run folder of medai dose train (default: the built-in IWPC pharmacogenetic formula)");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    const auto model = o->model.empty() ? DoseModel::builtin() : DoseModel::load(o->model);
    const TextInput in = read_text_input(o->patient);
    json j;
    try {
      j = json::parse(in.text);
    } catch (const json::exception& e) {
      fail_invalid(in.name + ": not JSON (" + e.what() + ")");
    }
    print_json(recommend_dose(model, patient_from_json(j)));
  });
}

}  // namespace

void add_dose_commands(CLI::App& app, GlobalOptions& global) {
  auto* dose = app.add_subcommand("dose", "warfarin dosing: IWPC formulas, learned models, bandits, recommendations");
  dose->require_subcommand(1);
  add_train_command(dose, global);
  add_evaluate_command(dose, global);
  add_bandit_command(dose, global);
  add_recommend_command(dose, global);
}

}  // namespace medai::app
