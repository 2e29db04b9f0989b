#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "medai/core/error.h"
#include "medai/glucose/controller.h"
#include "medai/glucose/devices.h"
#include "medai/glucose/environment.h"
#include "medai/glucose/insulin.h"
#include "medai/glucose/scenario.h"
#include "support/test_support.h"

using namespace medai;
using namespace medai::glucose;

namespace {
std::filesystem::path simdir() { return test::shared_data() / "t1d_simglucose"; }

Observation obs_at(double cgm, double slope_per_min = 0, double carbs = 0, double iob = 0) {
  Observation o;
  o.cgm_mgdl = cgm;
  o.carbs_g = carbs;
  o.iob_u = iob;
  o.interval_min = 5;
  for (int i = 6; i >= 0; --i) o.cgm_history.push_back(cgm - slope_per_min * 5 * i);
  return o;
}

PatientSettings settings() {
  PatientSettings p;
  p.basal_u_per_min = 0.02;
  p.carb_ratio_g_per_u = 10;
  p.correction_mgdl_per_u = 40;
  p.total_daily_insulin_u = 40;
  return p;
}
}  // namespace

TEST(InsulinOnBoard, ExponentialCurveStartsAtOneEndsAtZeroAndDecreases) {
  EXPECT_DOUBLE_EQ(iob_fraction(0), 1.0);
  EXPECT_NEAR(iob_fraction(300), 0.0, 1e-12);
  double prev = 1;
  for (double t = 5; t <= 300; t += 5) {
    EXPECT_LE(iob_fraction(t), prev + 1e-12);
    prev = iob_fraction(t);
  }
  // oref0's exponential curve (DIA 300, peak 75): tau = 75 (1 - 0.25) / 0.5 = 112.5, a = 0.75,
  // S = 1 / (0.25 + 1.75 e^(-8/3)); worked by hand: 0.925 at 30 min, 0.764 at 60, 0.411 at 120.
  EXPECT_NEAR(iob_fraction(30), 0.925, 0.0005);
  EXPECT_NEAR(iob_fraction(60), 0.764, 0.0005);
  EXPECT_NEAR(iob_fraction(120), 0.411, 0.0005);
  InsulinOnBoard iob;
  iob.add(0, 2.0);
  iob.add(60, 1.0);
  EXPECT_NEAR(iob.at(60), 2 * iob_fraction(60) + 1.0, 1e-12);
  EXPECT_NEAR(iob.at(400), 0.0, 1e-12);
}

TEST(CgmSensor, NoiseIsSeededBoundedAndAboutSimglucoseSize) {
  CgmSensor a(default_sensor(), 7), b(default_sensor(), 7), c(default_sensor(), 8);
  std::vector<double> d;
  bool differs = false;
  for (int i = 0; i < 5000; ++i) {
    double x = a.measure(120), y = b.measure(120), z = c.measure(120);
    EXPECT_EQ(x, y);
    differs |= x != z;
    d.push_back(x - 120);
  }
  EXPECT_TRUE(differs);
  double mean = std::accumulate(d.begin(), d.end(), 0.0) / d.size(), var = 0;
  for (double v : d) var += (v - mean) * (v - mean) / d.size();
  // Johnson SU noise of simglucose's Dexcom row: a few mg/dL of bias, SD of the order of 10 mg/dL.
  EXPECT_LT(std::fabs(mean), 8.0);
  EXPECT_GT(std::sqrt(var), 3.0);
  EXPECT_LT(std::sqrt(var), 25.0);
  CgmSensor clip(default_sensor(), 1);
  for (int i = 0; i < 100; ++i) {
    EXPECT_GE(clip.measure(10), 39.0);
    EXPECT_LE(clip.measure(900), 600.0);
  }
  CgmSensor exact(default_sensor(), 1, false);
  EXPECT_EQ(exact.measure(123.4), 123.4);
}

TEST(DeviceTables, SensorPumpAndTherapyRowsLoadByNameAndUnknownNamesAreListed) {
  MEDAI_REQUIRE_DATA("t1d_simglucose/sensor_params.csv");
  auto s = load_sensor(simdir() / "sensor_params.csv", "GuardianRT");
  EXPECT_EQ(s.sample_time_min, 5);
  auto p = load_pump(simdir() / "pump_params.csv", "Cozmo");
  EXPECT_EQ(p.max_bolus, 75);
  auto t = load_therapy(simdir() / "Quest.csv", "adult#001");
  EXPECT_GT(t.carb_ratio_g_per_u, 0);
  try {
    load_pump(simdir() / "pump_params.csv", "Acme");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Insulet"), std::string::npos) << e.what();
  }
}

TEST(InsulinPump, RoundsAndClipsLikeSimglucose) {
  InsulinPump pump(default_pump());
  EXPECT_DOUBLE_EQ(pump.bolus(100), 30.0);  // max_bolus
  EXPECT_DOUBLE_EQ(pump.basal(-1), 0.0);
  const double r = 0.0123456;
  EXPECT_NEAR(pump.basal(r), std::round(r * 6000 / 0.05) * 0.05 / 6000, 1e-15);
}

TEST(Scenario, RandomDaysAreSeededAndFollowSimglucoseMealStatistics) {
  auto a = random_scenario(3, 400), b = random_scenario(3, 400), c = random_scenario(4, 400);
  EXPECT_EQ(a.meals(), b.meals());
  EXPECT_NE(a.meals(), c.meals());
  // Expected carbs per day: 0.95 x (45 + 70 + 80) + 0.3 x (10 + 10 + 10) = 194.25 g.
  EXPECT_NEAR(a.total_carbs() / 400, 194.25, 6.0);
  int breakfasts = 0;
  for (const auto& [minute, g] : a.meals()) {
    int tod = minute % 1440;
    EXPECT_GE(tod, 5 * 60);
    EXPECT_LE(tod, 23 * 60);
    if (tod <= 9 * 60 && g > 20) ++breakfasts;
  }
  EXPECT_NEAR(breakfasts / 400.0, 0.95, 0.05);
}

TEST(Scenario, DailyListsRepeatAndBadItemsAreNamed) {
  auto s = daily_scenario("07:00 45, 12:30 70", 2);
  EXPECT_EQ(s.carbs_at(7 * 60), 45);
  EXPECT_EQ(s.carbs_at(1440 + 12 * 60 + 30), 70);
  EXPECT_EQ(s.meals().size(), 4u);
  try {
    daily_scenario("07:00 45, 25:00 10", 1);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("25:00 10"), std::string::npos) << e.what();
  }
  EXPECT_THROW(daily_scenario("07:00 -5", 1), Error);
}

TEST(Observation, TrendIsTheLeastSquaresSlopeOverThirtyMinutes) {
  EXPECT_NEAR(obs_at(150, -2.0).trend_mgdl_per_min(), -2.0, 1e-12);
  EXPECT_NEAR(obs_at(150, 0.5).trend_mgdl_per_min(), 0.5, 1e-12);
  Observation one;
  one.cgm_history = {100};
  EXPECT_EQ(one.trend_mgdl_per_min(), 0.0);
}

TEST(BasalBolus, BolusIsCarbsOverRatioPlusCorrectionAbove150) {
  BasalBolusController c;
  auto p = settings();
  EXPECT_DOUBLE_EQ(c.decide(obs_at(120), p).bolus_u, 0.0);
  EXPECT_DOUBLE_EQ(c.decide(obs_at(120), p).basal_u_per_min, 0.02);
  EXPECT_DOUBLE_EQ(c.decide(obs_at(150, 0, 60), p).bolus_u, 6.0);                       // no correction at 150
  EXPECT_DOUBLE_EQ(c.decide(obs_at(220, 0, 60), p).bolus_u, 6.0 + (220 - 140) / 40.0);  // target 140
}

TEST(Pid, GivesMoreInsulinWhenHighAndNoneWhenFarBelowTarget) {
  PidController c;
  auto p = settings();
  double high = c.decide(obs_at(250), p).basal_u_per_min;
  c.reset();
  double at = c.decide(obs_at(140), p).basal_u_per_min;
  c.reset();
  double low = c.decide(obs_at(60), p).basal_u_per_min;
  EXPECT_GT(high, at);
  EXPECT_NEAR(at, p.basal_u_per_min, 1e-12);
  EXPECT_EQ(low, 0.0);
}

TEST(SafetyLayer, SuspendsOnLowOrPredictedLowButLetsAMealBolusThroughAboveSeventy) {
  SafetyLayer s;
  auto p = settings();
  std::vector<std::string> fired;
  Dose d = s.apply(obs_at(65), p, {0.02, 1.0}, &fired);
  EXPECT_EQ(d.units(5), 0.0);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_NE(fired[0].find("suspended"), std::string::npos);
  d = s.apply(obs_at(100, -1.5), p, {0.02, 0});  // 100 - 45 = 55 predicted in 30 min
  EXPECT_EQ(d.units(5), 0.0);
  d = s.apply(obs_at(100, -1.5, 50), p, {0.02, 7.0});  // meal now: carbs/CR allowed, correction and basal not
  EXPECT_DOUBLE_EQ(d.bolus_u, 5.0);
  EXPECT_EQ(d.basal_u_per_min, 0.0);
  EXPECT_EQ(s.counts().suspended, 3);
  d = s.apply(obs_at(120), p, {0.02, 0});
  EXPECT_DOUBLE_EQ(d.basal_u_per_min, 0.02);  // nothing fires in range
  EXPECT_EQ(s.counts().interventions(), 3);
  EXPECT_EQ(s.counts().decisions, 4);
}

TEST(SafetyLayer, CapsDosesAndInsulinOnBoard) {
  SafetyLayer s;
  auto p = settings();
  std::vector<std::string> fired;
  Dose d = s.apply(obs_at(200, 0, 200), p, {0.02, 30}, &fired);  // 30% of TDI = 12 U
  EXPECT_DOUBLE_EQ(d.bolus_u, 12.0);
  EXPECT_EQ(s.counts().dose_capped, 1);
  d = s.apply(obs_at(200), p, {1.0, 0});  // basal at most 4x
  EXPECT_NEAR(d.basal_u_per_min, 0.08, 1e-12);
  SafetyLayer t;
  fired.clear();
  d = t.apply(obs_at(250, 0, 0, 40.0), p, {0.02, 3.0}, &fired);  // 40 U on board: far over the limit
  EXPECT_EQ(d.units(5), 0.0);
  EXPECT_EQ(t.counts().iob_limited, 1);
  ASSERT_FALSE(fired.empty());
  EXPECT_NE(fired[0].find("insulin on board"), std::string::npos);
  SafetyConfig off;
  off.enabled = false;
  SafetyLayer none(off);
  EXPECT_DOUBLE_EQ(none.apply(obs_at(50), p, {0.02, 3}).bolus_u, 3.0);
}

TEST(GlucoseEnv, BasalBolusKeepsTheBuiltInPatientMostlyInRangeAndNoMealsStayFlat) {
  auto patient = load_virtual_patient("adolescent#001", "", "");
  GlucoseEnv env(patient, daily_scenario("07:00 45, 12:00 70, 18:00 80", 1), {});
  BasalBolusController bb;
  SafetyLayer safety;
  auto r = run_episode(env, bb, safety, 1440);
  EXPECT_EQ(r.trace.minute.size(), 1440u);
  EXPECT_NEAR(r.carbs_total_g, 195, 1e-9);
  EXPECT_GT(r.summary.tir_70_180, 70.0);
  EXPECT_EQ(r.summary.tbr_54, 0.0);
  // Without meals, basal insulin alone holds the steady state.
  GlucoseEnv flat(patient, Scenario{}, {});
  auto f = run_episode(flat, bb, safety, 1440);
  EXPECT_NEAR(f.summary.mean, patient.params.Gb, 0.5);
  EXPECT_NEAR(f.insulin_total_u, patient.params.basal_u_per_min() * 1440, 1e-6);
}

TEST(GlucoseEnv, PatientGroupsExpandFromTheTable) {
  MEDAI_REQUIRE_DATA("t1d_simglucose/vpatient_params.csv");
  auto adults = expand_patient_names("adult", simdir() / "vpatient_params.csv");
  EXPECT_EQ(adults.size(), 10u);
  EXPECT_EQ(adults[0], "adult#001");
  EXPECT_EQ(expand_patient_names("all", simdir() / "vpatient_params.csv").size(), 30u);
  EXPECT_THROW(expand_patient_names("adult#099", simdir() / "vpatient_params.csv"), Error);
}
