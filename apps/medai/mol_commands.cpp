// medai mol split | train | evaluate | predict | depict: molecular property and toxicity prediction
// (D-MPNN ensemble or ECFP + XGBoost) on MoleculeNet-style CSVs, with RDKit as the chemistry engine.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "commands.h"
#include "medai/bridges/rdkit/chem.h"
#include "medai/chem/mol_data.h"
#include "medai/chem/mol_model.h"
#include "medai/chem/screening.h"
#include "medai/core/atomic_file.h"
#include "medai/core/model_card.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/io/csv.h"

namespace medai::app {

namespace fs = std::filesystem;
namespace bc = bridges::chem;
using nlohmann::json;

const char* const kMolTask = "molecular property prediction";

namespace {

constexpr const char* kIntendedUse =
    "Ranking and triaging molecules in early drug discovery (virtual screening, toxicity flags) for a chemist's "
    "review; never a substitute for assays or for a clinical or regulatory safety assessment.";
const std::vector<std::string> kLimits = {
    "Trained on the molecules of one dataset (MoleculeNet-style): predictions for molecules unlike them (low "
    "nearest-training Tanimoto similarity, reported per molecule) are extrapolations.",
    "Assay labels are noisy and assay-specific (e.g. Tox21 cell-based screens at one concentration range); a "
    "prediction is a probability of the assay outcome, not of toxicity in people.",
    "Salts, mixtures and organometallics are featurised as written; SMILES that RDKit cannot sanitise are refused.",
};

void warn_unparsed(const chem::MolDataset& d) {
  if (!d.errors.empty()) spdlog::warn("{}: {}; those rows are skipped", d.source.string(), chem::describe_errors(d));
  std::set<std::string> seen;
  size_t dup = 0;
  for (const auto& m : d.molecules) dup += !seen.insert(bc::canonical_smiles(m)).second;
  if (dup) spdlog::warn("{}: {} molecules repeat an earlier one (same canonical SMILES)", d.source.string(), dup);
}

data::RowSplits read_split_file(const fs::path& path, const chem::MolDataset& d) {
  auto s = data::read_row_splits(path, d.total_rows);
  if (s.folds) fail_invalid(path.string() + ": a row,fold file; mol commands take a row,split file (train|valid|test)");
  return s;
}

// --tasks of evaluate: empty or "all" = every task of the model; otherwise names it must have.
std::vector<std::string> tasks_named(const std::string& list, const std::vector<std::string>& known) {
  if (list.empty() || list == "all") return {};
  auto out = io::split_names(list, "--tasks");
  for (const auto& t : out) check_known("--tasks", t, known);
  return out;
}

void write_depictions(const chem::MolModel& model, const chem::MolDataset& d, const std::string& task,
                      const fs::path& dir) {
  size_t t = 0;
  if (!task.empty()) {
    const auto it = std::find(model.tasks().begin(), model.tasks().end(), task);
    if (it == model.tasks().end()) check_known("--explain task", task, model.tasks());
    t = static_cast<size_t>(it - model.tasks().begin());
  }
  fs::create_directories(dir);
  for (size_t i = 0; i < d.size(); ++i) {
    const auto w = model.atom_contributions(d.molecules[i], t);
    core::write_file_atomic(dir / ("row-" + std::to_string(d.rows[i]) + ".svg"),
                            bc::depict_svg(d.molecules[i], w, 360, 280, model.tasks()[t]));
  }
  spdlog::info("wrote {} depictions to {}", d.size(), dir.string());
}

void print_prediction_table(const json& results, const std::vector<std::string>& tasks) {
  std::printf("row\t");
  for (const auto& t : tasks) std::printf("%s\t", t.c_str());
  std::printf("nearest_sim\tin_domain\talerts\tsmiles\n");
  for (const auto& r : results) {
    std::printf("%zu\t", r["row"].get<size_t>());
    if (r.contains("error")) {
      std::printf("error: %s\n", r["error"].get<std::string>().c_str());
      continue;
    }
    for (const auto& t : tasks)
      std::printf("%.3f±%.3f\t", r["predictions"][t]["value"].get<double>(), r["predictions"][t]["sd"].get<double>());
    std::printf("%.2f\t%s\t%zu\t%s\n", r["nearest_training_similarity"].get<double>(),
                r["in_domain"].get<bool>() ? "yes" : "NO", r["alerts"].size(), r["smiles"].get<std::string>().c_str());
  }
}

void add_split_command(CLI::App* mol, GlobalOptions& g) {
  struct Opt {
    fs::path data, out;
    std::string smiles_col = "smiles", method = "scaffold";
    double train = 0.8, valid = 0.1;
    uint64_t seed = 1;
  };
  auto o = std::make_shared<Opt>();
  auto* cmd = mol->add_subcommand("split", "write a row,split file: scaffold (DeepChem's ScaffoldSplitter) or random");
  cmd->add_option("--data", o->data, "CSV with a SMILES column")->required();
  cmd->add_option("--smiles-col", o->smiles_col)->capture_default_str();
  cmd->add_option("--method", o->method)->check(CLI::IsMember({"scaffold", "random"}))->capture_default_str();
  cmd->add_option("--frac-train", o->train)->check(CLI::Range(0.01, 0.99))->capture_default_str();
  cmd->add_option("--frac-valid", o->valid)->check(CLI::Range(0.0, 0.98))->capture_default_str();
  cmd->add_option("--seed", o->seed, "random split only")->capture_default_str();
  cmd->add_option("--out", o->out, "split file to write (row,split; row = 0-based data row)")->required();
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    if (o->train + o->valid >= 1.0) fail_invalid("--frac-train + --frac-valid must leave a test part (< 1)");
    const auto d = chem::read_mol_dataset(o->data, {o->smiles_col, "", "auto", false});
    warn_unparsed(d);
    const auto parts = o->method == "scaffold" ? chem::scaffold_split(d, o->train, o->valid)
                                               : chem::random_split(d.size(), o->seed, o->train, o->valid);
    const auto s = chem::to_row_splits(d, parts);
    data::write_row_splits(s, o->out);
    size_t n[3] = {0, 0, 0};
    for (int p : parts) ++n[p];
    spdlog::info("{} split of {} molecules: train {}, valid {}, test {} -> {}{}", o->method, d.size(), n[0], n[1], n[2],
                 o->out.string(), d.errors.empty() ? "" : " (unparseable rows unlisted)");
  });
}

struct TrainOpt {
  fs::path data, out, splits;
  std::string smiles_col = "smiles", tasks = "all", task_type = "auto";
  chem::MolModelOptions model;
  bool json = false;
};

void add_model_options(CLI::App* cmd, chem::MolModelOptions& m) {
  cmd->add_option("--model", m.model,
                  "dmpnn (message-passing network ensemble) | xgb-ecfp (ECFP4 + XGBoost baseline) | ensemble (both, "
                  "blended with the networks' weight chosen on the validation split)")
      ->check(CLI::IsMember({"dmpnn", "xgb-ecfp", "ensemble"}))
      ->capture_default_str();
  cmd->add_option("--ensemble", m.ensemble, "members (seeds); the trees: bags")
      ->check(CLI::Range(1, 50))
      ->capture_default_str();
  cmd->add_option("--epochs", m.epochs)->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--patience", m.patience, "epochs without validation gain before a member stops")
      ->capture_default_str();
  cmd->add_option("--batch", m.batch_size)->check(CLI::Range(2, 4096))->capture_default_str();
  cmd->add_option("--hidden", m.hidden)->check(CLI::Range(8, 4096))->capture_default_str();
  cmd->add_option("--depth", m.depth, "message-passing steps")->check(CLI::Range(1, 12))->capture_default_str();
  cmd->add_option("--ffn-hidden", m.ffn_hidden)->check(CLI::Range(8, 4096))->capture_default_str();
  cmd->add_option("--dropout", m.dropout)->check(CLI::Range(0.0, 0.9))->capture_default_str();
  cmd->add_option("--lr", m.lr)->capture_default_str();
  cmd->add_flag("--descriptors,!--no-descriptors", m.descriptors, "RDKit 2D descriptors into the D-MPNN's head")
      ->capture_default_str();
  cmd->add_option("--rounds", m.trees.rounds, "xgb-ecfp: boosting rounds")->capture_default_str();
  cmd->add_option("--tree-depth", m.trees.max_depth, "xgb-ecfp: tree depth")->capture_default_str();
  cmd->add_option("--seed", m.seed)->capture_default_str();
}

json split_counts(const chem::MolDataset& tr, const chem::MolDataset& va, const chem::MolDataset& te) {
  return {{"train", tr.size()}, {"valid", va.size()}, {"test", te.size()}};
}

void add_train_command(CLI::App* mol, GlobalOptions& g) {
  auto o = std::make_shared<TrainOpt>();
  auto* cmd = mol->add_subcommand("train", "train a molecular property model (classification or regression)");
  cmd->add_option("--data", o->data, "CSV with a SMILES column and task columns (empty = not measured)")->required();
  cmd->add_option("--smiles-col", o->smiles_col)->capture_default_str();
  cmd->add_option("--tasks", o->tasks, "task columns a,b or all (every numeric column)")->capture_default_str();
  cmd->add_option("--task-type", o->task_type, "auto | classification | regression")
      ->check(CLI::IsMember({"auto", "classification", "regression"}))
      ->capture_default_str();
  cmd->add_option("--splits", o->splits, "row,split file (medai mol split); default: all rows train, 10 % held back");
  cmd->add_option("--out", o->out, "run folder to write")->required();
  add_model_options(cmd, o->model);
  cmd->add_flag("--json", o->json, "print the model card");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    o->model.progress = !o->json && !g.quiet;
    if (chem::MolModel::holds_model(o->out) || fs::exists(o->out / core::kModelCardFile))
      fail_invalid(o->out.string() + ": already holds a model; choose another --out");
    const auto d = chem::read_mol_dataset(o->data, {o->smiles_col, o->tasks, o->task_type, true});
    warn_unparsed(d);
    chem::MolDataset train = d, valid, test;
    json split = {{"method", "all rows train; 10 % held back for model selection"}};
    if (!o->splits.empty()) {
      const auto s = read_split_file(o->splits, d);
      train = chem::subset(d, s, data::RowSplits::kTrain);
      valid = chem::subset(d, s, data::RowSplits::kValid);
      test = chem::subset(d, s, data::RowSplits::kTest);
      split = {{"file", o->splits.filename().string()}, {"counts", split_counts(train, valid, test)}};
    }
    spdlog::info("mol train: {} {} task(s) ({}), {} training molecules, {} validation, {} test",
                 chem::task_type_name(d.type), d.tasks.size(), o->model.model, train.size(), valid.size(), test.size());
    const auto model = chem::MolModel::train(train, valid, o->model);
    json metrics = json::object();
    for (const auto& [name, part] : {std::pair{"valid", &valid}, std::pair{"test", &test}})
      if (part->size() > 0) metrics[name] = chem::evaluate_predictions(*part, model.predict(part->molecules));
    fs::create_directories(o->out);
    model.save(o->out);
    auto card_core = core::ModelCardCore::fresh(o->out, core::ModelKind::Molecule, kMolTask);
    const std::string nets = "D-MPNN (Chemprop-style directed message passing) ensemble" +
                             std::string(o->model.descriptors ? " + RDKit 2D descriptors" : "");
    const std::string trees = "ECFP4 (2048 bits) + XGBoost, one booster per task";
    card_core.architecture = o->model.model == "dmpnn"      ? nets
                             : o->model.model == "xgb-ecfp" ? trees
                                                            : nets + ", blended with " + trees;
    card_core.inputs = {{"smiles", "one molecule as SMILES (RDKit-sanitisable)", ""}};
    card_core.training = model.describe();
    card_core.data = {
        {"source", o->data.filename().string()},    {"rows", d.total_rows},           {"parsed", d.size()},
        {"unparseable", d.errors.size()},           {"smiles_column", o->smiles_col}, {"tasks", d.tasks},
        {"task_type", chem::task_type_name(d.type)}};
    card_core.split = split;
    card_core.metrics = metrics;
    card_core.intended_use = kIntendedUse;
    card_core.limitations = kLimits;
    json card = json::object();
    card_core.write(card);
    core::write_json_file(o->out / core::kModelCardFile, card);
    for (const auto& [name, m] : metrics.items())
      spdlog::info("mol train: {} {}", name,
                   m.contains("mean_auroc") ? fmt::format("mean AUROC {:.4f}", m["mean_auroc"].get<double>())
                                            : fmt::format("RMSE {:.4f}", m["rmse"].get<double>()));
    if (o->json) print_json(card);
  });
}

void add_evaluate_command(CLI::App* mol, GlobalOptions& g) {
  struct Opt {
    fs::path model, data, splits;
    std::string split = "test", smiles_col, tasks;
    bool json = false;
  };
  auto o = std::make_shared<Opt>();
  auto* cmd = mol->add_subcommand("evaluate", "score a model on a labelled CSV (optionally one part of a split file)");
  cmd->add_option("--model", o->model, "run folder (medai mol train)")->required();
  cmd->add_option("--data", o->data, "CSV with the model's SMILES and task columns")->required();
  cmd->add_option("--splits", o->splits, "row,split file; without it every row is scored");
  cmd->add_option("--split", o->split, "train | valid | test")->capture_default_str();
  cmd->add_option("--smiles-col", o->smiles_col, "default: the one the model was trained with");
  cmd->add_option("--tasks", o->tasks, "the model's tasks (default); a subset a,b scores only those");
  cmd->add_flag("--json", o->json, "print the metrics as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    const auto model = chem::MolModel::load(o->model);
    const auto card = core::read_model_card(o->model);
    const std::string col =
        o->smiles_col.empty() ? card.value("data", json::object()).value("smiles_column", "smiles") : o->smiles_col;
    std::string tasks;
    for (const auto& t : model.tasks()) tasks += (tasks.empty() ? "" : ",") + t;
    const auto d = chem::read_mol_dataset(o->data, {col, tasks, chem::task_type_name(model.type()), true});
    warn_unparsed(d);
    const auto part =
        o->splits.empty() ? d : chem::subset(d, read_split_file(o->splits, d), data::split_part(o->split));
    if (part.size() == 0) fail_invalid(o->splits.string() + ": no parsed molecule in split '" + o->split + "'");
    auto j = chem::evaluate_predictions(part, model.predict(part.molecules), tasks_named(o->tasks, model.tasks()));
    j["model"] = model.kind();
    j["split"] = o->splits.empty() ? "all" : o->split;
    j["unparseable"] = d.errors.size();
    if (o->json) return print_json(j);
    if (j.contains("mean_auroc"))
      std::printf("%s: mean AUROC %.4f over %d tasks, n = %zu\n", o->split.c_str(), j["mean_auroc"].get<double>(),
                  j["tasks_scored"].get<int>(), part.size());
    else
      std::printf("%s: RMSE %.4f, MAE %.4f, R2 %.4f, n = %zu\n", o->split.c_str(), j["rmse"].get<double>(),
                  j["mae"].get<double>(), j["r2"].get<double>(), part.size());
  });
}

void add_predict_command(CLI::App* mol, GlobalOptions& g) {
  struct Opt {
    fs::path model, smiles, svg_dir;
    std::vector<std::string> smiles_strings;
    double domain = chem::kDefaultDomainThreshold;
    std::string explain;
    bool json = false;
  };
  auto o = std::make_shared<Opt>();
  auto* cmd = mol->add_subcommand("predict", "predict for SMILES: value, uncertainty, applicability domain, alerts");
  cmd->add_option("--model", o->model, "run folder (medai mol train)")->required();
  auto* file = cmd->add_option("--smiles", o->smiles, "file: one SMILES per line (.smi) or a CSV with a smiles column");
  cmd->add_option("--smiles-string", o->smiles_strings, "SMILES given on the command line")->excludes(file);
  cmd->add_option("--domain-threshold", o->domain,
                  "nearest-training Tanimoto below which a molecule is flagged out of domain")
      ->capture_default_str();
  cmd->add_option("--svg-dir", o->svg_dir, "write one SVG per molecule, atoms shaded by contribution");
  cmd->add_option("--explain", o->explain, "task whose atom contributions are drawn (default: the first)");
  cmd->add_flag("--json", o->json, "print a JSON array (default: a table)");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    if (o->smiles.empty() && o->smiles_strings.empty()) fail_invalid("give --smiles FILE or --smiles-string S");
    const auto model = chem::MolModel::load(o->model);
    const auto d = o->smiles.empty() ? chem::read_smiles_list(o->smiles_strings, "--smiles-string")
                                     : chem::read_smiles_file(o->smiles);
    const json results = chem::screen(model, d, o->domain);
    if (!o->svg_dir.empty()) write_depictions(model, d, o->explain, o->svg_dir);
    if (o->json) return print_json(results);
    print_prediction_table(results, model.tasks());
  });
}

void add_depict_command(CLI::App* mol, GlobalOptions& g) {
  struct Opt {
    std::string smiles;
    fs::path out;
  };
  auto o = std::make_shared<Opt>();
  auto* cmd = mol->add_subcommand("depict", "draw a molecule to SVG or PNG (by --out's extension)");
  cmd->add_option("--smiles", o->smiles)->required();
  cmd->add_option("--out", o->out, "FILE.svg or FILE.png")->required();
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    std::string why;
    const auto m = bc::parse_smiles(o->smiles, &why);
    if (!m) fail_invalid("--smiles '" + o->smiles + "': " + why);
    const auto ext = o->out.extension().string();
    if (ext != ".svg" && ext != ".png") fail_invalid(o->out.string() + ": --out must end in .svg or .png");
    core::write_file_atomic(o->out, ext == ".svg" ? bc::depict_svg(*m) : bc::depict_png(*m));
    spdlog::info("wrote {}", o->out.string());
  });
}

}  // namespace

void add_mol_commands(CLI::App& app, GlobalOptions& g) {
  auto* mol = app.add_subcommand("mol", "drug discovery: molecular property/toxicity models, screening, generation");
  mol->require_subcommand(1);
  add_split_command(mol, g);
  add_train_command(mol, g);
  add_evaluate_command(mol, g);
  add_predict_command(mol, g);
  add_depict_command(mol, g);
  add_mol_generate_commands(mol, g);
}

}  // namespace medai::app
