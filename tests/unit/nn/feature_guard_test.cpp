// The feature half of the out-of-distribution guard (imaging/feature_guard.h).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "medai/core/error.h"
#include "medai/imaging/feature_guard.h"
#include "support/test_support.h"

using namespace medai;

TEST(FeatureGuard, MahalanobisDistanceMatchesTheFormulaAndSeparatesShiftedFeatures) {
  torch::manual_seed(3);
  const int64_t n = 400, d = 16;
  auto x = torch::randn({n, d}, torch::kDouble);
  x.slice(1, 0, 1) *= 4;  // one direction with a larger spread
  std::vector<int> y(n);
  for (int64_t i = 0; i < n; ++i) {
    y[i] = static_cast<int>(i % 2);
    if (y[i]) x[i] += 1.0;
  }
  const auto g = imaging::FeatureGuard::fit(x, y, 2);
  // By hand for one point: the nearest of the two class means under the shrunk shared covariance.
  const auto m0 = x.index({torch::arange(0, n, 2)}).mean(0), m1 = x.index({torch::arange(1, n, 2)}).mean(0);
  auto c = torch::cat({x.index({torch::arange(0, n, 2)}) - m0, x.index({torch::arange(1, n, 2)}) - m1});
  auto cov = c.t().matmul(c) / static_cast<double>(n);
  cov = 0.95 * cov + 0.05 * cov.diagonal().mean() * torch::eye(d, torch::kDouble);
  const auto p = torch::linalg_inv(cov);
  const auto q = torch::full({1, d}, 0.7, torch::kDouble);
  auto dist = [&](const torch::Tensor& m) {
    auto v = q - m;
    return std::sqrt(v.matmul(p).matmul(v.t()).item<double>());
  };
  EXPECT_NEAR(g.distances(q)[0], std::min(dist(m0), dist(m1)), 1e-9);
  // The spread direction counts less than the others.
  auto along = torch::zeros({1, d}, torch::kDouble), across = along.clone();
  along[0][0] = 6;
  across[0][1] = 6;
  EXPECT_LT(g.distances(along)[0], g.distances(across)[0]);
  // Shifted features are far; fresh in-distribution ones are near.
  const auto fresh = torch::randn({200, d}, torch::kDouble), far = torch::randn({200, d}, torch::kDouble) + 6;
  double near_mean = 0, far_mean = 0;
  for (double v : g.distances(fresh)) near_mean += v / 200;
  for (double v : g.distances(far)) far_mean += v / 200;
  EXPECT_GT(far_mean, 3 * near_mean);
}

TEST(FeatureGuard, SavesLoadsAndRefusesAMismatchedOrDamagedFile) {
  torch::manual_seed(4);
  auto x = torch::randn({50, 8});
  std::vector<int> y(50, 0);
  for (int i = 25; i < 50; ++i) y[i] = 1;
  auto g = imaging::FeatureGuard::fit(x, y, 2);
  test::TempDir dir;
  g.save(dir / "g.pt");
  const auto back = imaging::FeatureGuard::load(dir / "g.pt", 8, "card");
  EXPECT_NEAR(back.distances(x)[7], g.distances(x)[7], 1e-12);
  EXPECT_THROW(imaging::FeatureGuard::load(dir / "g.pt", 16, "card"), Error);
  EXPECT_THROW(imaging::FeatureGuard::load(dir / "none.pt", 8, "card"), Error);
  test::write_text(dir / "bad.pt", "not a tensor file");
  EXPECT_THROW(imaging::FeatureGuard::load(dir / "bad.pt", 8, "card"), Error);
  EXPECT_THROW(imaging::FeatureGuard::fit(x, std::vector<int>(50, 0), 2), Error);  // a class with no image
}
