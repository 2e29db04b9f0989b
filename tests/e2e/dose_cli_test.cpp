// medai dose train | evaluate | bandit | recommend on the IWPC cohort, and their errors.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace medai {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::quote;
using test::run_medai;

std::string iwpc() { return quote(test::shared_data() / "warfarin/iwpc_warfarin.csv"); }

TEST(DoseCli, TrainEvaluateMatchesThePharmacogeneticFormula) {
  MEDAI_REQUIRE_DATA("warfarin/iwpc_warfarin.csv");
  test::TempDir dir;
  const auto train = run_medai("dose train --data " + iwpc() + " --out " + quote(dir / "run"));
  ASSERT_EQ(train.exit_code, 0) << train.err;
  ASSERT_TRUE(fs::exists(dir / "run/splits.csv"));
  const auto ev = run_medai("dose evaluate --model " + quote(dir / "run") + " --data " + iwpc() + " --splits " +
                            quote(dir / "run/splits.csv") + " --split test --json --bootstrap 200 --predictions " +
                            quote(dir / "pred.csv"));
  ASSERT_EQ(ev.exit_code, 0) << ev.err;
  const auto j = json::parse(ev.out);
  for (const char* key : {"mae_mg_week", "within_20pct", "bucket_accuracy", "n", "coverage"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_GE(j["coverage"].get<double>(), 0.98);
  const auto& cc = j["complete_cases"];
  EXPECT_LE(cc["model"]["mae_mg_week"].get<double>(), cc["iwpc_pharmacogenetic"]["mae_mg_week"].get<double>() + 0.1);
  EXPECT_LT(j["mae_mg_week"].get<double>(), 9.0);
  EXPECT_NEAR(j["interval_coverage"].get<double>(), 0.8, 0.05);
  EXPECT_EQ(j["by_race"].size(), 4u);
  std::ifstream pred(dir / "pred.csv");
  std::string header;
  std::getline(pred, header);
  EXPECT_EQ(header.rfind("row,predicted_dose", 0), 0u);
}

TEST(DoseCli, BanditBeatsLinUcbAndWritesAPlot) {
  MEDAI_REQUIRE_DATA("warfarin/iwpc_warfarin.csv");
  test::TempDir dir;
  const auto r =
      run_medai("dose bandit --data " + iwpc() + " --policy linucb,pgx-linucb,fixed --permutations 3 --json --plot " +
                quote(dir / "regret.png"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_EQ(j["policy"], "pgx-linucb");
  EXPECT_GE(j["accuracy"].get<double>(), 0.68);
  EXPECT_LT(j["regret"].get<double>(), j["policies"][0]["regret"].get<double>());
  EXPECT_GT(fs::file_size(dir / "regret.png"), 1000u);
  const auto bad = run_medai("dose bandit --data " + iwpc() + " --policy greedy");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("greedy"), std::string::npos);
}

TEST(DoseCli, RecommendExplainsAndRefusesMissingAge) {
  test::TempDir dir;
  std::ofstream(dir / "p.json")
      << R"({"age": 67, "height_cm": 170, "weight_kg": 80, "race": "White", "cyp2c9": "*1/*3", "vkorc1": "A/G"})";
  std::ofstream(dir / "noage.json") << R"({"height_cm": 170, "race": "White"})";
  std::ofstream(dir / "typo.json") << R"({"age": 60, "race": "White", "vkorc1": "A/X"})";
  const auto r = run_medai("dose recommend --patient " + quote(dir / "p.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_NEAR(j["dose_mg_week"].get<double>(), 22.43, 0.01);  // (5.6044 - 0.2614*6 + ... - 0.9357)^2
  EXPECT_EQ(j["contributions"][0]["feature"], "CYP2C9");
  const auto n = run_medai("dose recommend --patient " + quote(dir / "noage.json"));
  EXPECT_NE(n.exit_code, 0);
  EXPECT_NE(n.err.find("age is missing"), std::string::npos) << n.err;
  const auto t = run_medai("dose recommend --patient " + quote(dir / "typo.json"));
  EXPECT_NE(t.exit_code, 0);
  EXPECT_NE(t.err.find("A/X"), std::string::npos) << t.err;
}

TEST(DoseCli, BadInputNamesRowAndField) {
  test::TempDir dir;
  std::ofstream(dir / "bad.csv") << "Race,Age,Height (cm),Weight (kg),CYP2C9 consensus,Therapeutic Dose of Warfarin\n"
                                    "White,60 - 69,170,80,*1/*1,30\nWhite,60 - 69,170,80,*1/*1,-5\n";
  const auto r = run_medai("dose train --data " + quote(dir / "bad.csv") + " --out " + quote(dir / "run"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("data row 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Therapeutic Dose of Warfarin"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "run/dose_model.json"));
  const auto m = run_medai("dose evaluate --model " + quote(dir.path()) + " --data " + quote(dir / "bad.csv"));
  EXPECT_NE(m.exit_code, 0);
  EXPECT_NE(m.err.find("not a dose model run"), std::string::npos) << m.err;
}

}  // namespace
}  // namespace medai
