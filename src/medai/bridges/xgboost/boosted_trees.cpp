#include "medai/bridges/xgboost/boosted_trees.h"

#include <xgboost/c_api.h>

#include <cmath>

#include "medai/core/error.h"
#include "medai/core/runtime.h"

namespace medai::bridges {

namespace {

void check(int status, const char* what) {
  if (status != 0) fail(ErrorCode::Internal, std::string("XGBoost ") + what + ": " + XGBGetLastError());
}

// A DMatrix that frees itself.
struct Matrix {
  DMatrixHandle h = nullptr;
  Matrix(const std::vector<float>& x, size_t n, size_t p) {
    if (x.size() != n * p)
      fail_invalid("boosted trees: " + std::to_string(x.size()) + " values for " + std::to_string(n) + " x " +
                   std::to_string(p));
    check(XGDMatrixCreateFromMat(x.data(), n, p, NAN, &h), "DMatrix");
  }
  ~Matrix() { XGDMatrixFree(h); }
  Matrix(const Matrix&) = delete;
  Matrix& operator=(const Matrix&) = delete;
};

}  // namespace

struct BoostedTrees::Handle {
  BoosterHandle h = nullptr;
  ~Handle() { XGBoosterFree(h); }
};

BoostedTrees::BoostedTrees() = default;
BoostedTrees::~BoostedTrees() = default;
BoostedTrees::BoostedTrees(BoostedTrees&&) noexcept = default;
BoostedTrees& BoostedTrees::operator=(BoostedTrees&&) noexcept = default;

BoostedTrees BoostedTrees::train_binary(const std::vector<float>& x, size_t n, size_t p,
                                        const std::vector<float>& labels, const BoostedTreesParams& params) {
  return train(x, n, p, labels, params, "binary:logistic");
}

BoostedTrees BoostedTrees::train_regression(const std::vector<float>& x, size_t n, size_t p,
                                            const std::vector<float>& targets, const BoostedTreesParams& params) {
  return train(x, n, p, targets, params, "reg:squarederror");
}

BoostedTrees BoostedTrees::train(const std::vector<float>& x, size_t n, size_t p, const std::vector<float>& labels,
                                 const BoostedTreesParams& params, const std::string& objective) {
  if (labels.size() != n) fail_invalid("boosted trees: labels and rows differ in number");
  Matrix m(x, n, p);
  check(XGDMatrixSetFloatInfo(m.h, "label", labels.data(), n), "labels");
  BoostedTrees out;
  out.features_ = p;
  out.handle_ = std::make_unique<Handle>();
  check(XGBoosterCreate(&m.h, 1, &out.handle_->h), "booster");
  const int threads = params.threads > 0 ? params.threads : core::runtime_threads();
  const std::pair<const char*, std::string> settings[] = {{"objective", objective},
                                                          {"tree_method", "hist"},
                                                          {"eta", std::to_string(params.learning_rate)},
                                                          {"max_depth", std::to_string(params.max_depth)},
                                                          {"min_child_weight", std::to_string(params.min_child_weight)},
                                                          {"subsample", std::to_string(params.subsample)},
                                                          {"colsample_bytree", std::to_string(params.colsample_bytree)},
                                                          {"lambda", std::to_string(params.lambda)},
                                                          {"scale_pos_weight", std::to_string(params.scale_pos_weight)},
                                                          {"nthread", std::to_string(threads)},
                                                          {"seed", std::to_string(params.seed)},
                                                          {"verbosity", "0"}};
  for (const auto& [k, v] : settings) check(XGBoosterSetParam(out.handle_->h, k, v.c_str()), k);
  for (int i = 0; i < params.rounds; ++i) check(XGBoosterUpdateOneIter(out.handle_->h, i, m.h), "training round");
  return out;
}

namespace {

std::vector<double> run_predict(BoosterHandle h, const std::vector<float>& x, size_t n, size_t p, int mask) {
  Matrix m(x, n, p);
  bst_ulong len = 0;
  const float* result = nullptr;
  check(XGBoosterPredict(h, m.h, mask, 0, 0, &len, &result), "predict");
  return std::vector<double>(result, result + len);
}

}  // namespace

std::vector<double> BoostedTrees::predict(const std::vector<float>& x, size_t n) const {
  return run_predict(handle_->h, x, n, features_, 0);
}

std::vector<double> BoostedTrees::predict_margin(const std::vector<float>& x, size_t n) const {
  return run_predict(handle_->h, x, n, features_, 1);
}

std::vector<double> BoostedTrees::contributions(const std::vector<float>& x, size_t n) const {
  auto c = run_predict(handle_->h, x, n, features_, 4);
  if (c.size() != n * (features_ + 1)) fail(ErrorCode::Internal, "XGBoost contributions: unexpected size");
  return c;
}

std::string BoostedTrees::serialise() const {
  bst_ulong len = 0;
  const char* bytes = nullptr;
  check(XGBoosterSaveModelToBuffer(handle_->h, R"({"format": "json"})", &len, &bytes), "save");
  return std::string(bytes, len);
}

BoostedTrees BoostedTrees::deserialise(const std::string& bytes, size_t features, const std::string& where) {
  BoostedTrees out;
  out.features_ = features;
  out.handle_ = std::make_unique<Handle>();
  check(XGBoosterCreate(nullptr, 0, &out.handle_->h), "booster");
  if (XGBoosterLoadModelFromBuffer(out.handle_->h, bytes.data(), bytes.size()) != 0)
    fail_invalid(where + ": not an XGBoost model (" + XGBGetLastError() + ")");
  bst_ulong p = 0;
  check(XGBoosterGetNumFeature(out.handle_->h, &p), "features");
  if (p != features)
    fail_invalid(where + ": the trees use " + std::to_string(p) + " features, the model file says " +
                 std::to_string(features));
  return out;
}

std::string xgboost_version() {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

}  // namespace medai::bridges
