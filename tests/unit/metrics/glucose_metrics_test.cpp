#include <gtest/gtest.h>

#include <cmath>

#include "medai/core/error.h"
#include "medai/metrics/glucose.h"

using namespace medai;
using namespace medai::metrics;

TEST(KovatchevRisk, IsNeutralAt112AndSymmetricOverTheClinicalRange) {
  EXPECT_NEAR(kovatchev_f(112.5), 0.0, 1e-3);
  EXPECT_NEAR(kovatchev_risk(20), 100.0, 0.1);  // the transform maps 20..600 mg/dL to about +-sqrt(10)
  EXPECT_NEAR(kovatchev_risk(600), 100.0, 0.1);
  EXPECT_NEAR(kovatchev_risk(70), kovatchev_risk(180), 0.05);  // the range limits carry equal risk
  EXPECT_NEAR(kovatchev_risk(50), 22.5004, 1e-3);
  EXPECT_LT(kovatchev_f(70), 0.0);
  EXPECT_GT(kovatchev_f(180), 0.0);
}

TEST(GlycemicSummary, MatchesHandWorkedValues) {
  // 50, 100, 150, 200, 300 mg/dL: mean 160, sample SD 96.177, one reading in each band of interest.
  auto s = glycemic_summary({50, 100, 150, 200, 300});
  EXPECT_EQ(s.n, 5);
  EXPECT_DOUBLE_EQ(s.mean, 160.0);
  EXPECT_NEAR(s.sd, 96.17692, 1e-4);
  EXPECT_NEAR(s.cv_percent, 100 * 96.17692 / 160, 1e-3);
  EXPECT_NEAR(s.gmi_percent, 3.31 + 0.02392 * 160, 1e-12);
  EXPECT_DOUBLE_EQ(s.tir_70_180, 40.0);  // 100, 150
  EXPECT_DOUBLE_EQ(s.tbr_70, 20.0);      // 50
  EXPECT_DOUBLE_EQ(s.tbr_54, 20.0);      // 50
  EXPECT_DOUBLE_EQ(s.tar_180, 40.0);     // 200, 300
  EXPECT_DOUBLE_EQ(s.tar_250, 20.0);     // 300
  EXPECT_NEAR(s.lbgi, 4.5965, 1e-3);     // risks of 50 and 100 mg/dL over 5 readings
  EXPECT_NEAR(s.hbgi, 9.6885, 1e-3);
  EXPECT_NEAR(s.risk_index, s.lbgi + s.hbgi, 1e-12);
}

TEST(GlycemicSummary, RangeLimitsAreInclusiveAndBadReadingsAreNamed) {
  auto s = glycemic_summary({70, 180});
  EXPECT_DOUBLE_EQ(s.tir_70_180, 100.0);
  EXPECT_DOUBLE_EQ(s.tbr_70, 0.0);
  EXPECT_DOUBLE_EQ(s.tar_180, 0.0);
  try {
    glycemic_summary({100, std::nan(""), 120});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("reading 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(glycemic_summary({}), Error);
}

TEST(ClarkeGrid, ClassifiesHandPickedPointsIntoEachZone) {
  EXPECT_EQ(clarke_zone(100, 100), ClarkeZone::A);
  EXPECT_EQ(clarke_zone(100, 119), ClarkeZone::A);  // within 20%
  EXPECT_EQ(clarke_zone(50, 65), ClarkeZone::A);    // both hypoglycaemic
  EXPECT_EQ(clarke_zone(100, 125), ClarkeZone::B);
  EXPECT_EQ(clarke_zone(100, 215), ClarkeZone::C);  // over-correction: pred >= ref + 110
  EXPECT_EQ(clarke_zone(150, 25), ClarkeZone::C);   // pred <= 7/5 ref - 182
  EXPECT_EQ(clarke_zone(250, 150), ClarkeZone::D);  // missed hyperglycaemia
  EXPECT_EQ(clarke_zone(50, 100), ClarkeZone::D);   // missed hypoglycaemia
  EXPECT_EQ(clarke_zone(200, 50), ClarkeZone::E);
  EXPECT_EQ(clarke_zone(60, 200), ClarkeZone::E);
  EXPECT_EQ(clarke_zone_name(ClarkeZone::C), "C");
}

TEST(ForecastAccuracy, ComputesRmseMaeAndZoneShares) {
  auto a = forecast_accuracy({100, 100, 200, 60}, {110, 90, 50, 200});
  EXPECT_EQ(a.n, 4);
  EXPECT_NEAR(a.rmse, std::sqrt((100 + 100 + 22500 + 19600) / 4.0), 1e-9);
  EXPECT_NEAR(a.mae, (10 + 10 + 150 + 140) / 4.0, 1e-12);
  EXPECT_DOUBLE_EQ(a.clarke_percent[0], 50.0);  // A
  EXPECT_DOUBLE_EQ(a.clarke_percent[4], 50.0);  // E
  EXPECT_DOUBLE_EQ(a.clarke_a_plus_b(), 50.0);
  EXPECT_THROW(forecast_accuracy({100}, {100, 120}), Error);
}
