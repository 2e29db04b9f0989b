#include <gtest/gtest.h>

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
  EXPECT_NEAR(std::stod(t.rows[0][1]), 149.02, 0.01);             // adolescent#001 starts at Gb
  EXPECT_DOUBLE_EQ(std::stod(t.rows[61][2]), 5.0);                 // eating at 5 g/min from minute 60
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
    expect_error(sim("minute,carbs_g,insulin_u_per_min\n0,0,0\n",
                     "--patient adult#042 --params " + test::quote(test::shared_data() / "t1d_simglucose/vpatient_params.csv")),
                 "unknown patient 'adult#042'");
}
