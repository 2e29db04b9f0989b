#pragma once
// In-hospital mortality from the first 48 h of an ICU stay: gradient-boosted trees (XGBoost,
// bridges/xgboost) on the per-stay summaries of icu/features.h, a GRU-D on the hourly series
// (icu/sequence_model.h), or their ensemble (a weighted mean of the log-odds). Explanations are
// TreeSHAP for the trees and integrated gradients for the GRU-D, summed per clinical variable and
// weighted as the ensemble weighs the models. Several tree ensembles with different seeds (bags) are averaged on the
// log-odds scale, so their TreeSHAP values average too and still add up to the prediction. A run
// folder holds icu_model.json (format, features, settings) and icu_trees_K.json per bag (XGBoost's
// own JSON model).
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "medai/bridges/xgboost/boosted_trees.h"
#include "medai/icu/physionet.h"
#include "medai/icu/sequence_model.h"

namespace medai::icu {

// The trees' settings for ICU stays: 600 rounds at 0.02, rows 0.7 and features 0.3 per tree
// (chosen by 5-fold CV on set-a over three fold seeds, docs/icu.md).
inline bridges::BoostedTreesParams icu_tree_params() {
  bridges::BoostedTreesParams p;
  p.rounds = 600;
  p.learning_rate = 0.02;
  p.subsample = 0.7;
  p.colsample_bytree = 0.3;
  return p;
}

struct MortalityOptions {
  std::string model = "ensemble";  // trees | grud | ensemble
  bridges::BoostedTreesParams trees = icu_tree_params();
  int bags = 5;  // tree ensembles with seeds seed, seed + 1, ...; averaged on the log-odds scale
  SequenceOptions sequence;
};

// The ensemble's log-odds: kTreeWeight * trees + (1 - kTreeWeight) * GRU-D. Chosen by 5-fold CV on
// PhysioNet set-a (two fold seeds; 0.7-0.9 were within 0.001 AUROC, 0.5 lost 0.006): docs/icu.md.
inline constexpr double kTreeWeight = 0.8;

struct MortalityExplanation {
  double probability = 0;
  double base_log_odds = 0;                                   // the trees' bias term
  std::vector<std::pair<std::string, double>> contributions;  // per variable, log-odds, largest |.| first
};

class MortalityModel {
 public:
  static MortalityModel train(const std::vector<Stay>& stays, const std::vector<int>& died,
                              const MortalityOptions& options = {});
  std::vector<double> predict(const std::vector<Stay>& stays) const;
  std::vector<double> log_odds(const std::vector<Stay>& stays) const;
  MortalityExplanation explain(const Stay& stay) const;
  const MortalityOptions& options() const { return options_; }

  void save(const std::filesystem::path& dir) const;
  static MortalityModel load(const std::filesystem::path& dir);

 private:
  double tree_weight() const;
  std::vector<double> tree_log_odds(const std::vector<float>& x, size_t n) const;
  std::vector<bridges::BoostedTrees> bags_;
  std::shared_ptr<SequenceModel> sequence_;
  MortalityOptions options_;
};

// Out-of-fold probabilities for every stay whose RecordID is in `folds` (others get NaN), each
// fold predicted by models trained on the other folds: the trees (unless options.model is grud),
// the GRU-D (unless trees) and, for the ensemble, their blend.
struct CvPredictions {
  std::vector<double> trees, sequence, ensemble;
  const std::vector<double>& of(const std::string& model) const;
};
CvPredictions cross_validated_mortality(const std::vector<Stay>& stays, const std::vector<int>& died,
                                        const std::map<int64_t, int>& folds, const MortalityOptions& options = {});

}  // namespace medai::icu
