#pragma once
// Helpers shared by medai's tests: temp folders, the shared data folder, synthetic images,
// running the CLI and python3-torch reference scripts.
#include <gtest/gtest.h>

#include <filesystem>
#include <opencv2/core.hpp>
#include <set>
#include <string>
#include <vector>

namespace medai::test {

// A fresh folder removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// ../shared/data (or $MEDAI_SHARED_DATA); empty when absent.
std::filesystem::path shared_data();
// Skips the test with a message when the shared data folder (or a file in it) is absent.
#define MEDAI_REQUIRE_DATA(rel)                                                                  \
  do {                                                                                           \
    if (!std::filesystem::exists(::medai::test::shared_data() / (rel)))                          \
      GTEST_SKIP() << "shared data missing: " << (::medai::test::shared_data() / (rel)).string() \
                   << " (set MEDAI_SHARED_DATA)";                                                \
  } while (0)

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};
// Runs a shell command, capturing stdout and stderr.
CommandResult run_command(const std::string& command);
// The medai binary under test ($MEDAI_BIN, else the one this build made).
std::string medai_bin();
// Runs the medai binary ($MEDAI_BIN) with the given arguments (already quoted where needed).
CommandResult run_medai(const std::string& args);
std::string quote(const std::filesystem::path& p);
// dciodvfy's "Error" lines for a DICOM file (Debian dicom3tools, an independent validator).
std::set<std::string> dciodvfy_errors(const std::filesystem::path& file);
// Starts medai with `args` in the background and kill -9s it `delay_ms` after `file` appears
// (a checkpoint, say); returns once the process is gone. False when `file` never appeared
// within `timeout_s`.
bool run_medai_and_kill_after(const std::string& args, const std::filesystem::path& file, int delay_ms,
                              int timeout_s = 120);
// /usr/bin/python3 with python3-torch, when installed.
bool have_python_torch();
std::string python();

void write_text(const std::filesystem::path& p, const std::string& text);
std::string read_text(const std::filesystem::path& p);
// Grey 8-bit noise image with a bright square in one quadrant (0 TL, 1 TR, 2 BL, 3 BR), or none
// (-1); `hollow` draws only the square's outline (an equally bright distractor).
cv::Mat quadrant_image(int size, int quadrant, uint64_t seed, bool hollow = false);

}  // namespace medai::test
