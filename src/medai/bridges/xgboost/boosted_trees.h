#pragma once
// Gradient-boosted trees through XGBoost's C API (Debian libxgboost-dev); the only code in medai
// that includes xgboost/c_api.h, so a swap of the tree library touches this folder alone.
// Dense float features, NaN = missing (XGBoost learns a default direction per split).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace medai::bridges {

struct BoostedTreesParams {
  int rounds = 400;
  double learning_rate = 0.03;
  int max_depth = 4;
  double min_child_weight = 3;
  double subsample = 0.8, colsample_bytree = 0.6;
  double lambda = 1.0;
  double scale_pos_weight = 1.0;
  int threads = 0;  // 0: the runtime's thread count
  uint64_t seed = 1;
};

class BoostedTrees {
 public:
  BoostedTrees();
  ~BoostedTrees();
  BoostedTrees(BoostedTrees&&) noexcept;
  BoostedTrees& operator=(BoostedTrees&&) noexcept;

  // Binary logistic model on n rows x p features (row-major), labels 0/1.
  static BoostedTrees train_binary(const std::vector<float>& x, size_t n, size_t p, const std::vector<float>& labels,
                                   const BoostedTreesParams& params);
  // Squared-error regression on the same layout; predict() then returns the fitted value.
  static BoostedTrees train_regression(const std::vector<float>& x, size_t n, size_t p,
                                       const std::vector<float>& targets, const BoostedTreesParams& params);
  // P(label = 1) per row.
  std::vector<double> predict(const std::vector<float>& x, size_t n) const;
  // The log-odds behind predict (the sum of the trees' leaves and the bias).
  std::vector<double> predict_margin(const std::vector<float>& x, size_t n) const;
  // TreeSHAP contributions on the log-odds scale: n rows x (p + 1), the last column the bias.
  std::vector<double> contributions(const std::vector<float>& x, size_t n) const;
  size_t features() const { return features_; }

  std::string serialise() const;  // XGBoost's JSON model
  static BoostedTrees deserialise(const std::string& bytes, size_t features, const std::string& where);

 private:
  static BoostedTrees train(const std::vector<float>& x, size_t n, size_t p, const std::vector<float>& labels,
                            const BoostedTreesParams& params, const std::string& objective);
  struct Handle;
  std::unique_ptr<Handle> handle_;
  size_t features_ = 0;
};

// The linked XGBoost's version, e.g. "1.7.4".
std::string xgboost_version();

}  // namespace medai::bridges
