#pragma once
// In-hospital mortality from the first 48 h of an ICU stay: gradient-boosted trees (XGBoost,
// bridges/xgboost) on the per-stay summaries of icu/features.h, with TreeSHAP explanations summed
// per clinical variable. A run folder holds icu_model.json (format, features, settings) and
// icu_trees.json (XGBoost's own JSON model).
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "medai/bridges/xgboost/boosted_trees.h"
#include "medai/icu/physionet.h"

namespace medai::icu {

struct MortalityExplanation {
  double probability = 0;
  double base_log_odds = 0;                                   // the trees' bias term
  std::vector<std::pair<std::string, double>> contributions;  // per variable, log-odds, largest |.| first
};

class MortalityModel {
 public:
  static MortalityModel train(const std::vector<Stay>& stays, const std::vector<int>& died,
                              const bridges::BoostedTreesParams& params = {});
  std::vector<double> predict(const std::vector<Stay>& stays) const;
  MortalityExplanation explain(const Stay& stay) const;
  const bridges::BoostedTreesParams& params() const { return params_; }

  void save(const std::filesystem::path& dir) const;
  static MortalityModel load(const std::filesystem::path& dir);

 private:
  bridges::BoostedTrees trees_;
  bridges::BoostedTreesParams params_;
};

// Out-of-fold probabilities for every stay whose RecordID is in `folds` (others get NaN), each
// fold predicted by a model trained on the other folds. `progress` is called after each fold.
std::vector<double> cross_validated_mortality(const std::vector<Stay>& stays, const std::vector<int>& died,
                                              const std::map<int64_t, int>& folds,
                                              const bridges::BoostedTreesParams& params = {});

}  // namespace medai::icu
