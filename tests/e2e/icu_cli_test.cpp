// medai icu summary | split | cv | train | predict on 300 PhysioNet 2012 stays, and bad input.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace medai {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::quote;
using test::run_medai;

// The first 300 stays of set-a and a stratified 3-fold file over them.
struct Subset {
  test::TempDir dir;
  Subset() {
    const fs::path set = test::shared_data() / "icu_physionet2012/set-a";
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(set)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    fs::create_directories(dir / "stays");
    std::string folds = "RecordID,fold\n";
    for (size_t i = 0; i < 300; ++i) {
      fs::copy_file(files[i], dir / "stays" / files[i].filename());
      folds += files[i].stem().string() + "," + std::to_string(i % 3) + "\n";
    }
    test::write_text(dir / "folds.csv", folds);
  }
  std::string args() const {
    return "--data " + quote(dir / "stays") + " --outcomes " +
           quote(test::shared_data() / "icu_physionet2012/Outcomes-a.txt");
  }
};

TEST(IcuCli, CrossValidateTrainPredict) {
  MEDAI_REQUIRE_DATA("icu_physionet2012/Outcomes-a.txt");
  Subset s;
  auto r = run_medai("icu summary --data " + quote(s.dir / "stays") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["stays"], 300);

  r = run_medai("icu cv " + s.args() + " --folds " + quote(s.dir / "folds.csv") +
                " --rounds 60 --bags 2 --grud-epochs 3 --groups sex,age_band,ICUType --audit-plot " +
                quote(s.dir / "audit.png") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto cv = json::parse(r.out);
  EXPECT_EQ(cv["model"], "ensemble");
  EXPECT_TRUE(cv["components"].contains("grud"));
  ASSERT_EQ(cv["subgroups"].size(), 3u);
  EXPECT_EQ(cv["subgroups"][2]["column"], "ICUType");
  EXPECT_TRUE(cv["subgroups"][0].contains("equalised_odds_gap"));
  EXPECT_TRUE(fs::exists(s.dir / "audit.png"));
  EXPECT_EQ(cv["n"], 300);
  EXPECT_GT(cv["auroc"].get<double>(), 0.58);  // 300 stays (~40 deaths), 3 folds: noisy; all 4,000 reach ~0.87
  EXPECT_GT(cv["auprc"].get<double>(), 0.15);
  EXPECT_LT(cv["brier"].get<double>(), 0.15);

  r = run_medai("icu train " + s.args() + " --rounds 60 --bags 2 --grud-epochs 3 --out " + quote(s.dir / "run"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto card = json::parse(test::read_text(s.dir / "run/model_card.json"));
  EXPECT_TRUE(card["metrics"]["cv5_out_of_fold"].contains("auroc"));
  const fs::path stay = *fs::directory_iterator(s.dir / "stays");
  r = run_medai("icu predict --model " + quote(s.dir / "run") + " --stay " + quote(stay) + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto p = json::parse(r.out);
  EXPECT_GT(p["probability"].get<double>(), 0.0);
  EXPECT_LT(p["probability"].get<double>(), 1.0);
  EXPECT_EQ(p["top_contributions"].size(), 5u);
}

TEST(IcuCli, BadInputIsAClearError) {
  MEDAI_REQUIRE_DATA("icu_physionet2012/Outcomes-a.txt");
  Subset s;
  test::write_text(s.dir / "bad.csv", "RecordID,fold\n1,0\n");
  auto r = run_medai("icu cv " + s.args() + " --folds " + quote(s.dir / "bad.csv"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("RecordID 1 has no stay file"), std::string::npos) << r.err;
  test::write_text(s.dir / "stays/999999.txt", "Time,Parameter,Value\n00:00,RecordID,999999\n00:10,HR,ninety\n");
  r = run_medai("icu summary --data " + quote(s.dir / "stays"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("999999.txt:3: Value 'ninety'"), std::string::npos) << r.err;
  r = run_medai("icu predict --model " + quote(s.dir / "nothing") + " --stay " + quote(s.dir / "stays/999999.txt"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("icu_model.json"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace medai
