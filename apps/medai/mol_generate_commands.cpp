// medai mol lm-train | generate | optimize: a SMILES language model, MOSES-style sampling metrics
// and REINVENT-style goal-directed optimisation towards scores from medai's property models.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "commands.h"
#include "medai/bridges/rdkit/chem.h"
#include "medai/chem/mol_data.h"
#include "medai/chem/mol_model.h"
#include "medai/chem/smiles_lm.h"
#include "medai/core/atomic_file.h"
#include "medai/core/model_card.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/io/csv.h"
#include "medai/io/plot.h"

namespace medai::app {

namespace fs = std::filesystem;
namespace bc = bridges::chem;
using nlohmann::json;

namespace {

void add_lm_train_command(CLI::App* mol, GlobalOptions& g) {
  struct Opt {
    fs::path data, out;
    std::string smiles_col = "smiles";
    chem::LmOptions lm;
    bool json = false;
  };
  auto o = std::make_shared<Opt>();
  auto* cmd =
      mol->add_subcommand("lm-train", "train a SMILES language model (the generator's prior) on a dataset's molecules");
  cmd->add_option("--data", o->data, "CSV with a SMILES column (or a .smi file)")->required();
  cmd->add_option("--smiles-col", o->smiles_col)->capture_default_str();
  cmd->add_option("--out", o->out, "run folder to write")->required();
  cmd->add_option("--epochs", o->lm.epochs)->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--hidden", o->lm.hidden)->check(CLI::Range(8, 4096))->capture_default_str();
  cmd->add_option("--layers", o->lm.layers)->check(CLI::Range(1, 8))->capture_default_str();
  cmd->add_option("--embedding", o->lm.embedding)->check(CLI::Range(8, 4096))->capture_default_str();
  cmd->add_option("--dropout", o->lm.dropout)->check(CLI::Range(0.0, 0.9))->capture_default_str();
  cmd->add_option("--batch", o->lm.batch_size)->check(CLI::Range(2, 4096))->capture_default_str();
  cmd->add_option("--lr", o->lm.lr)->capture_default_str();
  cmd->add_option("--patience", o->lm.patience)->capture_default_str();
  cmd->add_option("--max-tokens", o->lm.max_tokens, "longer SMILES are left out")->capture_default_str();
  cmd->add_option("--seed", o->lm.seed)->capture_default_str();
  cmd->add_flag("--json", o->json, "print the model card");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    if (fs::exists(o->out / "smiles_lm.json"))
      fail_invalid(o->out.string() + ": already holds a model; choose another --out");
    o->lm.progress = !o->json && !g.quiet;
    const auto d = o->data.extension() == ".smi" ? chem::read_smiles_file(o->data)
                                                 : chem::read_mol_dataset(o->data, {o->smiles_col, "", "auto", false});
    if (!d.errors.empty()) spdlog::warn("{}: {}; skipped", d.source.string(), chem::describe_errors(d));
    std::set<std::string> unique;
    std::vector<std::string> smiles;
    for (const auto& m : d.molecules)
      if (auto s = bc::canonical_smiles(m); unique.insert(s).second) smiles.push_back(std::move(s));
    spdlog::info("lm-train: {} distinct molecules (canonical SMILES) from {}", smiles.size(), o->data.string());
    const auto lm = chem::SmilesLm::train(smiles, o->lm);
    lm.save(o->out);
    spdlog::info("lm-train: sampling 1000 SMILES for the card");
    const auto metrics = chem::generation_metrics(lm.sample(1000).smiles, lm.training_smiles());
    auto c = core::ModelCardCore::fresh(o->out, core::ModelKind::Generator, "smiles-generation");
    c.architecture = "token-level LSTM language model over SMILES";
    c.training = lm.describe();
    c.data = {{"source", o->data.filename().string()}, {"molecules", smiles.size()}, {"unparseable", d.errors.size()}};
    c.metrics = {{"samples_1000", metrics}};
    c.intended_use =
        "Proposing candidate molecules resembling the training set for a chemist to review; samples "
        "are hypotheses, not synthesisable or safe compounds.";
    c.limitations = {"Learns only the chemistry of its training molecules; novelty is measured against them alone.",
                     "Validity is RDKit sanitisation, not synthetic accessibility or stability."};
    json card = json::object();
    c.write(card);
    core::write_json_file(o->out / core::kModelCardFile, card);
    spdlog::info("lm-train: validity {:.3f}, uniqueness {:.3f}, novelty {:.3f}", metrics["validity"].get<double>(),
                 metrics["uniqueness"].get<double>(), metrics["novelty"].get<double>());
    if (o->json) print_json(card);
  });
}

void write_smiles(const fs::path& path, const std::vector<std::string>& smiles) {
  std::string text;
  for (const auto& s : smiles) text += s + "\n";
  core::write_file_atomic(path, text);
}

void add_generate_command(CLI::App* mol, GlobalOptions& g) {
  struct Opt {
    fs::path model, out;
    int n = 1000;
    double temperature = 1.0;
    uint64_t seed = 1;
    bool json = false;
  };
  auto o = std::make_shared<Opt>();
  auto* cmd =
      mol->add_subcommand("generate", "sample molecules from a SMILES language model, with MOSES-style metrics");
  cmd->add_option("--model", o->model, "run folder (mol lm-train or mol optimize)")->required();
  cmd->add_option("--n", o->n, "molecules to sample")->check(CLI::Range(1, 1000000))->capture_default_str();
  cmd->add_option("--temperature", o->temperature)->capture_default_str();
  cmd->add_option("--seed", o->seed)->capture_default_str();
  cmd->add_option("--out", o->out, "write the sampled SMILES (one per line, .smi)");
  cmd->add_flag("--json", o->json, "print the metrics as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    const auto lm = chem::SmilesLm::load(o->model);
    const auto s = lm.sample(o->n, o->temperature, o->seed);
    if (!o->out.empty()) write_smiles(o->out, s.smiles);
    const auto m = chem::generation_metrics(s.smiles, lm.training_smiles());
    if (o->json) return print_json(m);
    for (const auto& [k, v] : m.items()) std::printf("%-28s %s\n", k.c_str(), v.dump().c_str());
  });
}

// One term of the optimisation score: a property model's prediction for a task mapped to [0, 1].
struct Objective {
  std::shared_ptr<chem::MolModel> model;
  std::string task;  // a task name, or "mean" (the mean over the model's tasks)
  bool maximize = true;
  double weight = 1.0;
  std::string spec;
};

Objective parse_objective(const std::string& spec) {
  const auto f = io::split_names(spec, "--objective");
  if (f.size() < 3 || f.size() > 4 || (f[2] != "max" && f[2] != "min"))
    fail_invalid("--objective '" + spec + "': expected RUN,TASK,max|min[,WEIGHT] (TASK may be 'mean')");
  Objective o;
  o.spec = spec;
  o.model = std::make_shared<chem::MolModel>(chem::MolModel::load(f[0]));
  o.task = f[1];
  if (o.task != "mean") check_known("--objective task", o.task, o.model->tasks());
  o.maximize = f[2] == "max";
  if (f.size() == 4) {
    try {
      o.weight = std::stod(f[3]);
    } catch (...) {
      fail_invalid("--objective '" + spec + "': weight '" + f[3] + "' is not a number");
    }
  }
  return o;
}

// The weighted mean of the objectives' terms per SMILES; 0 for SMILES that do not parse.
std::vector<double> score_smiles(const std::vector<Objective>& objectives, const std::vector<std::string>& smiles) {
  const auto d = chem::read_smiles_list(smiles, "generated");
  std::vector<double> total(smiles.size(), 0.0);
  if (d.size() == 0) return total;
  double weights = 0;
  for (const auto& ob : objectives) weights += ob.weight;
  for (const auto& ob : objectives) {
    const auto p = ob.model->predict(d.molecules);
    for (size_t i = 0; i < d.size(); ++i) {
      double term = 0;
      size_t used = 0;
      for (size_t t = 0; t < p.tasks; ++t) {
        if (ob.task != "mean" && ob.model->tasks()[t] != ob.task) continue;
        double v = p.at(i, t);
        if (ob.model->type() == chem::TaskType::Regression) {
          const auto [mean, sd] = ob.model->target_scale(t);
          v = 1.0 / (1.0 + std::exp(-(v - mean) / sd));
        }
        term += ob.maximize ? v : 1.0 - v, ++used;
      }
      total[d.rows[i]] += ob.weight * term / static_cast<double>(std::max<size_t>(1, used)) / weights;
    }
  }
  return total;
}

json score_summary(const std::vector<double>& scores, const std::vector<std::string>& smiles) {
  std::vector<double> valid;
  for (size_t i = 0; i < smiles.size(); ++i)
    if (bc::parse_smiles(smiles[i])) valid.push_back(scores[i]);
  if (valid.empty()) return {{"valid", 0}};
  std::sort(valid.begin(), valid.end());
  const auto q = [&](double f) { return valid[static_cast<size_t>(f * static_cast<double>(valid.size() - 1))]; };
  double mean = 0;
  for (double v : valid) mean += v / static_cast<double>(valid.size());
  return {{"valid", valid.size()}, {"mean", mean},   {"q25", q(0.25)},
          {"median", q(0.5)},      {"q75", q(0.75)}, {"q90", q(0.9)}};
}

void add_optimize_command(CLI::App* mol, GlobalOptions& g) {
  struct Opt {
    fs::path prior, out;
    std::vector<std::string> objectives;
    chem::SmilesLm::OptimizeOptions opt;
    int eval_n = 500;
    uint64_t seed = 1;
    bool json = false;
  };
  auto o = std::make_shared<Opt>();
  auto* cmd = mol->add_subcommand(
      "optimize", "steer a SMILES language model towards a score from property models (REINVENT-style)");
  cmd->add_option("--prior", o->prior, "run folder of mol lm-train")->required();
  cmd->add_option("--objective", o->objectives,
                  "RUN,TASK,max|min[,WEIGHT]: a property model's task (or 'mean' of its tasks) to raise or lower; "
                  "repeatable. Classification: P(active); regression: a logistic of the training-standardised value")
      ->required();
  cmd->add_option("--steps", o->opt.steps)->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--batch", o->opt.batch_size)->check(CLI::Range(2, 4096))->capture_default_str();
  cmd->add_option("--sigma", o->opt.sigma, "weight of the score against the prior's likelihood")->capture_default_str();
  cmd->add_option("--lr", o->opt.lr)->capture_default_str();
  cmd->add_option("--repeats", o->opt.repeats,
                  "diversity filter: a molecule earns its score this many times, then 0 (0: off)")
      ->capture_default_str();
  cmd->add_option("--eval-n", o->eval_n, "molecules sampled before and after to compare")->capture_default_str();
  cmd->add_option("--seed", o->seed)->capture_default_str();
  cmd->add_option("--out", o->out, "run folder for the optimised generator")->required();
  cmd->add_flag("--json", o->json, "print the report as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    if (fs::exists(o->out / "smiles_lm.json"))
      fail_invalid(o->out.string() + ": already holds a model; choose another --out");
    o->opt.progress = !o->json && !g.quiet;
    std::vector<Objective> objectives;
    for (const auto& s : o->objectives) objectives.push_back(parse_objective(s));
    const auto prior = chem::SmilesLm::load(o->prior);
    const auto score = [&](const std::vector<std::string>& s) { return score_smiles(objectives, s); };
    const auto before = prior.sample(o->eval_n, 1.0, o->seed).smiles;
    std::vector<chem::SmilesLm::StepRecord> history;
    const auto agent = prior.optimize(score, o->opt, &history);
    const auto after = agent.sample(o->eval_n, 1.0, o->seed + 1).smiles;
    agent.save(o->out);
    write_smiles(o->out / "samples_prior.smi", before);
    write_smiles(o->out / "samples_agent.smi", after);
    json report = {{"objectives", o->objectives},
                   {"steps", o->opt.steps},
                   {"sigma", o->opt.sigma},
                   {"repeats", o->opt.repeats},
                   {"prior",
                    {{"score", score_summary(score(before), before)},
                     {"metrics", chem::generation_metrics(before, prior.training_smiles())}}},
                   {"agent",
                    {{"score", score_summary(score(after), after)},
                     {"metrics", chem::generation_metrics(after, prior.training_smiles())}}}};
    std::string csv = "step,mean_score,validity,loss\n";
    io::Series sc{"mean score", {}, {}}, va{"validity", {}, {}, {214, 39, 40}};
    for (const auto& h : history) {
      csv += fmt::format("{},{:.5f},{:.4f},{:.4f}\n", h.step, h.mean_score, h.validity, h.loss);
      sc.x.push_back(h.step), sc.y.push_back(h.mean_score), va.x.push_back(h.step), va.y.push_back(h.validity);
    }
    core::write_file_atomic(o->out / "optimize_history.csv", csv);
    io::PlotPanel panel{"REINVENT: batch score and validity", "step", "", std::nullopt, std::pair{0.0, 1.0}};
    panel.series = {sc, va};
    io::save_plot(o->out / "optimize_history.png", {panel});
    auto c = core::ModelCardCore::fresh(o->out, core::ModelKind::Generator, "smiles-generation");
    c.architecture =
        "token-level LSTM language model over SMILES, optimised by REINVENT from " + o->prior.filename().string();
    c.training = agent.describe();
    c.training["optimisation"] = {{"objectives", o->objectives},
                                  {"steps", o->opt.steps},
                                  {"sigma", o->opt.sigma},
                                  {"batch", o->opt.batch_size},
                                  {"lr", o->opt.lr}};
    c.metrics = report;
    c.intended_use =
        "Proposing candidates towards a property profile predicted by medai's models, for a chemist's review.";
    c.limitations = {
        "Optimises predicted, not measured, properties: the agent can exploit a property model's errors "
        "outside its applicability domain; check each candidate's nearest-training similarity."};
    json card = json::object();
    c.write(card);
    core::write_json_file(o->out / core::kModelCardFile, card);
    spdlog::info("optimize: mean score {:.3f} -> {:.3f}; validity {:.3f} -> {:.3f}",
                 report["prior"]["score"].value("mean", 0.0), report["agent"]["score"].value("mean", 0.0),
                 report["prior"]["metrics"]["validity"].get<double>(),
                 report["agent"]["metrics"]["validity"].get<double>());
    if (o->json) print_json(report);
  });
}

}  // namespace

void add_mol_generate_commands(CLI::App* mol, GlobalOptions& g) {
  add_lm_train_command(mol, g);
  add_generate_command(mol, g);
  add_optimize_command(mol, g);
}

}  // namespace medai::app
