#pragma once
// Molecular property models: a D-MPNN ensemble (Chemprop-style, nn/nets/dmpnn.h) with optional
// RDKit descriptors, multitask with missing labels masked, trained with the shared Trainer and
// early-stopped on the validation split; or the ECFP4 + XGBoost baseline (one booster per task);
// or their blend (the default), the networks' weight chosen on the validation molecules.
// Both give a mean and an ensemble spread per task, and the Tanimoto similarity of a molecule
// to its nearest training molecule (applicability domain). Header free of libtorch.
#include <filesystem>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "medai/bridges/xgboost/boosted_trees.h"
#include "medai/chem/mol_data.h"

namespace medai::chem {

// The ECFP baseline's boosting settings: 500 rounds at 0.05, depth 6, 30 % of the bits per tree.
inline bridges::BoostedTreesParams default_tree_params() {
  bridges::BoostedTreesParams p;
  p.rounds = 500, p.learning_rate = 0.05, p.max_depth = 6, p.min_child_weight = 1, p.subsample = 0.8;
  p.colsample_bytree = 0.3;
  return p;
}

struct MolModelOptions {
  std::string model = "ensemble";  // dmpnn | xgb-ecfp | ensemble (both, blend weight chosen on validation)
  int ensemble = 3;                // members (different seeds; the trees: bags)
  int epochs = 40, patience = 12, batch_size = 50;
  int hidden = 300, depth = 3, ffn_hidden = 300;
  double dropout = 0.1, lr = 1e-3, weight_decay = 0.0;
  bool descriptors = true;  // RDKit 2D descriptors into the D-MPNN's head
  bridges::BoostedTreesParams trees = default_tree_params();
  uint64_t seed = 1;
  bool progress = true;
};

// Predictions for n molecules: n x tasks, row-major. Classification: P(active); regression: the
// target's unit. sd: the ensemble members' standard deviation (0 with one member).
struct MolPredictions {
  size_t n = 0, tasks = 0;
  std::vector<double> mean, sd;
  double at(size_t i, size_t t) const { return mean[i * tasks + t]; }
};

class MolModel {
 public:
  MolModel();
  ~MolModel();
  MolModel(MolModel&&) noexcept;
  MolModel& operator=(MolModel&&) noexcept;

  // `valid` (may be empty: then 10 % of `train` is held back) selects each member's best epoch.
  static MolModel train(const MolDataset& train, const MolDataset& valid, const MolModelOptions& options);
  MolPredictions predict(const std::vector<bridges::chem::Molecule>& mols) const;
  // Per-atom contributions to task `task`'s output (log-odds or scaled target) for one molecule:
  // gradient x input at the atom readout (the molecule vector is the mean of its atoms' states),
  // averaged over the members; they sum to the first-order change from an all-zero readout.
  std::vector<double> atom_contributions(const bridges::chem::Molecule& mol, size_t task) const;
  // Tanimoto (ECFP4, 2048 bits) similarity to the nearest training molecule, per molecule.
  std::vector<double> nearest_training_similarity(const std::vector<bridges::chem::Molecule>& mols) const;

  const std::vector<std::string>& tasks() const;
  // Regression: the training targets' mean and SD of `task` (a natural scale for scores).
  std::pair<double, double> target_scale(size_t task) const;
  TaskType type() const;
  const std::string& kind() const;
  nlohmann::json describe() const;  // settings for the card

  void save(const std::filesystem::path& dir) const;
  static MolModel load(const std::filesystem::path& dir);
  static bool holds_model(const std::filesystem::path& dir);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Per-task and mean metrics of predictions against a labelled dataset (missing labels skipped):
// classification {"mean_auroc", "mean_auprc", "per_task": {task: {"auroc","auprc","n","positives"}}, "n"};
// regression {"rmse","mae","r2","per_task": {task: {...}},"n"} (rmse/mae/r2 pooled over tasks).
// `only`: score just these tasks (empty: all).
nlohmann::json evaluate_predictions(const MolDataset& d, const MolPredictions& p,
                                    const std::vector<std::string>& only = {});

}  // namespace medai::chem
