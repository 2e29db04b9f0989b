#include "medai/icu/mortality_model.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/icu/features.h"

namespace medai::icu {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFormat = "medai.icu_mortality/1";

std::vector<float> labels_of(const std::vector<int>& died) { return std::vector<float>(died.begin(), died.end()); }

json params_json(const bridges::BoostedTreesParams& p) {
  return {{"rounds", p.rounds},
          {"learning_rate", p.learning_rate},
          {"max_depth", p.max_depth},
          {"min_child_weight", p.min_child_weight},
          {"subsample", p.subsample},
          {"colsample_bytree", p.colsample_bytree},
          {"lambda", p.lambda},
          {"scale_pos_weight", p.scale_pos_weight},
          {"seed", p.seed}};
}

}  // namespace

MortalityModel MortalityModel::train(const std::vector<Stay>& stays, const std::vector<int>& died,
                                     const bridges::BoostedTreesParams& params) {
  if (stays.size() != died.size() || stays.empty()) fail_invalid("ICU model: stays and outcomes differ in number");
  const size_t deaths = static_cast<size_t>(std::count(died.begin(), died.end(), 1));
  if (deaths == 0 || deaths == died.size()) fail_invalid("ICU model: the training stays have a single outcome");
  MortalityModel m;
  m.params_ = params;
  m.trees_ = bridges::BoostedTrees::train_binary(feature_matrix(stays), stays.size(), feature_names().size(),
                                                 labels_of(died), params);
  return m;
}

std::vector<double> MortalityModel::predict(const std::vector<Stay>& stays) const {
  return trees_.predict(feature_matrix(stays), stays.size());
}

MortalityExplanation MortalityModel::explain(const Stay& stay) const {
  const auto x = stay_features(stay);
  MortalityExplanation e;
  e.probability = trees_.predict(x, 1).at(0);
  const auto c = trees_.contributions(x, 1);
  const auto& names = feature_names();
  std::map<std::string, double> by_variable;
  for (size_t j = 0; j < names.size(); ++j) by_variable[feature_variable(names[j])] += c[j];
  e.base_log_odds = c.back();
  e.contributions.assign(by_variable.begin(), by_variable.end());
  std::sort(e.contributions.begin(), e.contributions.end(),
            [](const auto& a, const auto& b) { return std::fabs(a.second) > std::fabs(b.second); });
  return e;
}

void MortalityModel::save(const fs::path& dir) const {
  fs::create_directories(dir);
  core::write_file_atomic(dir / "icu_trees.json", trees_.serialise());
  core::write_json_file(dir / "icu_model.json", {{"format", kFormat},
                                                 {"model", "xgboost-summaries"},
                                                 {"features", feature_names()},
                                                 {"params", params_json(params_)},
                                                 {"xgboost", bridges::xgboost_version()}});
}

MortalityModel MortalityModel::load(const fs::path& dir) {
  const fs::path meta = dir / "icu_model.json", trees = dir / "icu_trees.json";
  if (!fs::exists(meta)) fail_not_found(dir.string() + ": no icu_model.json (not a `medai icu train` run)");
  const json j = core::read_json_file(meta);
  if (!j.is_object() || j.value("format", "") != kFormat)
    fail_invalid(meta.string() + std::string(": not a medai ICU model (format ") + kFormat + ")");
  if (!j.contains("features") || j["features"] != json(feature_names()))
    fail_invalid(meta.string() + ": its features differ from this medai's (retrain the model)");
  MortalityModel m;
  m.params_.rounds = core::json_int(j, "params.rounds", meta.string(), 1, 100000);
  m.params_.learning_rate = core::json_number(j, "params.learning_rate", meta.string(), 0, 1);
  m.params_.max_depth = core::json_int(j, "params.max_depth", meta.string(), 1, 64);
  if (!fs::exists(trees)) fail_not_found(dir.string() + ": no icu_trees.json");
  m.trees_ = bridges::BoostedTrees::deserialise(core::read_file(trees), feature_names().size(), trees.string());
  return m;
}

std::vector<double> cross_validated_mortality(const std::vector<Stay>& stays, const std::vector<int>& died,
                                              const std::map<int64_t, int>& folds,
                                              const bridges::BoostedTreesParams& params) {
  std::vector<int> fold(stays.size(), -1);
  int k = 0;
  for (size_t i = 0; i < stays.size(); ++i) {
    const auto it = folds.find(stays[i].record_id);
    if (it != folds.end()) fold[i] = it->second, k = std::max(k, it->second + 1);
  }
  std::vector<double> out(stays.size(), std::nan(""));
  for (int f = 0; f < k; ++f) {
    std::vector<Stay> train, test;
    std::vector<int> y;
    std::vector<size_t> where;
    for (size_t i = 0; i < stays.size(); ++i) {
      if (fold[i] < 0) continue;
      if (fold[i] == f) {
        test.push_back(stays[i]);
        where.push_back(i);
      } else {
        train.push_back(stays[i]);
        y.push_back(died[i]);
      }
    }
    if (test.empty()) continue;
    const auto p = MortalityModel::train(train, y, params).predict(test);
    for (size_t i = 0; i < where.size(); ++i) out[where[i]] = p[i];
  }
  return out;
}

}  // namespace medai::icu
