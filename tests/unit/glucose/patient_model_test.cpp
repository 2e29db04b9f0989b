#include <gtest/gtest.h>

#include <algorithm>

#include "medai/core/error.h"
#include "medai/glucose/patient_model.h"
#include "support/test_support.h"

using namespace medai;
using namespace medai::glucose;

namespace {
std::filesystem::path table() { return test::shared_data() / "t1d_simglucose" / "vpatient_params.csv"; }
}  // namespace

TEST(PatientModel, BuiltInPatientStartsAtItsBasalGlucose) {
  PatientModel m(default_patient());
  EXPECT_EQ(m.params().name, "adolescent#001");
  EXPECT_NEAR(m.bg_mgdl(), m.params().Gb, 1e-6);  // x0_13 / Vg = Gb = 149.02 mg/dL
}

TEST(PatientModel, AtBasalInsulinWithoutMealsEveryPatientStaysAtItsInitialGlucose) {
  MEDAI_REQUIRE_DATA("t1d_simglucose/vpatient_params.csv");
  auto names = patient_names(table());
  ASSERT_EQ(names.size(), 30u);
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    PatientModel m(load_patient(table(), name));
    const double start = m.bg_mgdl();
    double worst = 0;
    for (int minute = 0; minute < 24 * 60; ++minute) {
      m.step(0, m.params().basal_u_per_min());
      worst = std::max(worst, std::fabs(m.bg_mgdl() - start));
    }
    EXPECT_LT(worst, 0.5) << "drifted " << worst << " mg/dL from " << start << " in 24 h";
  }
}

TEST(PatientModel, MealsAreEatenAtFiveGramsPerMinute) {
  PatientModel m(default_patient());
  std::vector<double> eaten;
  for (int minute = 0; minute < 14; ++minute) {
    m.step(minute == 0 ? 48.0 : 0.0, m.params().basal_u_per_min());
    eaten.push_back(m.carbs_eaten_last_minute());
  }
  for (int i = 0; i < 9; ++i) EXPECT_DOUBLE_EQ(eaten[i], 5.0) << i;
  EXPECT_DOUBLE_EQ(eaten[9], 3.0);
  EXPECT_DOUBLE_EQ(eaten[10], 0.0);
}

TEST(PatientModel, AMealRaisesGlucoseAndItComesBackDown) {
  PatientModel m(default_patient());
  const double basal = m.params().basal_u_per_min(), start = m.bg_mgdl();
  double peak = 0;
  int peak_minute = 0;
  for (int minute = 0; minute < 8 * 60; ++minute) {
    m.step(minute == 30 ? 50.0 : 0.0, basal);
    if (m.bg_mgdl() > peak) {
      peak = m.bg_mgdl();
      peak_minute = minute;
    }
  }
  std::cout << "50 g meal, no bolus: peak " << peak << " mg/dL at minute " << peak_minute << ", 8 h later "
            << m.bg_mgdl() << "\n";
  EXPECT_GT(peak, start + 40);      // 50 g without a bolus is a clear excursion
  EXPECT_GT(peak_minute, 30 + 20);  // the peak comes after absorption, not at once
  EXPECT_LT(peak_minute, 30 + 4 * 60);
  EXPECT_LT(m.bg_mgdl(), peak - 20);  // and it falls back
}

TEST(PatientModel, ExtraInsulinLowersGlucoseAndMoreLowersItMore) {
  auto run = [](double bolus_u) {
    PatientModel m(default_patient());
    for (int minute = 0; minute < 4 * 60; ++minute)
      m.step(0, m.params().basal_u_per_min() + (minute == 10 ? bolus_u : 0.0));
    return m.bg_mgdl();
  };
  const double none = run(0), two = run(2), four = run(4);
  std::cout << "BG after 4 h: no bolus " << none << ", 2 U " << two << ", 4 U " << four << "\n";
  EXPECT_NEAR(none, default_patient().Gb, 0.5);
  EXPECT_LT(two, none - 15);
  EXPECT_LT(four, two - 10);
}

TEST(PatientModel, UnknownPatientAndNegativeInputsAreClearErrors) {
  MEDAI_REQUIRE_DATA("t1d_simglucose/vpatient_params.csv");
  try {
    load_patient(table(), "adult#042");
    FAIL();
  } catch (const Error& e) {
    std::string w = e.what();
    EXPECT_NE(w.find("unknown patient 'adult#042'"), std::string::npos) << w;
    EXPECT_NE(w.find("adult#001"), std::string::npos);
  }
  PatientModel m(default_patient());
  EXPECT_THROW(m.step(-5, 0), Error);
  EXPECT_THROW(m.step(0, std::nan("")), Error);
}
