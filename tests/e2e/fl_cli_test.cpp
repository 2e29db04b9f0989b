// medai fl simulate (coordinator + site processes over gRPC with TLS, a site killed and restarted,
// secure aggregation with DP-SGD) and --distributed data-parallel training on c10d: two processes
// give the one-process curve.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "support/test_support.h"

namespace medai {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::quote;
using test::run_medai;

std::string icu_args() {
  const fs::path d = test::shared_data() / "icu_physionet2012";
  return "--task icu --data " + quote(d / "set-a") + " --outcomes " + quote(d / "Outcomes-a.txt");
}

json parse_json_tail(const std::string& out) {
  const auto at = out.find('{');
  return json::parse(out.substr(at == std::string::npos ? 0 : at));
}

TEST(FlCli, SimulateSurvivesAKilledSite) {
  MEDAI_REQUIRE_DATA("icu_physionet2012/Outcomes-a.txt");
  test::TempDir dir;
  const auto r = run_medai("-q fl simulate " + icu_args() + " --rounds 4 --local-epochs 4 --kill-one-site --out " +
                           quote(dir / "run") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = parse_json_tail(r.out);
  for (const char* k : {"auroc_federated", "auroc_centralised", "auroc_per_site", "epsilon", "rounds", "completed"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_TRUE(j["completed"].get<bool>());
  EXPECT_EQ(j["rounds"].get<int>(), 4);
  EXPECT_EQ(j["auroc_per_site"].size(), 4u);
  EXPECT_GT(j["auroc_federated"].get<double>(), 0.75);
  EXPECT_GT(j["auroc_centralised"].get<double>(), 0.75);
  std::ifstream audit(dir / "run" / "coordinator" / "audit.jsonl");
  const std::string a((std::istreambuf_iterator<char>(audit)), {});
  EXPECT_NE(a.find("\"rejoined\""), std::string::npos) << "the killed site did not come back";
  EXPECT_TRUE(fs::exists(dir / "run" / "coordinator" / "best.f32"));
}

TEST(FlCli, SecureAggregationWithDpSgd) {
  MEDAI_REQUIRE_DATA("icu_physionet2012/Outcomes-a.txt");
  test::TempDir dir;
  const auto r = run_medai("-q fl simulate " + icu_args() +
                           " --rounds 2 --secure-aggregation --dp-epsilon 8 --no-baselines --no-tls --out " +
                           quote(dir / "run") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = parse_json_tail(r.out);
  EXPECT_TRUE(j["completed"].get<bool>());
  EXPECT_GT(j["epsilon"].get<double>(), 0.5);
  EXPECT_LE(j["epsilon"].get<double>(), 8.0);
  EXPECT_TRUE(j["auroc_centralised"].is_null());
}

TEST(FlCli, BadInvocationsAreRefused) {
  test::TempDir dir;
  auto r = run_medai("fl simulate --task icu --data " + quote(dir.path()) + " --out " + quote(dir / "x"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--outcomes"), std::string::npos) << r.err;
  r = run_medai("fl serve --out " + quote(dir / "s") + " --tokens " + quote(dir / "missing.csv"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("missing.csv"), std::string::npos) << r.err;
}

// The coordinator killed (kill -9) after round 3 and started again with --resume: the sites come
// back on their own and the run finishes all its rounds.
TEST(FlCli, CoordinatorResumesAfterARestart) {
  MEDAI_REQUIRE_DATA("icu_physionet2012/Outcomes-a.txt");
  test::TempDir dir;
  test::write_text(dir / "tokens.csv", "token,site\nta,a\ntb,b\n");
  const int port = 40000 + static_cast<int>(std::random_device{}() % 20000);
  const std::string bin = quote(std::getenv("MEDAI_BIN")), addr = "127.0.0.1:" + std::to_string(port);
  const fs::path d = test::shared_data() / "icu_physionet2012";
  const std::string serve = bin +
                            " --threads 1 fl serve --task icu --rounds 6 --min-clients 2 --local-epochs 3 --out " +
                            quote(dir / "run") + " --tokens " + quote(dir / "tokens.csv") + " --listen " + addr;
  std::string join;
  for (const char* s : {"a", "b"})
    join += bin + " -q --threads 1 fl join --server " + addr + " --token t" + s + " --task icu --data " +
            quote(d / "set-a") + " --outcomes " + quote(d / "Outcomes-a.txt") +
            " --partition part:" + (s[0] == 'a' ? "1" : "2") + "/2 & ";
  const std::string log = quote(dir / "first.log");
  const auto r = test::run_command(serve + " > " + log + " 2>&1 & c=$!; " + join +
                                   "for i in $(seq 600); do grep -q 'round 3 aggregated' " + log +
                                   " && break; sleep 0.1; done; kill -9 $c; sleep 1; " + serve + " --resume --json > " +
                                   quote(dir / "summary.json") + "; s=$?; wait; exit $s");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(dir / "run" / "audit.jsonl");
  const std::string audit((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(audit.find("\"resumed\""), std::string::npos);
  const json card = json::parse(test::read_text(dir / "run" / "fl_model.json"));
  EXPECT_EQ(card["rounds"].get<int>(), 6);
}

// The first 300 stays of set-a, for the data-parallel checks.
fs::path icu_subset(const test::TempDir& dir) {
  const fs::path set = test::shared_data() / "icu_physionet2012/set-a";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(set)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  fs::create_directories(dir / "stays");
  for (size_t i = 0; i < 300; ++i) fs::copy_file(files[i], dir / "stays" / files[i].filename());
  return dir / "stays";
}

std::vector<std::vector<double>> read_curves(const fs::path& csv) {
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  std::vector<std::vector<double>> rows;
  while (std::getline(in, line)) {
    std::vector<double> r;
    size_t at = 0;
    for (size_t c; (c = line.find(',', at)) != std::string::npos || at < line.size(); at = c + 1) {
      r.push_back(std::stod(line.substr(at, c == std::string::npos ? std::string::npos : c - at)));
      if (c == std::string::npos) break;
    }
    rows.push_back(r);
  }
  return rows;
}

TEST(DistributedCli, TwoProcessesGiveTheOneProcessCurve) {
  MEDAI_REQUIRE_DATA("icu_physionet2012/Outcomes-a.txt");
  test::TempDir dir;
  const fs::path stays = icu_subset(dir);
  const std::string common = "-q icu train --data " + quote(stays) + " --outcomes " +
                             quote(test::shared_data() / "icu_physionet2012/Outcomes-a.txt") +
                             " --model grud --grud-epochs 3 --grud-dropout 0 --grud-hidden 16";
  auto one = run_medai("--threads 1 " + common + " --distributed --out " + quote(dir / "one") + " --grud-curves " +
                       quote(dir / "one.csv"));
  // WORLD_SIZE=1 first: the same code path as the plain trainer, on one process.
  const int port = 20000 + static_cast<int>(std::random_device{}() % 20000);
  const std::string bin = quote(std::getenv("MEDAI_BIN"));
  const std::string env1 = "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " WORLD_SIZE=1 RANK=0 ";
  auto single = test::run_command(env1 + bin + " --threads 1 " + common + " --distributed --out " +
                                  quote(dir / "single") + " --grud-curves " + quote(dir / "single.csv"));
  ASSERT_EQ(single.exit_code, 0) << single.err;
  const std::string env2 = "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port + 1) + " WORLD_SIZE=2 ";
  auto two = test::run_command("(" + env2 + "RANK=1 " + bin + " --threads 1 " + common + " --distributed --out " +
                               quote(dir / "two") + " & " + env2 + "RANK=0 " + bin + " --threads 1 " + common +
                               " --distributed --out " + quote(dir / "two") + " --grud-curves " +
                               quote(dir / "two.csv") + "; s=$?; wait; exit $s)");
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_NE(one.exit_code, 0);  // --distributed without the torchrun variables
  EXPECT_NE(one.err.find("WORLD_SIZE"), std::string::npos) << one.err;
  const auto a = read_curves(dir / "single.csv"), b = read_curves(dir / "two.csv");
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(a.size(), b.size());
  for (size_t e = 0; e < a.size(); ++e) {
    EXPECT_NEAR(a[e][1], b[e][1], 1e-3 * a[e][1]) << "train loss, epoch " << e + 1;
    EXPECT_NEAR(a[e][2], b[e][2], 0.01) << "validation AUROC, epoch " << e + 1;
  }
  EXPECT_TRUE(fs::exists(dir / "two" / "model_card.json"));
}

}  // namespace
}  // namespace medai
