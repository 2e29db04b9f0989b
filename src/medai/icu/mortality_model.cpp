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
                                     const MortalityOptions& options) {
  if (stays.size() != died.size() || stays.empty()) fail_invalid("ICU model: stays and outcomes differ in number");
  const size_t deaths = static_cast<size_t>(std::count(died.begin(), died.end(), 1));
  if (deaths == 0 || deaths == died.size()) fail_invalid("ICU model: the training stays have a single outcome");
  check_known("ICU model", options.model, {"trees", "grud", "ensemble"});
  if (options.bags < 1) fail_invalid("ICU model: bags must be at least 1");
  MortalityModel m;
  m.options_ = options;
  if (options.model != "grud") {
    const auto x = feature_matrix(stays);
    for (int b = 0; b < options.bags; ++b) {
      auto params = options.trees;
      params.seed += static_cast<uint64_t>(b);
      m.bags_.push_back(
          bridges::BoostedTrees::train_binary(x, stays.size(), feature_names().size(), labels_of(died), params));
    }
  }
  if (options.model != "trees")
    m.sequence_ = std::make_shared<SequenceModel>(SequenceModel::train(stays, died, options.sequence));
  return m;
}

double MortalityModel::tree_weight() const {
  return options_.model == "trees" ? 1.0 : options_.model == "grud" ? 0.0 : kTreeWeight;
}

std::vector<double> MortalityModel::tree_log_odds(const std::vector<float>& x, size_t n) const {
  std::vector<double> sum(n, 0.0);
  for (const auto& t : bags_) {
    const auto m = t.predict_margin(x, n);
    for (size_t i = 0; i < n; ++i) sum[i] += m[i] / static_cast<double>(bags_.size());
  }
  return sum;
}

std::vector<double> MortalityModel::log_odds(const std::vector<Stay>& stays) const {
  const double w = tree_weight();
  std::vector<double> z(stays.size(), 0.0);
  if (w > 0) {
    const auto t = tree_log_odds(feature_matrix(stays), stays.size());
    for (size_t i = 0; i < z.size(); ++i) z[i] += w * t[i];
  }
  if (w < 1) {
    const auto g = sequence_->log_odds(stays);
    for (size_t i = 0; i < z.size(); ++i) z[i] += (1 - w) * g[i];
  }
  return z;
}

std::vector<double> MortalityModel::predict(const std::vector<Stay>& stays) const {
  auto z = log_odds(stays);
  for (auto& v : z) v = 1 / (1 + std::exp(-v));
  return z;
}

MortalityExplanation MortalityModel::explain(const Stay& stay) const {
  MortalityExplanation e;
  e.probability = predict({stay}).at(0);
  const double w = tree_weight();
  std::map<std::string, double> by_variable;
  if (w > 0) {
    const auto x = stay_features(stay);
    std::vector<double> c(feature_names().size() + 1, 0.0);
    for (const auto& t : bags_) {
      const auto ct = t.contributions(x, 1);
      for (size_t j = 0; j < c.size(); ++j) c[j] += ct[j] / static_cast<double>(bags_.size());
    }
    const auto& names = feature_names();
    for (size_t j = 0; j < names.size(); ++j) by_variable[feature_variable(names[j])] += w * c[j];
    e.base_log_odds += w * c.back();
  }
  if (w < 1) {
    const auto a = sequence_->attributions(stay);
    for (const auto& [k, v] : a.per_variable) by_variable[k] += (1 - w) * v;
    e.base_log_odds += (1 - w) * a.baseline_log_odds;
  }
  e.contributions.assign(by_variable.begin(), by_variable.end());
  std::sort(e.contributions.begin(), e.contributions.end(),
            [](const auto& a, const auto& b) { return std::fabs(a.second) > std::fabs(b.second); });
  return e;
}

void MortalityModel::save(const fs::path& dir) const {
  fs::create_directories(dir);
  if (sequence_) sequence_->save(dir / "grud");
  for (size_t b = 0; b < bags_.size(); ++b)
    core::write_file_atomic(dir / ("icu_trees_" + std::to_string(b) + ".json"), bags_[b].serialise());
  core::write_json_file(dir / "icu_model.json", {{"format", kFormat},
                                                 {"model", options_.model},
                                                 {"tree_weight", tree_weight()},
                                                 {"features", feature_names()},
                                                 {"params", params_json(options_.trees)},
                                                 {"bags", bags_.size()},
                                                 {"xgboost", bridges::xgboost_version()}});
}

MortalityModel MortalityModel::load(const fs::path& dir) {
  const fs::path meta = dir / "icu_model.json";
  if (!fs::exists(meta)) fail_not_found(dir.string() + ": no icu_model.json (not a `medai icu train` run)");
  const json j = core::read_json_file(meta);
  if (!j.is_object() || j.value("format", "") != kFormat)
    fail_invalid(meta.string() + std::string(": not a medai ICU model (format ") + kFormat + ")");
  if (!j.contains("features") || j["features"] != json(feature_names()))
    fail_invalid(meta.string() + ": its features differ from this medai's (retrain the model)");
  MortalityModel m;
  m.options_.trees.rounds = core::json_int(j, "params.rounds", meta.string(), 1, 100000);
  m.options_.trees.learning_rate = core::json_number(j, "params.learning_rate", meta.string(), 0, 1);
  m.options_.trees.max_depth = core::json_int(j, "params.max_depth", meta.string(), 1, 64);
  m.options_.bags = core::json_int(j, "bags", meta.string(), 0, 1000);
  m.options_.model = core::json_string(j, "model", meta.string());
  check_known(meta.string() + ": model", m.options_.model, {"trees", "grud", "ensemble"});
  if (m.options_.model != "trees") m.sequence_ = std::make_shared<SequenceModel>(SequenceModel::load(dir / "grud"));
  if (m.options_.model != "grud" && m.options_.bags < 1) fail_invalid(meta.string() + ": bags must be at least 1");
  for (int b = 0; b < m.options_.bags; ++b) {
    const fs::path trees = dir / ("icu_trees_" + std::to_string(b) + ".json");
    if (!fs::exists(trees)) fail_not_found(dir.string() + ": no " + trees.filename().string());
    m.bags_.push_back(
        bridges::BoostedTrees::deserialise(core::read_file(trees), feature_names().size(), trees.string()));
  }
  return m;
}

const std::vector<double>& CvPredictions::of(const std::string& model) const {
  return model == "trees" ? trees : model == "grud" ? sequence : ensemble;
}

CvPredictions cross_validated_mortality(const std::vector<Stay>& stays, const std::vector<int>& died,
                                        const std::map<int64_t, int>& folds, const MortalityOptions& options) {
  std::vector<int> fold(stays.size(), -1);
  int k = 0;
  for (size_t i = 0; i < stays.size(); ++i) {
    const auto it = folds.find(stays[i].record_id);
    if (it != folds.end()) fold[i] = it->second, k = std::max(k, it->second + 1);
  }
  CvPredictions out;
  const std::vector<double> none(stays.size(), std::nan(""));
  out.trees = out.sequence = out.ensemble = none;
  const auto sigmoid = [](double z) { return 1 / (1 + std::exp(-z)); };
  // Each component alone (an ensemble model of one part), then the blend of their log-odds.
  MortalityOptions trees = options, grud = options;
  trees.model = "trees";
  grud.model = "grud";
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
    std::vector<double> zt, zg;
    if (options.model != "grud") zt = MortalityModel::train(train, y, trees).log_odds(test);
    if (options.model != "trees") zg = MortalityModel::train(train, y, grud).log_odds(test);
    for (size_t i = 0; i < where.size(); ++i) {
      if (!zt.empty()) out.trees[where[i]] = sigmoid(zt[i]);
      if (!zg.empty()) out.sequence[where[i]] = sigmoid(zg[i]);
      if (!zt.empty() && !zg.empty()) out.ensemble[where[i]] = sigmoid(kTreeWeight * zt[i] + (1 - kTreeWeight) * zg[i]);
    }
  }
  return out;
}

}  // namespace medai::icu
