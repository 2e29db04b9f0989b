// Prior shift and simulated class-mix shift (metrics/calibration.h, imaging/evaluate_classifier.h).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "medai/core/error.h"
#include "medai/imaging/evaluate_classifier.h"
#include "medai/metrics/calibration.h"

using namespace medai;

TEST(PriorShift, MatchesBayesRuleByHandAndIsItsOwnInverse) {
  // p = 0.8 at prevalence 0.74 -> odds 4 / (0.74/0.26) * (0.2/0.8) = 0.35135..., p' = 0.26
  const double odds = 4.0 * (0.2 / 0.8) / (0.74 / 0.26);
  EXPECT_NEAR(metrics::shift_prevalence(0.8, 0.74, 0.2), odds / (1 + odds), 1e-12);
  EXPECT_NEAR(metrics::shift_prevalence(metrics::shift_prevalence(0.37, 0.6, 0.1), 0.1, 0.6), 0.37, 1e-12);
  EXPECT_DOUBLE_EQ(metrics::shift_prevalence(0.42, 0.3, 0.3), 0.42);
  EXPECT_DOUBLE_EQ(metrics::shift_prevalence(1.0, 0.3, 0.6), 1.0);
  EXPECT_THROW(metrics::shift_prevalence(0.5, 0.0, 0.5), Error);
  EXPECT_THROW(metrics::shift_prevalence(0.5, 0.5, 1.0), Error);
}

TEST(PriorShift, AdjustedProbabilitiesStayCalibratedWhenTheClassMixChanges) {
  // Scores drawn so that p is exactly calibrated at prevalence 0.5: P(y=1 | p) = p.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0.02, 0.98);
  std::vector<double> p;
  std::vector<int> y;
  for (int i = 0; i < 20000; ++i) {
    const double s = u(rng);
    p.push_back(s);
    y.push_back(std::bernoulli_distribution(s)(rng) ? 1 : 0);
  }
  const auto r = imaging::class_mix_report(p, y, 0.5, 0.5, {0.1, 0.5, 0.9}, 20, 3);
  ASSERT_EQ(r.size(), 3u);
  for (const auto& m : r) {
    SCOPED_TRACE(m.dump());
    EXPECT_LT(m["ece_adjusted"].get<double>(), 0.03);
    // Sensitivity and specificity do not depend on the mix; PPV does.
    EXPECT_NEAR(m["sensitivity"].get<double>(), r[1]["sensitivity"].get<double>(), 0.02);
  }
  EXPECT_GT(r[0]["ece"].get<double>(), 0.1);  // unadjusted at 10%: far off
  EXPECT_LT(r[0]["ppv"].get<double>(), r[2]["ppv"].get<double>());
  EXPECT_THROW(imaging::class_mix_report(p, y, 0.5, 0.5, {1.2}), Error);
}

TEST(PriorShift, GroupsReportTheirOwnMetricsAndPositiveOnlyGroupsAgainstAllNegatives) {
  const std::vector<double> p{0.9, 0.8, 0.2, 0.7, 0.1, 0.3, 0.6, 0.4};
  const std::vector<int> y{1, 1, 1, 1, 0, 0, 0, 0};
  const std::vector<std::string> g{"bacteria", "bacteria", "virus", "virus", "normal", "normal", "normal", "normal"};
  const auto r = imaging::group_report(p, y, 0.5, g);
  EXPECT_EQ(r["bacteria"]["n"], 2);
  EXPECT_EQ(r["bacteria"]["sensitivity"], 1.0);
  EXPECT_EQ(r["virus"]["sensitivity"], 0.5);
  EXPECT_TRUE(r["normal"]["sensitivity"].is_null());
  EXPECT_EQ(r["normal"]["specificity"], 0.75);
  // Virus 0.2 and 0.7 against normals 0.1, 0.3, 0.6, 0.4: pairs won 1 + 4 = 5 of 8.
  EXPECT_DOUBLE_EQ(r["virus"]["auroc_vs_negatives"].get<double>(), 5.0 / 8.0);
  EXPECT_DOUBLE_EQ(r["bacteria"]["auroc_vs_negatives"].get<double>(), 1.0);
}
