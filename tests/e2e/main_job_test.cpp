// The README's main job (scripts/run-main) started twice on one models folder: the first start
// trains and installs models/pneumonia/1; the second finds it and serves without training.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "support/test_support.h"

namespace fs = std::filesystem;
using namespace medai;

namespace {

// Starts the main job in the background; waits for "listening on port", then stops it.
std::string run_main_once(const fs::path& dir, const fs::path& data, const std::string& tag) {
  const fs::path log = dir / ("main-" + tag + ".log");
  const std::string env = "MEDAI_DB=" + test::quote(dir / "medai.db") + " MEDAI_RUNS=" + test::quote(dir / "runs") +
                          " MEDAI_TRAIN_ARGS='--size 32 --epochs 1 --batch 8 --val-fraction 0.25'";
  auto start = test::run_command(env + " setsid " + test::quote(fs::path(MEDAI_SOURCE_DIR) / "scripts" / "run-main") +
                                 " " + test::quote(data) + " " + test::quote(dir / "models") + " 0 > " +
                                 test::quote(log) + " 2>&1 & echo $!");
  const int pid = std::stoi(start.out);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  bool listening = false;
  while (!listening && std::chrono::steady_clock::now() < deadline) {
    listening = test::read_text(log).find("listening on port ") != std::string::npos;
    if (!listening) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (::kill(pid, 0) != 0) break;  // exited early
  }
  ::kill(-pid, SIGTERM);  // the whole session: the script exec'ed medai serve
  for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (::kill(pid, 0) == 0) ::kill(-pid, SIGKILL);
  const std::string text = test::read_text(log);
  EXPECT_TRUE(listening) << text;
  return text;
}

}  // namespace

TEST(MainJob, ASecondStartServesTheInstalledModelWithoutTrainingAgain) {
  test::TempDir dir;
  for (const char* cls : {"NORMAL", "PNEUMONIA"}) {
    fs::create_directories(dir / "data" / cls);
    for (int i = 0; i < 16; ++i) {
      cv::Mat img;
      test::quadrant_image(48, cls[0] == 'N' ? 0 : 3, 300 + i).convertTo(img, CV_8U, 255);
      cv::imwrite((dir / "data" / cls / ("f" + std::to_string(i) + ".png")).string(), img);
    }
  }
  const std::string first = run_main_once(dir.path(), dir / "data", "1");
  EXPECT_NE(first.find("installed"), std::string::npos) << first;
  ASSERT_TRUE(fs::exists(dir / "models" / "pneumonia" / "1" / "model.pt")) << first;
  const std::string second = run_main_once(dir.path(), dir / "data", "2");
  EXPECT_NE(second.find("already holds a model: not training"), std::string::npos) << second;
  EXPECT_EQ(second.find("val AUROC"), std::string::npos) << second;  // no epoch was trained
  // Exactly one version, with no run folder copied inside it.
  int versions = 0;
  for (const auto& e : fs::directory_iterator(dir / "models" / "pneumonia")) versions += e.is_directory();
  EXPECT_EQ(versions, 1);
  for (const auto& e : fs::directory_iterator(dir / "models" / "pneumonia" / "1"))
    EXPECT_FALSE(e.is_directory() && fs::exists(e.path() / "model.pt")) << e.path();
}
