// Warfarin dosing: the IWPC formulas by hand, the S4 VKORC1 imputation, the reader's errors, the
// learned models and conformal intervals on synthetic patients, the bandit replay, and the IWPC
// reproduction on the real cohort (label data).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "medai/core/error.h"
#include "medai/dosing/dose_bandit.h"
#include "medai/dosing/dose_evaluation.h"
#include "medai/dosing/iwpc.h"
#include "medai/dosing/recommend.h"
#include "support/test_support.h"

namespace medai::dosing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

WarfarinPatient patient(int age, double h, double w, Race race, Vkorc1 v, Cyp2c9 c) {
  WarfarinPatient p;
  p.secondary.fill(NAN);
  p.age_decades = age;
  p.height_cm = h;
  p.weight_kg = w;
  p.race = race;
  p.vkorc1 = v;
  p.cyp2c9 = c;
  return p;
}

TEST(Iwpc, FormulasByHand) {
  auto p = patient(6, 170, 80, Race::White, Vkorc1::AG, Cyp2c9::S13);
  // 5.6044 - 0.2614*6 + 0.0087*170 + 0.0128*80 - 0.8677 - 0.9357 = 4.7356
  EXPECT_NEAR(formula_dose(Algorithm::Pharmacogenetic, p), 4.7356 * 4.7356, 1e-9);
  p.amiodarone = true;
  p.race = Race::Asian;
  // 4.0376 - 0.2546*6 + 0.0118*170 + 0.0134*80 - 0.6752 - 0.5695 = 4.3433
  EXPECT_NEAR(formula_dose(Algorithm::Clinical, p), 4.3433 * 4.3433, 1e-9);
  EXPECT_DOUBLE_EQ(formula_dose(Algorithm::Fixed, p), 35.0);
  p.height_cm.reset();
  EXPECT_THROW(formula_dose(Algorithm::Clinical, p), Error);
  EXPECT_EQ(dose_bucket(20.9), kLow);
  EXPECT_EQ(dose_bucket(21), kMedium);
  EXPECT_EQ(dose_bucket(49), kMedium);
  EXPECT_EQ(dose_bucket(49.1), kHigh);
}

TEST(Iwpc, Vkorc1ImputationFollowsAppendixS4) {
  EXPECT_EQ(impute_vkorc1(Race::White, {"C/C", "", ""}, "t"), Vkorc1::GG);
  EXPECT_EQ(impute_vkorc1(Race::Asian, {"T/T", "", ""}, "t"), Vkorc1::AA);
  EXPECT_EQ(impute_vkorc1(Race::Black, {"T/T", "", ""}, "t"), Vkorc1::Unknown);  // 2255 not for Black
  EXPECT_EQ(impute_vkorc1(Race::Black, {"T/T", "C/T", ""}, "t"), Vkorc1::AG);    // 1173 for any race
  EXPECT_EQ(impute_vkorc1(Race::Unknown, {"", "", "C/C"}, "t"), Vkorc1::Unknown);
  EXPECT_EQ(impute_vkorc1(Race::White, {"", "", "C/G"}, "t"), Vkorc1::AG);
  EXPECT_EQ(impute_vkorc1(Race::White, {"", "", "G/C"}, "t"), Vkorc1::AG);
  EXPECT_THROW(impute_vkorc1(Race::White, {"X/Y", "", ""}, "t"), Error);
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

std::string reader_error(const std::string& csv) {
  test::TempDir dir;
  write(dir / "w.csv", csv);
  try {
    read_warfarin_csv(dir / "w.csv", true);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(WarfarinReader, ReadsAndNamesRowAndFieldOfBadValues) {
  const std::string head =
      "Race,Age,Height (cm),Weight (kg),CYP2C9 consensus,VKORC1 -1639 consensus,"
      "VKORC1 1173 consensus,Amiodarone (Cordarone),Therapeutic Dose of Warfarin\n";
  test::TempDir dir;
  write(dir / "ok.csv", head + "White,70 - 79,170,80,*1/*3,,C/T,1,28\nAsian,90+,,60,*1/*5,A/A,,,\n");
  const auto c = read_warfarin_csv(dir / "ok.csv", true);
  ASSERT_EQ(c.patients.size(), 2u);
  EXPECT_EQ(*c.patients[0].age_decades, 7);
  EXPECT_EQ(c.patients[0].vkorc1, Vkorc1::AG);
  EXPECT_TRUE(c.patients[0].vkorc1_imputed);
  EXPECT_TRUE(c.patients[0].amiodarone);
  EXPECT_EQ(c.patients[1].cyp2c9, Cyp2c9::Other);
  EXPECT_FALSE(c.patients[1].height_cm);
  EXPECT_FALSE(c.patients[1].dose_mg_week);
  auto err = reader_error(head + "White,70 - 79,170,80,*1/*9x,,,0,28\n");
  EXPECT_NE(err.find("data row 0"), std::string::npos) << err;
  EXPECT_NE(err.find("CYP2C9 consensus"), std::string::npos) << err;
  err = reader_error(head + "White,70 - 79,170,80,*1/*1,A/A,,0,0\n");
  EXPECT_NE(err.find("must be > 0"), std::string::npos) << err;
  err = reader_error(head + "White,70 - 79,0,80,*1/*1,A/A,,0,20\n");
  EXPECT_NE(err.find("Height (cm)"), std::string::npos) << err;
  err = reader_error(head + "Martian,70 - 79,170,80,*1/*1,A/A,,0,20\n");
  EXPECT_NE(err.find("unknown race"), std::string::npos) << err;
  err = reader_error("Age,Height (cm),Weight (kg),Therapeutic Dose of Warfarin\n70 - 79,170,80,20\n");
  EXPECT_NE(err.find("no column 'Race'"), std::string::npos) << err;
  err = reader_error(head + "White,75,170,80,*1/*1,A/A,,0,20\n");
  EXPECT_NE(err.find("age bin"), std::string::npos) << err;
}

// Patients whose sqrt dose follows the pharmacogenetic formula plus noise.
std::vector<WarfarinPatient> synthetic(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 0.5), h(170, 10), w(78, 15);
  std::vector<WarfarinPatient> out;
  for (size_t i = 0; i < n; ++i) {
    auto p = patient(3 + int(rng() % 6), h(rng), std::max(40.0, w(rng)), static_cast<Race>(rng() % 4),
                     static_cast<Vkorc1>(rng() % 4), static_cast<Cyp2c9>(rng() % 8));
    p.row = i;
    const double s = std::sqrt(formula_dose(Algorithm::Pharmacogenetic, p)) + noise(rng);
    p.dose_mg_week = std::max(2.0, s * s);
    if (i % 7 == 0) p.height_cm.reset();
    out.push_back(p);
  }
  return out;
}

TEST(DoseModel, LearnedModelsRecoverTheFormulaWithCalibratedIntervals) {
  const auto train = synthetic(1500, 1), test = synthetic(600, 2);
  for (const char* kind : {"ridge", "mlp", "xgboost"}) {
    DoseTrainOptions o;
    o.model = kind;
    const auto m = DoseModel::train(train, o);
    const auto ev = evaluate_dose_model(m, test, 0);
    const double mae = ev.report["mae_mg_week"];
    const double oracle = ev.report["complete_cases"]["iwpc_pharmacogenetic"]["mae_mg_week"];
    EXPECT_LT(mae, oracle * 1.15) << kind;
    EXPECT_NEAR(ev.report["interval_coverage"].get<double>(), 0.8, 0.06) << kind;
    EXPECT_DOUBLE_EQ(ev.report["coverage"].get<double>(), 1.0);
    test::TempDir dir;
    m.save(dir.path());
    const auto back = DoseModel::load(dir.path());
    EXPECT_NEAR(back.predict_sqrt(test[3]), m.predict_sqrt(test[3]), 1e-6) << kind;
  }
}

TEST(DoseModel, RefusesWithoutAgeAndImputesHeight) {
  const auto m = DoseModel::builtin();
  auto p = patient(6, 170, 80, Race::White, Vkorc1::AG, Cyp2c9::S11);
  p.age_decades.reset();
  std::string why;
  EXPECT_FALSE(m.predict(p, &why));
  EXPECT_NE(why.find("age"), std::string::npos);
  EXPECT_THROW(recommend_dose(m, p), Error);
  p.age_decades = 6;
  p.height_cm.reset();
  const auto r = recommend_dose(m, p);
  EXPECT_EQ(r["imputed"][0], "height_cm");
  EXPECT_TRUE(r["genotype_test"]["typed"].get<bool>());
  EXPECT_LT(r["interval_mg_week"][0].get<double>(), r["dose_mg_week"].get<double>());
  p.vkorc1 = Vkorc1::Unknown;
  const auto u = recommend_dose(m, p);
  EXPECT_FALSE(u["genotype_test"]["typed"].get<bool>());
  EXPECT_EQ(u["genotype_test"]["by_genotype"].size(), 3u);
}

TEST(DoseModel, PatientJsonRejectsTyposAndBadGenotypes) {
  EXPECT_THROW(patient_from_json(json{{"race", "White"}, {"hieght_cm", 170}}), Error);
  EXPECT_THROW(patient_from_json(json{{"race", "White"}, {"vkorc1", "A/T"}}), Error);
  EXPECT_THROW(patient_from_json(json{{"age", 60}}), Error);  // race required
  const auto p =
      patient_from_json(json{{"race", "Black"}, {"age", 64}, {"vkorc1_1173", "T/T"}, {"weight_kg", nullptr}});
  EXPECT_EQ(*p.age_decades, 6);
  EXPECT_EQ(p.vkorc1, Vkorc1::AA);
  EXPECT_FALSE(p.weight_kg);
}

TEST(DoseBandit, FormulaPoliciesAreDeterministicAndLearnersLearn) {
  const auto ps = synthetic(1200, 3);
  BanditOptions o;
  o.permutations = 3;
  const auto pg = run_bandit(ps, "pharmacogenetic", o);
  EXPECT_NEAR(pg.regret_sd, 0.0, 1e-12);
  const auto fixed = run_bandit(ps, "fixed", o);
  EXPECT_GT(pg.accuracy, fixed.accuracy);
  for (const char* name : {"linucb", "thompson", "lasso-bandit", "pgx-linucb"}) {
    const auto r = run_bandit(ps, name, o);
    EXPECT_GT(r.accuracy, fixed.accuracy - 0.02) << name;
    EXPECT_NEAR(r.regret, (1 - r.accuracy) * r.n, 1e-6);
    EXPECT_EQ(r.curve_t.back(), double(r.n));
  }
  EXPECT_THROW(run_bandit(ps, "greedy", o), Error);
}

TEST(IwpcData, ReproducesThePublishedFormulaFigures) {
  MEDAI_REQUIRE_DATA("warfarin/iwpc_warfarin.csv");
  const auto c = read_warfarin_csv(test::shared_data() / "warfarin/iwpc_warfarin.csv", true);
  ASSERT_EQ(c.patients.size(), 5700u);
  std::vector<double> pg, cl, fx, stable;
  for (const auto& p : c.patients)
    if (p.complete() && p.dose_mg_week) {
      pg.push_back(formula_dose(Algorithm::Pharmacogenetic, p));
      cl.push_back(formula_dose(Algorithm::Clinical, p));
      fx.push_back(35);
      stable.push_back(*p.dose_mg_week);
    }
  ASSERT_EQ(stable.size(), 4386u);  // PROVENANCE.md's reproduction
  const auto a = dose_figures(pg, stable), b = dose_figures(cl, stable), f = dose_figures(fx, stable);
  EXPECT_NEAR(a["mae_mg_week"].get<double>(), 8.35, 0.01);   // NEJM 2009 derivation cohort: 8.3
  EXPECT_NEAR(b["mae_mg_week"].get<double>(), 9.98, 0.01);   // 10.0
  EXPECT_NEAR(f["mae_mg_week"].get<double>(), 13.26, 0.01);  // 13.3
  EXPECT_NEAR(a["within_20pct"].get<double>(), 0.463, 0.001);
  EXPECT_NEAR(a["bucket_accuracy"].get<double>(), 0.695, 0.001);
  EXPECT_NEAR(f["bucket_accuracy"].get<double>(), 0.616, 0.001);
}

}  // namespace
}  // namespace medai::dosing
