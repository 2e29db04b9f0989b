// The learned parts of the diabetes capability on small runs: the LSTM forecaster beats
// persistence on learnable synthetic CGM and survives a save/load; PPO improves its return from
// a poor start (a basal rate set 2.5x too high, no safety layer) and its policy loads as a controller.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <random>

#include "medai/core/error.h"
#include "medai/core/precision.h"
#include "medai/core/run_folder.h"
#include "medai/glucose/lstm_forecaster.h"
#include "medai/glucose/ppo_insulin.h"
#include "medai/io/csv.h"
#include "support/test_support.h"

using namespace medai;
using namespace medai::glucose;

namespace {
// Meal-like bumps on a slow daily wave, plus sensor noise: predictable from the recent past.
void write_patient(const std::filesystem::path& f, int seed, bool inputs = false) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, 3);
  std::string csv = inputs ? "timestamp,glucose_value_mg_dl,insulin_u,carbs_g\n" : "timestamp,glucose_value_mg_dl\n";
  const int64_t start = parse_timestamp_minutes("2025-01-01 00:00");
  double bump = 0;
  for (int i = 0; i < 2000; ++i) {
    if (i % 60 == 10 + seed % 7) bump = 60 + 10 * (seed % 3);
    bump *= 0.96;
    const double g = 130 + 30 * std::sin(i * 2 * M_PI / 288) + bump * (1 - std::exp(-(i % 60) / 6.0)) + noise(rng);
    const int64_t m = start + 5 * i;
    const int64_t day = m / 1440, mod = m % 1440;
    char row[96];
    std::snprintf(row, sizeof row, "2025-01-%02lld %02lld:%02lld:00,%.1f",
                  static_cast<long long>(1 + day - start / 1440), static_cast<long long>(mod / 60),
                  static_cast<long long>(mod % 60), g);
    csv += row;
    std::snprintf(row, sizeof row, inputs ? ",%.2f,%d\n" : "\n", i % 60 == 10 + seed % 7 ? 4.0 : 0.1,
                  i % 60 == 10 + seed % 7 ? 50 : 0);
    csv += row;
  }
  test::write_text(f, csv);
}
// A one-network, two-epoch forecaster on DIR/cgm written to DIR/run, one patient in four held out.
ForecasterTrainOptions small_options(const test::TempDir& dir) {
  ForecasterTrainOptions o;
  o.data = dir / "cgm";
  o.out = dir / "run";
  o.test_fraction = 0.25;
  o.hidden = 16;
  o.layers = 1;
  o.epochs = 2;
  o.ensemble = 1;
  o.progress = false;
  return o;
}
}  // namespace

TEST(LstmForecaster, TrainsUnderBf16AutocastWhereTheCpuHasItAndIsRefusedWhereItDoesNot) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "cgm");
  for (int p = 0; p < 4; ++p) write_patient(dir / "cgm" / ("P0" + std::to_string(p) + ".csv"), p + 1);
  ForecasterTrainOptions o = small_options(dir);
  o.precision = "bf16";
  if (!core::cpu_supports_bf16()) {
    EXPECT_THROW(train_forecaster(o), Error);
    GTEST_SKIP() << "this CPU has no AVX512-BF16/AMX-BF16: bf16 is refused, as it should be";
  }
  auto card = train_forecaster(o);
  EXPECT_EQ(card["training"]["precision"], "bf16");
  EXPECT_TRUE(std::isfinite(card["training"]["validation_rmse_30"].get<double>()));
  o.precision = "fp16";
  o.out = dir / "run2";
  EXPECT_THROW(train_forecaster(o), Error);
}

TEST(LstmForecaster, LearnsSyntheticCgmBetterThanPersistenceAndReloads) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "cgm");
  for (int p = 0; p < 6; ++p) write_patient(dir / "cgm" / ("P0" + std::to_string(p) + ".csv"), p + 1);
  ForecasterTrainOptions o;
  o.data = dir / "cgm";
  o.out = dir / "run";
  o.test_fraction = 0.34;  // 2 of 6 patients held out
  o.hidden = 32;
  o.layers = 1;
  o.epochs = 6;
  o.ensemble = 2;
  o.progress = false;
  auto card = train_forecaster(o);
  ASSERT_TRUE(card.contains("test"));
  auto report = core::read_json_file(dir / "run" / "test_report.json");
  const double lstm30 = report[0]["all_windows"]["30min"]["rmse"];
  const double pers30 = report[3]["all_windows"]["30min"]["rmse"];
  EXPECT_EQ(report[3]["method"], "persistence");
  EXPECT_LT(lstm30, 0.8 * pers30) << "lstm " << lstm30 << " vs persistence " << pers30;
  // Training loss went down for each member of the ensemble.
  auto curves = io::read_csv(dir / "run" / "curves.csv");
  for (const std::string member : {"0", "1"}) {
    std::vector<double> loss;
    for (const auto& row : curves.rows)
      if (row[0] == member) loss.push_back(std::stod(row[2]));
    ASSERT_GE(loss.size(), 2u);
    EXPECT_LT(loss.back(), loss.front()) << "member " << member;
  }
  EXPECT_EQ(card["ensemble"], 2);
  // Reloaded, it predicts the same as in a batch.
  auto f = GlucoseForecaster::load(dir / "run");
  auto series = read_cgm_folder(dir / "cgm");
  auto w = make_windows(series, f.history(), kMaxHorizon).at;
  w.resize(5);
  auto batch = f.predict(series, w);
  {  // as_batch() shares the networks: it still works after the forecaster is moved away
    auto fn = f.as_batch();
    GlucoseForecaster moved = std::move(f);
    auto again = fn(series, w);
    EXPECT_NEAR(again[3][0], batch[3][0], 1e-6);
    f = std::move(moved);
  }
  const auto& [si, last] = w[3];
  std::vector<double> hist(series[si].mgdl.begin() + last - f.history() + 1, series[si].mgdl.begin() + last + 1);
  auto one = f.predict_one(hist, series[si].start_minute + 5 * last);
  EXPECT_NEAR(one[0], batch[3][0], 1e-3);
  EXPECT_NEAR(one[1], batch[3][1], 1e-3);
  EXPECT_THROW(f.predict_one({100, 110}, 0), Error);
  EXPECT_THROW(GlucoseForecaster::load(dir / "cgm"), Error);  // not a run folder
}

TEST(LstmForecaster, LearnsFromInsulinAndCarbsWhenEveryRecordingHasThem) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "cgm");
  for (int p = 0; p < 4; ++p) write_patient(dir / "cgm" / ("Q0" + std::to_string(p) + ".csv"), p + 1, true);
  ForecasterTrainOptions o = small_options(dir);
  auto card = train_forecaster(o);
  EXPECT_TRUE(card["insulin_and_carbs"].get<bool>());
  // The card says what the model was trained on (it said "CGM only" before).
  EXPECT_EQ(card["limitations"].dump().find("CGM only"), std::string::npos) << card["limitations"];
  EXPECT_NE(card["intended_use"].get<std::string>().find("insulin"), std::string::npos);
  auto f = GlucoseForecaster::load(dir / "run");
  EXPECT_TRUE(f.uses_insulin_and_carbs());
  std::vector<double> g(f.history(), 120.0), zeros(f.history(), 0.0);
  EXPECT_THROW(f.predict_one(g, 0), Error);  // inputs required
  auto a = f.predict_one(g, 0, zeros, zeros);
  EXPECT_TRUE(std::isfinite(a[0]) && std::isfinite(a[1]));
  // CGM-only recordings are refused by such a model, with the reason.
  write_patient(dir / "plain.csv", 9);
  std::vector<CgmSeries> plain{read_cgm_csv(dir / "plain.csv")};
  EXPECT_THROW(f.predict(plain, make_windows(plain, f.history(), kMaxHorizon).at), Error);
}

TEST(Ppo, ImprovesItsReturnFromAMisSetBasalAndLoadsAsAController) {
  test::TempDir dir;
  glucose::PpoOptions o;
  o.patients = "adolescent#001";  // built in
  o.out = dir / "ppo";
  o.copies_per_patient = 8;
  o.iterations = 40;
  o.rollout_steps = 288;           // whole days, so iterations compare like with like
  o.initial_basal_multiple = 2.5;  // far too much basal insulin: lows until it learns
  o.safety.enabled = false;        // (the safety layer would hide the mistake)
  o.lr = 3e-3;
  o.minibatch = 512;
  o.select_every = 0;
  o.eval_days = 0;
  o.progress = false;
  auto card = glucose::train_ppo(o);
  auto curves = io::read_csv(dir / "ppo" / "curves.csv");
  ASSERT_EQ(curves.rows.size(), 40u);
  double first = 0, last = 0, tir_first = 0, tir_last = 0;
  for (int i = 0; i < 5; ++i) {
    first += std::stod(curves.rows[i][1]) / 5;
    last += std::stod(curves.rows[35 + i][1]) / 5;
    tir_first += std::stod(curves.rows[i][2]) / 5;
    tir_last += std::stod(curves.rows[35 + i][2]) / 5;
  }
  EXPECT_GT(last, first + 0.1 * std::fabs(first)) << "mean reward first 5 iterations " << first << ", last 5 " << last;
  EXPECT_GT(tir_last, tir_first + 10) << "time in range first 5 iterations " << tir_first << "%, last 5 " << tir_last
                                      << "%";
  auto c = glucose::load_ppo_controller(dir / "ppo");
  auto patient = load_virtual_patient("adolescent#001", "", "");
  Observation obs;
  obs.cgm_mgdl = 150;
  obs.cgm_history = {150, 150, 150};
  Dose d = c->decide(obs, patient.settings());
  EXPECT_TRUE(std::isfinite(d.basal_u_per_min));
  EXPECT_GE(d.basal_u_per_min, 0.0);
  EXPECT_EQ(card["task"], "glucose-ppo");
  EXPECT_THROW(glucose::load_ppo_controller(dir / "missing"), Error);
}
