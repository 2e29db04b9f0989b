// medai mol split | train | evaluate | predict | depict | lm-train | generate | optimize on
// MoleculeNet's ESOL and ClinTox, their bad-input errors, and POST /v1/molecules/predict.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server_support.h"
#include "support/test_support.h"

namespace medai {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::quote;
using test::run_medai;

const char* kEsolTask = "measured log solubility in mols per litre";
std::string esol() { return quote(test::shared_data() / "molecules/esol_delaney.csv"); }

TEST(MolCli, ScaffoldSplitIsDeepChemsOnEsol) {
  MEDAI_REQUIRE_DATA("molecules/esol_delaney.csv");
  test::TempDir dir;
  const auto r = run_medai("mol split --data " + esol() + " --method scaffold --out " + quote(dir / "s.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ref =
      test::run_command("/usr/bin/python3 " + quote(fs::path(MEDAI_SOURCE_DIR) / "tests/reference/scaffold_split.py") +
                        " " + esol() + " smiles " + quote(dir / "ref.csv") + " 2>&1");
  if (ref.exit_code != 0) GTEST_SKIP() << "python3-rdkit reference unavailable: " << ref.out;
  EXPECT_EQ(test::read_text(dir / "s.csv"), test::read_text(dir / "ref.csv"));
}

TEST(MolCli, TrainEvaluatePredictRegressionAndClassification) {
  MEDAI_REQUIRE_DATA("molecules/esol_delaney.csv");
  test::TempDir dir;
  ASSERT_EQ(run_medai("mol split --data " + esol() + " --method random --out " + quote(dir / "r.csv")).exit_code, 0);
  const std::string common = " --data " + esol() + " --tasks \"" + kEsolTask + "\" --splits " + quote(dir / "r.csv");
  auto r = run_medai("mol train" + common + " --out " + quote(dir / "d") +
                     " --ensemble 2 --epochs 12 --hidden 96 --ffn-hidden 96 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto card = json::parse(r.out);
  EXPECT_EQ(card["kind"], "molecule");
  EXPECT_TRUE(card["metrics"].contains("test"));
  r = run_medai("mol evaluate --model " + quote(dir / "d") + common + " --split test --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = json::parse(r.out);
  for (const char* k : {"rmse", "mae", "r2", "n", "per_task"}) EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_LT(j["rmse"].get<double>(), 1.3);  // ESOL's SD is 2.1; the trees reach ~1.2 on this split
  EXPECT_EQ(j["n"], 113);

  // Predict: a bad SMILES gets its own entry, the rest predictions with spread, domain and alerts.
  test::write_text(dir / "q.smi", "CCO\nC1CC\nS=C1SC(=Cc2ccccc2)C(=O)N1\n");
  r = run_medai("mol predict --model " + quote(dir / "d") + " --smiles " + quote(dir / "q.smi") + " --svg-dir " +
                quote(dir / "svg") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = json::parse(r.out);
  ASSERT_EQ(j.size(), 3u);
  EXPECT_TRUE(j[1].contains("error"));
  EXPECT_GT(j[0]["predictions"][kEsolTask]["sd"].get<double>(), 0.0);
  EXPECT_GT(j[0]["nearest_training_similarity"].get<double>(), 0.0);
  EXPECT_FALSE(j[2]["alerts"].empty());
  EXPECT_TRUE(fs::exists(dir / "svg/row-2.svg"));

  // ClinTox with the ECFP + XGBoost baseline: both tasks, the per-row parse errors reported.
  const std::string clintox = quote(test::shared_data() / "molecules/clintox.csv");
  r = run_medai("mol train --data " + clintox + " --tasks all --model xgb-ecfp --rounds 40 --out " + quote(dir / "x"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("do not parse"), std::string::npos) << r.err;
  r = run_medai("mol evaluate --model " + quote(dir / "x") + " --data " + clintox + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = json::parse(r.out);
  EXPECT_TRUE(j["per_task"].contains("CT_TOX"));
  EXPECT_GT(j["mean_auroc"].get<double>(), 0.8);  // on its own training rows
  r = run_medai("mol depict --smiles 'c1ccccc1O' --out " + quote(dir / "phenol.png"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(fs::file_size(dir / "phenol.png"), 500u);
}

TEST(MolCli, BadInputIsRefusedAndNothingIsWritten) {
  test::TempDir dir;
  const auto refuse = [&](const std::string& csv, const std::string& flags, const std::string& needle) {
    test::write_text(dir / "in.csv", csv);
    const auto r =
        run_medai("mol train --data " + quote(dir / "in.csv") + " --out " + quote(dir / "run") + " " + flags);
    EXPECT_NE(r.exit_code, 0) << csv;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir / "run")) << "half-written run for " << csv;
  };
  refuse("", "--tasks y", "empty");
  refuse("smiles,y\nCCO,\nCCC,\n", "--tasks y", "task column 'y' has no label");
  refuse("smiles,y\nCCO,0\nCCC,2\nCCN,1\n", "--tasks y", "integers {0, 1, 2}");
  refuse("smiles,y\nCCO,0\nCCC,2\n", "--tasks y --task-type classification",
         "in.csv:3: column 'y': label '2' is not 0/1");
  refuse("smiles,y\nXYZ,1\n((,0\n", "--tasks y", "no SMILES in column 'smiles' parses");
  std::string ok = "smiles,y\n";
  for (int i = 0; i < 20; ++i)
    ok += std::string(i % 2 ? "CCO" : "c1ccccc1") + std::string(static_cast<size_t>(i), 'C') + "," +
          std::to_string(i % 2) + "\n";
  test::write_text(dir / "splits.csv", "row,split\n0,train\n99,test\n");
  refuse(ok, "--tasks y --splits " + quote(dir / "splits.csv"), "99");
}

TEST(MolCli, LanguageModelGeneratesAndOptimises) {
  MEDAI_REQUIRE_DATA("molecules/esol_delaney.csv");
  test::TempDir dir;
  auto r = run_medai("mol lm-train --data " + esol() + " --out " + quote(dir / "lm") +
                     " --epochs 2 --hidden 64 --embedding 32 --layers 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_medai("mol generate --model " + quote(dir / "lm") + " --n 100 --out " + quote(dir / "g.smi") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = json::parse(r.out);
  for (const char* k : {"validity", "uniqueness", "novelty", "n"}) EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["n"], 100);
  r = run_medai("mol train --data " + esol() + " --tasks \"" + kEsolTask +
                "\" --model xgb-ecfp --rounds 20 --ensemble 1 --out " + quote(dir / "sol"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_medai("mol optimize --prior " + quote(dir / "lm") + " --objective " +
                quote((dir / "sol").string() + "," + kEsolTask + ",max") + " --steps 3 --batch 16 --eval-n 50 --out " +
                quote(dir / "agent") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rep = json::parse(r.out);
  EXPECT_TRUE(rep["agent"]["metrics"].contains("validity"));
  EXPECT_TRUE(fs::exists(dir / "agent/optimize_history.png"));
  EXPECT_EQ(run_medai("mol optimize --prior " + quote(dir / "lm") + " --objective nope --out " + quote(dir / "a2"))
                    .exit_code == 0,
            false);
}

TEST(MolServer, ScreensSmilesWithDomainAlertsAndDrawings) {
  MEDAI_REQUIRE_DATA("molecules/esol_delaney.csv");
  test::TempDir dir;
  auto r = run_medai("mol train --data " + esol() + " --tasks \"" + kEsolTask +
                     "\" --ensemble 1 --epochs 3 --hidden 32 --ffn-hidden 32 --out " + quote(dir / "m"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string clin = test::token(dir.path(), "clinician");
  test::Server s(dir.path(), "--mol-model " + quote(dir / "m"));
  ASSERT_GT(s.port(), 0);
  const auto post = [&](const json& body) {
    test::write_text(dir / "req.json", body.dump());
    return s.call("POST", "/v1/molecules/predict", clin, (dir / "req.json").string(), "application/json");
  };
  auto [code, out] = post({{"smiles", {"CCO", "not a molecule", "c1ccccc1O"}}, {"draw", true}});
  ASSERT_EQ(code, 200) << out;
  const auto j = json::parse(out);
  ASSERT_EQ(j["results"].size(), 3u);
  EXPECT_TRUE(j["results"][1].contains("error"));
  EXPECT_NE(j["results"][2]["svg"].get<std::string>().find("<svg"), std::string::npos);
  EXPECT_EQ(j["results"][2]["atom_contributions"].size(), 7u);
  EXPECT_EQ(post({{"smiles", "CCO"}}).first, 400);
  EXPECT_EQ(post({{"smiles", {"CCO"}}, {"draw", true}, {"task", "nope"}}).first, 400);
  s.stop();
  test::Server bare(dir.path());
  test::write_text(dir / "req.json", json{{"smiles", {"CCO"}}}.dump());
  const auto none = bare.call("POST", "/v1/molecules/predict", clin, (dir / "req.json").string(), "application/json");
  EXPECT_EQ(none.first, 404);
  EXPECT_NE(none.second.find("--mol-model"), std::string::npos);
  bare.stop();
}

}  // namespace
}  // namespace medai
