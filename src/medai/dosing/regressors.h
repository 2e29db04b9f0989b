#pragma once
// The regressors behind the learned dose models, on dense rows of features (NaN only for trees):
// ridge regression on standardised features (intercept unpenalised, Cholesky), gradient-boosted
// trees through the XGBoost bridge, and a one-hidden-layer MLP trained full-batch with Adam and
// early stopping on an inner hold-out (small enough not to need libtorch).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace medai::dosing {

struct RegressorSettings {
  double ridge_lambda = 1.0;
  int mlp_hidden = 32, mlp_members = 3, mlp_max_iterations = 1500;
  double mlp_lr = 3e-3, mlp_weight_decay = 1e-3;
  int tree_rounds = 300, tree_depth = 3;
  double tree_lr = 0.05;
  uint64_t seed = 1;
  int threads = 0;
};

class Regressor {
 public:
  virtual ~Regressor() = default;
  virtual double predict(const std::vector<double>& x) const = 0;
  virtual nlohmann::json to_json() const = 0;
  virtual std::string blob() const { return {}; }  // trees: XGBoost's model bytes
};

std::unique_ptr<Regressor> fit_ridge(const std::vector<std::vector<double>>& x, const std::vector<double>& y,
                                     const RegressorSettings& s);
std::unique_ptr<Regressor> fit_trees(const std::vector<std::vector<double>>& x, const std::vector<double>& y,
                                     const RegressorSettings& s);
std::unique_ptr<Regressor> fit_mlp(const std::vector<std::vector<double>>& x, const std::vector<double>& y,
                                   const RegressorSettings& s);
// `kind` "ridge" | "xgboost" | "mlp"; `features` the expected row width; `where` names the file.
std::unique_ptr<Regressor> load_regressor(const std::string& kind, const nlohmann::json& j, const std::string& blob,
                                          size_t features, const std::string& where);

}  // namespace medai::dosing
