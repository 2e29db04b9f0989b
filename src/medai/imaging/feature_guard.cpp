#include "medai/imaging/feature_guard.h"

#include <torch/torch.h>

#include <algorithm>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"

namespace medai::imaging {

namespace {
// Covariance shrinkage towards its mean variance (keeps it invertible and well conditioned).
constexpr double kShrinkage = 0.05;
}  // namespace

FeatureGuard FeatureGuard::fit(const torch::Tensor& features, const std::vector<int>& labels, int classes) {
  const auto x = features.to(torch::kDouble);
  const int64_t n = x.size(0), d = x.size(1);
  if (n < 2 || static_cast<int64_t>(labels.size()) != n) fail_invalid("out-of-distribution guard: too few images");
  FeatureGuard g;
  g.means_ = torch::zeros({classes, d}, torch::kDouble);
  auto centred = torch::empty_like(x);
  for (int k = 0; k < classes; ++k) {
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < n; ++i)
      if (labels[i] == k) rows.push_back(i);
    if (rows.empty()) fail_invalid("out-of-distribution guard: no training image of class " + std::to_string(k));
    auto idx = torch::tensor(rows, torch::kLong);
    auto xk = x.index_select(0, idx);
    g.means_[k] = xk.mean(0);
    centred.index_copy_(0, idx, xk - g.means_[k]);
  }
  auto cov = centred.t().matmul(centred) / static_cast<double>(n);
  // (Features that never vary, e.g. dead units of a barely trained network, leave it singular:
  // the pseudo-inverse ignores those directions, and the floor keeps the rest finite.)
  const double mean_var = std::max(cov.diagonal().mean().item<double>(), 1e-12);
  cov = (1 - kShrinkage) * cov + kShrinkage * mean_var * torch::eye(d, torch::kDouble);
  g.precision_ = torch::linalg_pinv(cov, 1e-10, /*hermitian=*/true);
  return g;
}

std::vector<double> FeatureGuard::distances(const torch::Tensor& features) const {
  const auto x = features.to(torch::kDouble);
  torch::Tensor best;
  for (int64_t k = 0; k < means_.size(0); ++k) {
    auto c = x - means_[k];
    auto d2 = (c.matmul(precision_) * c).sum(1);
    best = best.defined() ? torch::minimum(best, d2) : d2;
  }
  best = best.clamp_min(0).sqrt().contiguous();
  return std::vector<double>(best.data_ptr<double>(), best.data_ptr<double>() + best.numel());
}

void FeatureGuard::save(const std::filesystem::path& file) const {
  core::write_atomic_with(file, [&](const std::filesystem::path& tmp) {
    torch::save(std::vector<torch::Tensor>{means_, precision_}, tmp.string());
  });
}

FeatureGuard FeatureGuard::load(const std::filesystem::path& file, int64_t dim, const std::string& where) {
  if (!std::filesystem::exists(file))
    fail_invalid(where + ": the card has an out-of-distribution guard but " + file.string() + " is missing");
  std::vector<torch::Tensor> t;
  try {
    torch::load(t, file.string());
  } catch (const c10::Error&) {
    fail_invalid(file.string() + ": damaged out-of-distribution guard file");
  }
  if (t.size() != 2 || t[0].dim() != 2 || t[0].size(1) != dim || t[1].dim() != 2 || t[1].size(0) != dim ||
      t[1].size(1) != dim)
    fail_invalid(file.string() + ": the guard's shapes do not match the card (" + std::to_string(dim) + " features)");
  FeatureGuard g;
  g.means_ = t[0].to(torch::kDouble);
  g.precision_ = t[1].to(torch::kDouble);
  return g;
}

}  // namespace medai::imaging
