// ICU mortality: the PhysioNet 2012 reader (cleaning, bad input), the per-stay summaries, and the
// XGBoost bridge (learning, TreeSHAP additivity, save/load).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "medai/bridges/xgboost/boosted_trees.h"
#include "medai/core/error.h"
#include "medai/icu/features.h"
#include "medai/icu/mortality_model.h"
#include "medai/icu/physionet.h"
#include "support/test_support.h"

namespace medai::icu {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

constexpr const char* kStay =
    "Time,Parameter,Value\n00:00,RecordID,7\n00:00,Age,70\n00:00,Gender,1\n00:00,Height,-1\n00:00,ICUType,3\n"
    "00:00,Weight,80\n00:30,HR,90\n01:00,HR,0\n40:00,HR,110\n02:15,Temp,-17.8\n03:00,Urine,200\n47:00,Urine,100\n";

std::string error_of(const fs::path& file) {
  try {
    read_stay(file);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

size_t feature(const std::string& name) {
  const auto& n = feature_names();
  return static_cast<size_t>(std::find(n.begin(), n.end(), name) - n.begin());
}

TEST(PhysioNet, ReadsCleansAndSummarises) {
  TempDir dir;
  test::write_text(dir / "7.txt", kStay);
  CleaningReport report;
  const Stay s = read_stay(dir / "7.txt", &report);
  EXPECT_EQ(s.record_id, 7);
  EXPECT_EQ(s.age, 70);
  EXPECT_TRUE(std::isnan(s.height));  // -1 = missing
  EXPECT_EQ(s.weight, 80);
  EXPECT_EQ(report.dropped["HR"], 1u);    // HR 0: a lost signal
  EXPECT_EQ(report.dropped["Temp"], 1u);  // -17.8: 0 F entered as C
  EXPECT_EQ(report.kept["HR"], 2u);
  const auto f = stay_features(s);
  ASSERT_EQ(f.size(), feature_names().size());
  EXPECT_EQ(f[feature("HR_n")], 2);
  EXPECT_EQ(f[feature("HR_first")], 90);
  EXPECT_EQ(f[feature("HR_last")], 110);
  EXPECT_EQ(f[feature("HR_mean")], 100);
  EXPECT_NEAR(f[feature("HR_std")], std::sqrt(200.0), 1e-5);
  EXPECT_EQ(f[feature("HR_mean_last12h")], 110);
  EXPECT_EQ(f[feature("Urine_total")], 300);
  EXPECT_EQ(f[feature("ICUType_3")], 1);
  EXPECT_EQ(f[feature("ICUType_1")], 0);
  EXPECT_TRUE(std::isnan(f[feature("Temp_last")]));
  EXPECT_EQ(f[feature("Temp_n")], 0);
  EXPECT_EQ(feature_variable("NISysABP_mean_last12h"), "NISysABP");
  EXPECT_EQ(feature_variable("ICUType_2"), "ICUType");
}

TEST(PhysioNet, MalformedStayFilesNameFileLineAndField) {
  TempDir dir;
  test::write_text(dir / "a.txt", "Time,Param,Value\n00:00,RecordID,1\n");
  EXPECT_NE(error_of(dir / "a.txt").find("header"), std::string::npos);
  test::write_text(dir / "b.txt", "Time,Parameter,Value\n00:00,RecordID,1\n1:5,HR,80\n");
  EXPECT_NE(error_of(dir / "b.txt").find("b.txt:3: Time '1:5'"), std::string::npos);
  test::write_text(dir / "c.txt", "Time,Parameter,Value\n00:00,RecordID,1\n00:05,Pulse,80\n");
  EXPECT_NE(error_of(dir / "c.txt").find("c.txt:3: Parameter 'Pulse'"), std::string::npos);
  test::write_text(dir / "d.txt", "Time,Parameter,Value\n00:00,RecordID,1\n00:05,HR,fast\n");
  EXPECT_NE(error_of(dir / "d.txt").find("d.txt:3: Value 'fast'"), std::string::npos);
  test::write_text(dir / "e.txt", "Time,Parameter,Value\n00:05,HR,80\n");
  EXPECT_NE(error_of(dir / "e.txt").find("no RecordID"), std::string::npos);
  test::write_text(dir / "folds.csv", "RecordID,fold\n1,0\n1,1\n");
  EXPECT_THROW(read_record_folds(dir / "folds.csv"), Error);
  test::write_text(dir / "out.txt", "RecordID,In-hospital_death\n1,2\n");
  EXPECT_THROW(read_outcomes(dir / "out.txt"), Error);
}

TEST(BoostedTrees, LearnsSavesAndExplainsAdditively) {
  // y depends on x0 and x1; x2 is noise; a tenth of x1 is missing.
  std::mt19937_64 rng(3);
  std::normal_distribution<float> z;
  const size_t n = 2000, p = 3;
  std::vector<float> x, y;
  for (size_t i = 0; i < n; ++i) {
    const float a = z(rng), b = z(rng), c = z(rng);
    x.insert(x.end(), {a, i % 10 == 0 ? NAN : b, c});
    y.push_back(a + 0.5f * b > 0 ? 1.0f : 0.0f);
  }
  bridges::BoostedTreesParams params;
  params.rounds = 60;
  params.learning_rate = 0.3;
  const auto trees = bridges::BoostedTrees::train_binary(x, n, p, y, params);
  const auto prob = trees.predict(x, n);
  int right = 0;
  for (size_t i = 0; i < n; ++i) right += (prob[i] > 0.5) == (y[i] > 0.5);
  EXPECT_GT(right, static_cast<int>(0.85 * n));
  const std::vector<float> head(x.begin(), x.begin() + 4 * p), five(x.begin(), x.begin() + 5 * p);
  const auto c = trees.contributions(head, 4);
  for (size_t i = 0; i < 4; ++i) {  // SHAP values + bias = the log-odds
    const double logit = c[i * 4] + c[i * 4 + 1] + c[i * 4 + 2] + c[i * 4 + 3];
    EXPECT_NEAR(1 / (1 + std::exp(-logit)), prob[i], 1e-5);
  }
  const auto back = bridges::BoostedTrees::deserialise(trees.serialise(), p, "m.json");
  EXPECT_EQ(back.predict(five, 5), trees.predict(five, 5));
  EXPECT_THROW(bridges::BoostedTrees::deserialise(trees.serialise(), p + 1, "m.json"), Error);
  EXPECT_THROW(bridges::BoostedTrees::deserialise("not a model", p, "m.json"), Error);
}

TEST(MortalityModel, TrainsOnSyntheticStaysAndRoundTrips) {
  std::vector<Stay> stays;
  std::vector<int> died;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> u(0, 1);
  for (int i = 0; i < 300; ++i) {
    Stay s;
    s.record_id = i;
    s.age = 40 + 50 * u(rng);
    const float lactate = 0.5f + 8 * u(rng);
    s.observations.push_back({60, 16, lactate});  // series 16: Lactate
    died.push_back(lactate + 2 * u(rng) > 6);
    stays.push_back(s);
  }
  EXPECT_EQ(series_names()[16], "Lactate");
  MortalityOptions params;
  params.model = "trees";
  params.trees.rounds = 40;
  params.bags = 2;
  const auto m = MortalityModel::train(stays, died, params);
  const auto e = m.explain(stays[0]);
  ASSERT_FALSE(e.contributions.empty());
  EXPECT_EQ(e.contributions[0].first, "Lactate");
  TempDir dir;
  m.save(dir / "run");
  const auto back = MortalityModel::load(dir / "run");
  EXPECT_EQ(back.predict({stays[1]}), m.predict({stays[1]}));
  std::map<int64_t, int> folds;
  for (int i = 0; i < 300; ++i) folds[i] = i % 3;
  const auto oof = cross_validated_mortality(stays, died, folds, params);
  EXPECT_FALSE(std::isnan(oof.trees[0]));
}

TEST(SequenceModel, GruDLearnsAndItsAttributionsAddUp) {
  std::vector<Stay> stays;
  std::vector<int> died;
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<float> u(0, 1);
  for (int i = 0; i < 240; ++i) {
    Stay s;
    s.record_id = i;
    s.age = 40 + 50 * u(rng);
    const float lactate = 0.5f + 8 * u(rng);
    for (int h = 0; h < 48; h += 6) s.observations.push_back({h * 60.0f, 16, lactate + u(rng)});
    s.observations.push_back({120, 14, 60 + 60 * u(rng)});  // HR, noise
    died.push_back(lactate + 3 * u(rng) > 6.5);             // noisy: a smooth risk, not a step
    stays.push_back(s);
  }
  SequenceOptions o;
  o.epochs = 15;
  o.patience = 15;
  o.batch_size = 16;
  o.lr = 5e-3;
  o.hidden = 16;
  o.progress = false;
  const auto m = SequenceModel::train(stays, died, o);
  const auto z = m.log_odds(stays);
  int right = 0;
  for (size_t i = 0; i < z.size(); ++i) right += (z[i] > 0) == (died[i] == 1);
  EXPECT_GT(right, 170);
  const auto a = m.attributions(stays[0], 128);
  double total = a.baseline_log_odds;
  for (const auto& [k, v] : a.per_variable) total += v;
  EXPECT_NEAR(total, z[0], 0.1 * std::fabs(z[0] - a.baseline_log_odds) + 0.02);  // completeness
  EXPECT_GT(std::fabs(a.per_variable.at("Lactate")), std::fabs(a.per_variable.at("HR")));
  TempDir dir;
  m.save(dir / "grud");
  EXPECT_NEAR(SequenceModel::load(dir / "grud").log_odds({stays[1]})[0], z[1], 1e-5);
}

}  // namespace
}  // namespace medai::icu
