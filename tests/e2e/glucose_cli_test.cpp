#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "medai/io/csv.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using namespace medai;

namespace {
void expect_error(const test::CommandResult& r, const std::string& what) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_LT(r.exit_code, 128);
  EXPECT_NE(r.err.find("error: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(what), std::string::npos) << "expected '" << what << "' in: " << r.err;
}
}  // namespace

TEST(GlucoseCli, SimulatesAScheduleAndWritesStatesAndGlucose) {
  test::TempDir dir;
  test::write_text(dir / "in.csv", "minute,carbs_g,insulin_u_per_min\n0,0,0.0135\n60,50,0.5\n61,0,0.0135\n");
  auto r = test::run_medai("glucose simulate --inputs " + test::quote(dir / "in.csv") + " --minutes 300 --out " +
                           test::quote(dir / "out.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  io::CsvTable t = io::read_csv(dir / "out.csv");
  ASSERT_EQ(t.rows.size(), 301u);
  EXPECT_EQ(t.header.size(), 4u + 13u);
  EXPECT_EQ(t.header[1], "bg_mgdl");
  EXPECT_NEAR(std::stod(t.rows[0][1]), 149.02, 0.01);  // adolescent#001 starts at Gb
  EXPECT_DOUBLE_EQ(std::stod(t.rows[61][2]), 5.0);     // eating at 5 g/min from minute 60
  EXPECT_DOUBLE_EQ(std::stod(t.rows[61][3]), 0.5);
  double peak = 0;
  for (const auto& row : t.rows) peak = std::max(peak, std::stod(row[1]));
  EXPECT_GT(peak, 160.0);
}

TEST(GlucoseCli, BadSchedulesAndUnknownPatientsAreNamed) {
  test::TempDir dir;
  auto sim = [&](const std::string& csv, const std::string& extra = "") {
    test::write_text(dir / "s.csv", csv);
    return test::run_medai("glucose simulate --inputs " + test::quote(dir / "s.csv") + " --minutes 10 --out " +
                           test::quote(dir / "o.csv") + " " + extra);
  };
  expect_error(sim("minute,carbs_g\n0,10\n"), "missing column 'insulin_u_per_min'");
  expect_error(sim("minute,carbs_g,insulin_u_per_min\n0,ten,0\n"), "line 2, field 'carbs_g'");
  expect_error(sim("minute,carbs_g,insulin_u_per_min\n0,0,0\n5,nan,0\n"), "line 3, field 'carbs_g'");
  expect_error(sim("minute,carbs_g,insulin_u_per_min\n0,0,-1\n"), "must not be negative");
  expect_error(sim("minute,carbs_g,insulin_u_per_min\n0,0,0\n0,5,0\n"), "appears twice");
  expect_error(sim("minute,carbs_g,insulin_u_per_min\n0,0,0\n", "--patient adult#001"), "pass --params");
  EXPECT_FALSE(fs::exists(dir / "o.csv"));
  if (fs::exists(test::shared_data() / "t1d_simglucose/vpatient_params.csv"))
    expect_error(
        sim("minute,carbs_g,insulin_u_per_min\n0,0,0\n",
            "--patient adult#042 --params " + test::quote(test::shared_data() / "t1d_simglucose/vpatient_params.csv")),
        "unknown patient 'adult#042'");
}

namespace {
// Basal rate (U/min) of a patient of the table: u2ss x BW / 6000.
double glucose_params_row(const fs::path& csv, const std::string& name) {
  auto t = io::read_csv(csv);
  for (const auto& row : t.rows)
    if (row[t.column("Name")] == name) return std::stod(row[t.column("u2ss")]) * std::stod(row[t.column("BW")]) / 6000;
  throw std::runtime_error("no patient " + name);
}

std::string sim_tables() {
  const auto d = test::shared_data() / "t1d_simglucose";
  return " --params " + test::quote(d / "vpatient_params.csv") + " --quest " + test::quote(d / "Quest.csv") +
         " --sensor-params " + test::quote(d / "sensor_params.csv") + " --pump-params " +
         test::quote(d / "pump_params.csv");
}
}  // namespace

TEST(GlucoseCli, ControllerDecidesTheInsulinAndAPlotIsWritten) {
  test::TempDir dir;
  auto r = test::run_medai(
      "glucose simulate --controller basal-bolus --scenario '07:00 45, 12:00 70, 18:00 80' --minutes 1440 "
      "--sensor Dexcom --pump Insulet --seed 3 --out " +
      test::quote(dir / "o.csv") + " --plot " + test::quote(dir / "o.png"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("TIR"), std::string::npos);
  io::CsvTable t = io::read_csv(dir / "o.csv");
  ASSERT_EQ(t.rows.size(), 1441u);
  EXPECT_EQ(t.header[1], "bg_mgdl");
  EXPECT_EQ(t.header.back(), "x13");
  double bolus_minutes = 0;
  for (const auto& row : t.rows) bolus_minutes += std::stod(row[3]) > 0.5;  // boluses stand far above basal
  EXPECT_GE(bolus_minutes, 3);
  EXPECT_GT(fs::file_size(dir / "o.png"), 2000u);
  expect_error(
      test::run_medai("glucose simulate --controller insulin-magic --minutes 10 --out " + test::quote(dir / "x.csv")),
      "unknown controller 'insulin-magic'");
  expect_error(test::run_medai("glucose simulate --controller pid --scenario '7am 45' --minutes 10 --out " +
                               test::quote(dir / "x.csv")),
               "scenario item '7am 45'");
  EXPECT_FALSE(fs::exists(dir / "x.csv"));
}

TEST(GlucoseCli, EvaluateComparesControllersAndWritesTracePlots) {
  MEDAI_REQUIRE_DATA("t1d_simglucose/vpatient_params.csv");
  test::TempDir dir;
  auto r = test::run_medai(
      "glucose evaluate --controller basal-bolus,pid --patients adult#001,child#002 --days 2 --json --out " +
      test::quote(dir / "ev") + sim_tables());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["controller"], "basal-bolus");
  EXPECT_EQ(j[0]["patients"], 2);
  EXPECT_GT(j[0]["tir_median"].get<double>(), j[1]["tir_median"].get<double>());  // meal boluses beat feedback alone
  io::CsvTable t = io::read_csv(dir / "ev" / "results.csv");
  EXPECT_EQ(t.rows.size(), 4u);
  EXPECT_TRUE(fs::exists(dir / "ev" / "basal-bolus_adult_001.png"));
  EXPECT_TRUE(fs::exists(dir / "ev" / "pid_child_002.png"));
  expect_error(test::run_medai("glucose evaluate --patients teen" + sim_tables()), "unknown patient 'teen'");
}

TEST(GlucoseCli, RecommendExplainsItselfAndRefusesBadHistories) {
  test::TempDir dir;
  std::string csv = "timestamp,cgm_mgdl,insulin_u,carbs_g\n";
  for (int i = 0; i < 30; ++i) {
    char row[80];
    std::snprintf(row, sizeof row, "2026-03-01 %02d:%02d:00,%d,%s,\n", 6 + i * 5 / 60, i * 5 % 60, 160 + 2 * i,
                  i == 3 ? "2" : "");
    csv += row;
  }
  test::write_text(dir / "h.csv", csv);
  const std::string who = " --basal-u-per-h 0.9 --cr 10 --cf 40 --tdi 40";
  auto r = test::run_medai("glucose recommend --json --carbs 50 --history " + test::quote(dir / "h.csv") + who);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["recommendation"]["bolus_u"].get<double>(), 5.0);
  EXPECT_NEAR(j["cgm_mgdl"].get<double>(), 218, 1e-9);
  EXPECT_GT(j["forecast_mgdl"]["30min"].get<double>(), 218);
  EXPECT_GE(j["reasons"].size(), 5u);
  auto bad = [&](const std::string& text) {
    test::write_text(dir / "b.csv", text);
    return test::run_medai("glucose recommend --history " + test::quote(dir / "b.csv") + who);
  };
  expect_error(bad("timestamp,insulin_u\n2026-01-01 07:00,1\n"), "missing column 'cgm_mgdl'");
  expect_error(bad("timestamp,cgm_mgdl\n07:00,120\n"), "line 2, field 'timestamp'");
  expect_error(bad("timestamp,cgm_mgdl\n2026-01-01 07:00,NaN\n"), "line 2, field 'cgm_mgdl'");
  expect_error(bad("timestamp,cgm_mgdl,carbs_g\n2026-01-01 07:00,120,-10\n"), "line 2, field 'carbs_g'");
  expect_error(bad("timestamp,cgm_mgdl\n2026-01-01 07:00,1200\n"), "outside the physiological range");
  expect_error(test::run_medai("glucose recommend --history " + test::quote(dir / "h.csv")), "--basal-u-per-h");
  expect_error(test::run_medai("glucose recommend --patient adult#001 --history " + test::quote(dir / "h.csv")),
               "pass --params");
}

TEST(GlucoseCli, ForecasterAndPpoTrainEvaluateAndServeAsControllers) {
  MEDAI_REQUIRE_DATA("cgm/d1namo");
  test::TempDir dir;
  const auto d1 = test::shared_data() / "cgm" / "d1namo";
  auto r = test::run_medai("glucose train-forecaster --data " + test::quote(d1) + " --out " + test::quote(dir / "fc") +
                           " --epochs 2 --hidden 16 --layers 1 --test-fraction 0.34 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto card = nlohmann::json::parse(r.out);
  EXPECT_EQ(card["task"], "glucose-forecast");
  EXPECT_EQ(card["split"]["test_ids"].size(), 3u);  // 9 people sorted by id, the last third held out
  r = test::run_medai("glucose evaluate-forecaster --model " + test::quote(dir / "fc") + " --data " + test::quote(d1) +
                      " --split all --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rep = nlohmann::json::parse(r.out);
  ASSERT_EQ(rep.size(), 4u);
  EXPECT_EQ(rep[1]["method"], "ridge");
  EXPECT_GT(rep[0]["all_windows"]["30min"]["windows"].get<int>(), 1000);
  expect_error(
      test::run_medai("glucose evaluate-forecaster --model " + test::quote(dir.path()) + " --data " + test::quote(d1)),
      "model_card.json");

  r = test::run_medai("glucose train-ppo --patients adolescent#001 --out " + test::quote(dir / "ppo") +
                      " --iterations 3 --copies 2 --rollout-steps 96 --eval-days 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto pc = nlohmann::json::parse(r.out);
  EXPECT_EQ(pc["evaluation"]["results"].size(), 3u);
  r = test::run_medai("glucose simulate --controller ppo:" + (dir / "ppo").string() + " --minutes 600 --out " +
                      test::quote(dir / "ppo.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_error(test::run_medai("glucose simulate --controller ppo:" + (dir / "fc").string() + " --minutes 10 --out " +
                               test::quote(dir / "x.csv")),
               "not a PPO insulin policy");
}

TEST(GlucoseCli, ForecasterResumesAfterKillNineWithTheNumbersOfAnUninterruptedRun) {
  MEDAI_REQUIRE_DATA("cgm/d1namo");
  test::TempDir dir;
  const std::string common = "glucose train-forecaster --data " + test::quote(test::shared_data() / "cgm" / "d1namo") +
                             " --epochs 4 --hidden 48 --layers 2 --ensemble 2 --test-fraction 0.34";
  auto full = test::run_medai(common + " --out " + test::quote(dir / "full") + " --json");
  ASSERT_EQ(full.exit_code, 0) << full.err;
  // Killed after the first member's first epoch is checkpointed; resumed with other flags, which
  // the stored settings override.
  ASSERT_TRUE(test::run_medai_and_kill_after(common + " --out " + test::quote(dir / "cut"),
                                             dir / "cut" / "members" / "1" / "train_state.json", 200));
  EXPECT_FALSE(std::filesystem::exists(dir / "cut" / "model_card.json")) << "finished before it was interrupted";
  auto resumed =
      test::run_medai("glucose train-forecaster --data " + test::quote(test::shared_data() / "cgm" / "d1namo") +
                      " --out " + test::quote(dir / "cut") + " --epochs 1 --resume --json");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(test::read_text(dir / "full" / "curves.csv"), test::read_text(dir / "cut" / "curves.csv"));
  auto a = nlohmann::json::parse(full.out), b = nlohmann::json::parse(resumed.out);
  EXPECT_EQ(a["training"]["validation_rmse_30"], b["training"]["validation_rmse_30"]);
  EXPECT_EQ(a["training"]["best_epochs"], b["training"]["best_epochs"]);
  expect_error(test::run_medai(common + " --out " + test::quote(dir / "cut")), "pass --resume");
  expect_error(test::run_medai("glucose train-forecaster --data " + test::quote(dir.path()) + " --out " +
                               test::quote(dir / "none") + " --resume"),
               "nothing to resume");
}

TEST(GlucoseCli, PpoResumesAfterKillNineFromItsLastIteration) {
  MEDAI_REQUIRE_DATA("t1d_simglucose/vpatient_params.csv");
  test::TempDir dir;
  const auto sim = test::shared_data() / "t1d_simglucose";
  const std::string tables =
      " --params " + test::quote(sim / "vpatient_params.csv") + " --quest " + test::quote(sim / "Quest.csv");
  const std::string common = "glucose train-ppo --patients adolescent#001" + tables +
                             " --iterations 40 --copies 2 --rollout-steps 96 --eval-days 0";
  ASSERT_TRUE(test::run_medai_and_kill_after(common + " --out " + test::quote(dir / "cut"),
                                             dir / "cut" / "train_state.json", 300));
  auto state = nlohmann::json::parse(test::read_text(dir / "cut" / "train_state.json"));
  const int done = state["iteration_completed"].get<int>();
  ASSERT_LT(done, 40) << "finished before it was interrupted";
  auto resumed =
      test::run_medai("glucose train-ppo" + tables + " --out " + test::quote(dir / "cut") + " --resume --json");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  auto card = nlohmann::json::parse(resumed.out);
  EXPECT_EQ(card["training"]["iterations"], 40);
  EXPECT_EQ(card["patients"], "adolescent#001");  // the stored settings, not the default group
  auto curves = io::read_csv(dir / "cut" / "curves.csv");
  ASSERT_EQ(curves.rows.size(), 40u);
  for (size_t i = 0; i < curves.rows.size(); ++i) EXPECT_EQ(std::stoi(curves.rows[i][0]), static_cast<int>(i) + 1);
  EXPECT_EQ(io::read_csv(dir / "cut" / "selection.csv").rows.size(), 4u);  // iterations 10, 20, 30, 40
  expect_error(test::run_medai(common + " --out " + test::quote(dir / "cut")), "pass --resume");
}

TEST(GlucoseCli, TrajectoriesAgreeWithSimglucosesModelIntegratedBySciPy) {
  MEDAI_REQUIRE_DATA("t1d_simglucose/vpatient_params.csv");
  if (test::run_command(test::python() + " -c 'import scipy'").exit_code != 0)
    GTEST_SKIP() << "python3-scipy is not installed (scripts/install-deps installs it)";
  test::TempDir dir;
  const auto params = test::shared_data() / "t1d_simglucose" / "vpatient_params.csv";
  const std::string ref = std::string(MEDAI_SOURCE_DIR) + "/bench/simglucose_reference.py";
  for (const std::string name : {"adolescent#007", "child#010"}) {
    SCOPED_TRACE(name);
    auto p = glucose_params_row(params, name);
    std::string csv = "minute,carbs_g,insulin_u_per_min\n";
    for (int m = 0; m < 1440; ++m) {
      const double carbs = m == 420 ? 45 : m == 720 ? 70 : m == 1080 ? 80 : 0;
      csv += std::to_string(m) + "," + std::to_string(carbs) + "," + std::to_string(p + (carbs > 0 ? carbs / 12 : 0)) +
             "\n";
    }
    test::write_text(dir / "s.csv", csv);
    auto r =
        test::run_medai("glucose simulate --patient '" + name + "' --params " + test::quote(params) + " --inputs " +
                        test::quote(dir / "s.csv") + " --minutes 1440 --out " + test::quote(dir / "c.csv"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto py = test::run_command(test::python() + " " + test::quote(ref) + " trajectory " + test::quote(params) + " '" +
                                name + "' " + test::quote(dir / "s.csv") + " 1440 1e-10");
    ASSERT_EQ(py.exit_code, 0) << py.err;
    test::write_text(dir / "p.csv", py.out);
    auto c = io::read_csv(dir / "c.csv"), q = io::read_csv(dir / "p.csv");
    ASSERT_EQ(c.rows.size(), q.rows.size());
    double worst = 0, lo = 1e9, hi = 0;
    for (size_t i = 0; i < c.rows.size(); ++i) {
      const double a = std::stod(c.rows[i][1]), b = std::stod(q.rows[i][1]);
      worst = std::max(worst, std::fabs(a - b));
      lo = std::min(lo, a);
      hi = std::max(hi, a);
    }
    EXPECT_GT(hi - lo, 50.0);                                   // the day has real excursions
    EXPECT_LT(worst, 0.01) << "max |BG difference| over 24 h";  // the fidelity target
  }
}
