#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "medai/metrics/bootstrap.h"
#include "medai/metrics/calibration.h"
#include "medai/metrics/classification.h"
#include "medai/metrics/subgroup.h"
#include "support/test_support.h"

using namespace medai;
using namespace medai::metrics;

TEST(AveragePrecision, HandWorkedWithTies) {
  // Descending: 0.9 (1), 0.8 (1), 0.4 0.4 (0 0, one threshold), 0.35 (1), 0.2 (1), ...: recall steps
  // of 1/4 at precision 1, 1, 3/5, 4/6 -> 0.25 + 0.25 + 0.15 + 0.1667 (scikit-learn: 0.81666...).
  EXPECT_NEAR(average_precision({0.1, 0.4, 0.35, 0.8, 0.4, 0.9, 0.2, 0.05}, {0, 0, 1, 1, 0, 1, 1, 0}),
              0.8166666666666667, 1e-15);
}

TEST(SubgroupAudit, FlagsAGroupWhoseCiLiesBelowTheRest) {
  // Group a: scores separate the classes; group b: scores are noise. 200 cases each.
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> p;
  std::vector<int> y;
  std::vector<std::string> g;
  for (int i = 0; i < 400; ++i) {
    y.push_back(i % 3 == 0);
    g.push_back(i < 200 ? "a" : "b");
    p.push_back(i < 200 ? std::clamp(0.3 + 0.4 * y.back() + 0.2 * (u(rng) - 0.5), 0.0, 1.0) : u(rng));
  }
  g[5] = "";  // a missing group value is its own group
  AuditInput in;
  in.column = "site";
  in.group = g;
  in.outcome = y;
  in.probabilities = &p;
  in.metric = [&](const std::vector<size_t>& idx) {
    std::vector<double> ps;
    std::vector<int> ys;
    for (size_t i : idx) ps.push_back(p[i]), ys.push_back(y[i]);
    return auroc(ps, ys);
  };
  const auto a = audit_subgroups(in);
  ASSERT_EQ(a.rows.size(), 3u);
  EXPECT_EQ(a.rows[0].group, "(missing)");
  EXPECT_TRUE(std::isnan(a.rows[0].metric));  // one case: below min_group
  EXPECT_EQ(a.rows[1].group, "a");
  EXPECT_NEAR(a.rows[1].metric, 1.0, 1e-12);
  EXPECT_FALSE(a.rows[1].below_rest);
  EXPECT_TRUE(a.rows[2].below_rest);
  ASSERT_EQ(a.warnings.size(), 1u);
  EXPECT_NE(a.warnings[0].find("site=b"), std::string::npos);
  EXPECT_NEAR(a.rows[1].tpr, 1.0, 1e-12);  // at 0.5 group a's positives (>= 0.6) are all caught
  EXPECT_GT(a.equalised_odds_gap, 0.3);
  EXPECT_EQ(age_band(39.9), "0-39");
  EXPECT_EQ(age_band(80), "80+");
  const auto j = audit_json(a);
  EXPECT_EQ(j["groups"].size(), 3u);
  EXPECT_TRUE(j["groups"][0]["auroc"].is_null());
}

TEST(Auroc, MatchesHandWorkedExamples) {
  // Four cases: of the 4 (positive, negative) pairs, 3 are ordered correctly.
  EXPECT_DOUBLE_EQ(auroc({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}), 0.75);
  EXPECT_DOUBLE_EQ(auroc({0.5, 0.5}, {0, 1}), 0.5);  // a tie counts half
  EXPECT_DOUBLE_EQ(auroc({0.9, 0.1}, {0, 1}), 0.0);
  EXPECT_TRUE(std::isnan(auroc({0.2, 0.3}, {1, 1})));
}

TEST(ConfusionMetrics, MatchHandWorkedValues) {
  auto m = binary_metrics(confusion_at({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}, 0.5));
  EXPECT_EQ(m.confusion.tp, 1);
  EXPECT_EQ(m.confusion.fn, 1);
  EXPECT_EQ(m.confusion.tn, 2);
  EXPECT_EQ(m.confusion.fp, 0);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.75);
  EXPECT_DOUBLE_EQ(m.sensitivity, 0.5);
  EXPECT_DOUBLE_EQ(m.specificity, 1.0);
  EXPECT_DOUBLE_EQ(m.ppv, 1.0);
  EXPECT_DOUBLE_EQ(m.npv, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.f1, 2.0 / 3.0);
  EXPECT_TRUE(std::isnan(binary_metrics(confusion_at({0.1}, {0}, 0.5)).sensitivity));  // no positives
}

TEST(Thresholds, YoudenAndTargetSensitivityPickTheRightCutoffs) {
  std::vector<double> s{0.1, 0.4, 0.35, 0.8};
  std::vector<int> y{0, 0, 1, 1};
  // J = 0.5 is first reached at score 0.8; the cut-off sits midway to the next score, 0.4.
  EXPECT_DOUBLE_EQ(youden_threshold(s, y), 0.6);
  EXPECT_DOUBLE_EQ(threshold_for_sensitivity(s, y, 1.0), (0.35 + 0.1) / 2);
  EXPECT_DOUBLE_EQ(threshold_for_sensitivity(s, y, 0.5), 0.6);
  // Same decisions as cutting at the ROC point's own score.
  auto a = confusion_at(s, y, 0.8), b = confusion_at(s, y, youden_threshold(s, y));
  EXPECT_EQ(a.tp, b.tp);
  EXPECT_EQ(a.fp, b.fp);
}

TEST(Calibration, BrierAndEceMatchHandWorkedValues) {
  EXPECT_NEAR(brier_score({0.1, 0.9, 0.8}, {0, 1, 0}), 0.22, 1e-12);
  auto r = calibration_report({0.15, 0.15, 0.85, 0.85}, {0, 1, 1, 1}, 10);
  EXPECT_NEAR(r.ece, 0.5 * 0.35 + 0.5 * 0.15, 1e-12);
  EXPECT_EQ(r.bins[1].count, 2);
  EXPECT_DOUBLE_EQ(r.bins[8].observed_rate, 1.0);
}

TEST(TemperatureScaling, RecoversTemperatureOneForCalibratedLogits) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> z(0, 3);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::vector<double>> logits;
  std::vector<int> y;
  for (int i = 0; i < 20000; ++i) {
    double d = z(rng);
    logits.push_back({0.0, d});
    y.push_back(u(rng) < 1 / (1 + std::exp(-d)) ? 1 : 0);
  }
  EXPECT_NEAR(fit_temperature(logits, y), 1.0, 0.05);
  // The same logits made 3x over-confident are fixed by T close to 3.
  for (auto& l : logits) l[1] *= 3;
  double t = fit_temperature(logits, y);
  EXPECT_NEAR(t, 3.0, 0.15);
  EXPECT_LT(nll(logits, y, t), nll(logits, y, 1.0));
}

TEST(Bootstrap, IntervalCoversTheEstimateAndNarrowsWithMoreCases) {
  auto width = [](int n) {
    std::mt19937_64 rng(5);
    std::normal_distribution<double> noise(0, 1);
    std::vector<double> s;
    std::vector<int> y;
    for (int i = 0; i < n; ++i) {
      y.push_back(i % 2);
      s.push_back(y.back() + noise(rng));
    }
    double est = auroc(s, y);
    auto ci = bootstrap_ci(
        s.size(),
        [&](const std::vector<size_t>& idx) {
          std::vector<double> ss;
          std::vector<int> yy;
          for (size_t i : idx) {
            ss.push_back(s[i]);
            yy.push_back(y[i]);
          }
          return auroc(ss, yy);
        },
        500);
    EXPECT_LE(ci.lower, est);
    EXPECT_GE(ci.upper, est);
    return ci.upper - ci.lower;
  };
  EXPECT_LT(width(2000), width(100));
}

TEST(ClassificationMetrics, AgreeWithScikitLearn) {
  if (test::run_command(test::python() + " -c 'import sklearn'").exit_code != 0)
    GTEST_SKIP() << "python3-sklearn not installed: reference comparison not run";
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> p;
  std::vector<int> y;
  test::TempDir dir;
  std::ofstream csv(dir / "d.csv");
  for (int i = 0; i < 500; ++i) {
    y.push_back(u(rng) < 0.4);
    // Rounded scores create ties, the hard case for AUROC implementations.
    p.push_back(std::round(std::clamp(0.3 * y.back() + 0.7 * u(rng), 0.0, 1.0) * 50) / 50);
    csv << p.back() << "," << y.back() << "\n";
  }
  csv.close();
  std::string script = R"(
import json, sys, numpy as np
from sklearn.metrics import roc_auc_score, brier_score_loss, confusion_matrix, f1_score, roc_curve, average_precision_score
d = np.loadtxt(sys.argv[1], delimiter=',')
p, y = d[:, 0], d[:, 1].astype(int)
pred = (p >= 0.5).astype(int)
tn, fp, fn, tp = confusion_matrix(y, pred).ravel()
fpr, tpr, thr = roc_curve(y, p, drop_intermediate=False)
print(json.dumps({'auroc': roc_auc_score(y, p), 'ap': average_precision_score(y, p), 'brier': brier_score_loss(y, p), 'tp': int(tp), 'fp': int(fp),
                  'tn': int(tn), 'fn': int(fn), 'f1': f1_score(y, pred), 'roc_points': len(fpr),
                  'youden': float(thr[1:][np.argmax((tpr - fpr)[1:])])}))
)";
  test::write_text(dir / "ref.py", script);
  auto r = test::run_command(test::python() + " " + test::quote(dir / "ref.py") + " " + test::quote(dir / "d.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ref = nlohmann::json::parse(r.out);
  EXPECT_NEAR(auroc(p, y), ref["auroc"].get<double>(), 1e-12);
  EXPECT_NEAR(average_precision(p, y), ref["ap"].get<double>(), 1e-12);
  EXPECT_NEAR(brier_score(p, y), ref["brier"].get<double>(), 1e-12);
  auto m = binary_metrics(confusion_at(p, y, 0.5));
  EXPECT_EQ(m.confusion.tp, ref["tp"]);
  EXPECT_EQ(m.confusion.fp, ref["fp"]);
  EXPECT_EQ(m.confusion.tn, ref["tn"]);
  EXPECT_EQ(m.confusion.fn, ref["fn"]);
  EXPECT_NEAR(m.f1, ref["f1"].get<double>(), 1e-12);
  EXPECT_EQ(roc_curve(p, y).fpr.size(), ref["roc_points"].get<size_t>());
  // Our Youden cut-off makes the same decisions as scikit-learn's ROC threshold.
  auto ours = confusion_at(p, y, youden_threshold(p, y)), theirs = confusion_at(p, y, ref["youden"].get<double>());
  EXPECT_EQ(ours.tp, theirs.tp);
  EXPECT_EQ(ours.fp, theirs.fp);
  EXPECT_LT(youden_threshold(p, y), ref["youden"].get<double>());
}
