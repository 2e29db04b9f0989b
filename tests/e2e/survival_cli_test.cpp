// medai survival km | fit | predict | evaluate on R's lung data, and their errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace medai {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::quote;
using test::run_medai;

std::string lung() { return quote(test::shared_data() / "survival/lung.csv"); }

TEST(SurvivalCli, KaplanMeierByGroupWithPlot) {
  MEDAI_REQUIRE_DATA("survival/lung.csv");
  test::TempDir dir;
  const auto r = run_medai("survival km --data " + lung() + " --group sex --plot " + quote(dir / "km.png") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = json::parse(r.out);
  ASSERT_EQ(j["curves"].size(), 2u);
  EXPECT_EQ(j["curves"][0]["group"], "sex=1");
  EXPECT_EQ(j["curves"][0]["median"], 270);  // R: survfit(Surv(time, status) ~ sex, lung)
  EXPECT_EQ(j["curves"][1]["median"], 426);
  EXPECT_NEAR(j["log_rank"]["chi_square"].get<double>(), 10.3267, 1e-4);
  EXPECT_GT(fs::file_size(dir / "km.png"), 1000u);
}

TEST(SurvivalCli, FitPredictEvaluate) {
  MEDAI_REQUIRE_DATA("survival/lung.csv");
  test::TempDir dir;
  const auto fit =
      run_medai("survival fit --data " + lung() + " --time time --event status --covariates age,sex,ph.ecog --out " +
                quote(dir / "cox") + " --json");
  ASSERT_EQ(fit.exit_code, 0) << fit.err;
  const auto j = json::parse(fit.out);
  EXPECT_NEAR(j["coefficients"]["sex"]["coef"].get<double>(), -0.552612395703631, 1e-9);  // R coxph
  EXPECT_NEAR(j["loglik"][1].get<double>(), -729.230121374862, 1e-8);
  EXPECT_EQ(j["n"], 227);
  EXPECT_EQ(j["events"], 164);
  EXPECT_EQ(j["dropped_missing"], 1);
  EXPECT_EQ(j["model"], "deepsurv");  // auto: DeepSurv, with the Cox fit beside it (coefficients above)
  EXPECT_GT(j["deepsurv"]["validation_c"].get<double>(), 0.5);
  EXPECT_NE(fit.err.find("1 rows with a missing value"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "cox/model_card.json"));

  const auto pred = run_medai("survival predict --model " + quote(dir / "cox") + " --data " + lung() +
                              " --times 180,365 --out " + quote(dir / "curves.csv"));
  ASSERT_EQ(pred.exit_code, 0) << pred.err;
  const std::string curves = test::read_text(dir / "curves.csv");
  EXPECT_EQ(curves.substr(0, curves.find('\n')), "row,stratum,risk_score,S(180),S(365)");

  const auto ev =
      run_medai("survival evaluate --model " + quote(dir / "cox") + " --data " + lung() + " --groups sex --json");
  ASSERT_EQ(ev.exit_code, 0) << ev.err;
  const auto e = json::parse(ev.out);
  EXPECT_NEAR(e["c_harrell"].get<double>(), j["concordance"].get<double>(), 1e-12);
  EXPECT_GT(e["c_uno"].get<double>(), 0.55);
  EXPECT_GT(e["ibs"].get<double>(), 0.05);
  EXPECT_LT(e["ibs"].get<double>(), 0.25);  // 0.25 is a constant 0.5 prediction
  EXPECT_EQ(e["n"], 227);
  EXPECT_GT(e["auc_at_horizon"].get<double>(), 0.55);
  EXPECT_LT(e["ci95"]["c_harrell"][0].get<double>(), e["c_harrell"].get<double>());
  EXPECT_EQ(e["calibration_at_horizon"].size(), 10u);
  ASSERT_EQ(e["subgroups"].size(), 1u);
  EXPECT_EQ(e["subgroups"][0]["groups"].size(), 2u);
  EXPECT_EQ(e["subgroups"][0]["groups"][0]["n"], 137);
}

TEST(SurvivalCli, CoxWhenAskedOrStratified) {
  MEDAI_REQUIRE_DATA("survival/lung.csv");
  test::TempDir dir;
  auto r = run_medai("survival fit --data " + lung() + " --covariates age,ph.ecog --strata sex --out " +
                     quote(dir / "s") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["model"], "cox");
  test::write_text(dir / "folds.csv", [] {
    std::string f = "row,fold\n";
    for (int i = 0; i < 228; ++i) f += std::to_string(i) + "," + std::to_string(i % 3) + "\n";
    return f;
  }());
  r = run_medai("survival cv --data " + lung() + " --covariates age,sex,ph.ecog --model cox --folds " +
                quote(dir / "folds.csv") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto cv = json::parse(r.out);
  EXPECT_EQ(cv["folds"].size(), 3u);
  EXPECT_GT(cv["c_harrell"].get<double>(), 0.55);
  EXPECT_EQ(cv["n"], 227);
}

TEST(SurvivalCli, LogisticHazardGivesCalibratedCurves) {
  MEDAI_REQUIRE_DATA("survival/lung.csv");
  test::TempDir dir;
  auto r = run_medai("survival fit --data " + lung() + " --covariates age,sex,ph.ecog --model logistic-hazard --out " +
                     quote(dir / "lh") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["model"], "logistic-hazard");
  r = run_medai("survival evaluate --model " + quote(dir / "lh") + " --data " + lung() + " --bootstrap 20 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto e = json::parse(r.out);
  EXPECT_GT(e["c_harrell"].get<double>(), 0.58);
  EXPECT_LT(e["ibs"].get<double>(), 0.22);  // hazards start at the pooled ones and stop on the likelihood
  EXPECT_LT(e["calibration_ece_at_horizon"].get<double>(), 0.2);
}

TEST(SurvivalCli, BadInputIsAClearError) {
  test::TempDir dir;
  test::write_text(dir / "bad.csv", "time,status,x\n5,1,1\n-2,0,2\n7,1,3\n");
  auto r = run_medai("survival fit --data " + quote(dir / "bad.csv") + " --covariates x --out " + quote(dir / "m"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("bad.csv:3: column 'time'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "m/cox_model.json"));
  r = run_medai("survival fit --data " + quote(dir / "bad.csv") + " --covariates nope --out " + quote(dir / "m"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
  r = run_medai("survival evaluate --model " + quote(dir / "none") + " --data " + quote(dir / "bad.csv"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("survival_model.json"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace medai
