// Bad input: one clear error line naming the file and the reason, a non-zero exit, no crash,
// and nothing half-written.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "e2e_support.h"
#include "medai/io/image.h"

namespace fs = std::filesystem;
using namespace medai;

namespace {
// The error line: exactly one line starting with "error:", naming `what`.
void expect_clear_error(const test::CommandResult& r, const std::string& what, const std::string& reason) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_LT(r.exit_code, 128) << "crashed (signal)";
  int lines = 0;
  std::string line;
  std::istringstream in(r.err);
  std::string error_line;
  while (std::getline(in, line))
    if (line.rfind("error:", 0) == 0) {
      ++lines;
      error_line = line;
    }
  EXPECT_EQ(lines, 1) << r.err;
  EXPECT_NE(error_line.find(what), std::string::npos) << "error does not name " << what << ": " << error_line;
  EXPECT_NE(error_line.find(reason), std::string::npos) << "error does not say '" << reason << "': " << error_line;
}
fs::path copy_run(const fs::path& run, const fs::path& to) {
  fs::create_directories(to);
  for (const char* f : {"model.pt", "model_card.json"}) fs::copy_file(run / f, to / f);
  return to;
}
}  // namespace

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    run_ = test::trained_run();
    if (run_.empty()) GTEST_SKIP() << "shared chest X-ray data missing: " << test::shared_data();
  }
  fs::path run_;
  test::TempDir dir_;
};

TEST_F(BadInput, TruncatedAndNonDicomFilesAreRejectedByPredict) {
  std::string ct = test::read_text(test::shared_data() / "dicom" / "CT_small.dcm");
  test::write_text(dir_ / "cut.dcm", ct.substr(0, ct.size() / 2));
  test::write_text(dir_ / "report.dcm", "Patient report, not a DICOM file.\n");
  expect_clear_error(
      test::run_medai("image predict --model " + test::quote(run_) + " " + test::quote(dir_ / "cut.dcm")), "cut.dcm",
      "truncated");
  expect_clear_error(
      test::run_medai("image predict --model " + test::quote(run_) + " " + test::quote(dir_ / "report.dcm")),
      "report.dcm", "DICOM");
}

TEST_F(BadInput, CorruptPngIsRejectedAndExplainWritesNothing) {
  io::write_png(dir_ / "ok.png", test::quadrant_image(64, 0, 1));
  std::string b = test::read_text(dir_ / "ok.png");
  test::write_text(dir_ / "corrupt.png", b.substr(0, 40) + std::string(200, '\x13'));
  auto r = test::run_medai("image explain --model " + test::quote(run_) + " " + test::quote(dir_ / "corrupt.png") +
                           " --out " + test::quote(dir_ / "heat.png"));
  expect_clear_error(r, "corrupt.png", "corrupt PNG");
  EXPECT_FALSE(fs::exists(dir_ / "heat.png"));
}

TEST_F(BadInput, EmptyFolderAndMissingClassFolderStopTrainingBeforeWriting) {
  fs::create_directories(dir_ / "empty");
  auto r =
      test::run_medai("image train --data " + test::quote(dir_ / "empty") + " --out " + test::quote(dir_ / "run1"));
  expect_clear_error(r, "empty", "no images found");
  EXPECT_FALSE(fs::exists(dir_ / "run1"));
  fs::create_directories(dir_ / "one" / "NORMAL");
  io::write_png(dir_ / "one" / "NORMAL" / "IM-0001-0001.png", test::quadrant_image(64, -1, 2));
  r = test::run_medai("image train --data " + test::quote(dir_ / "one") + " --out " + test::quote(dir_ / "run2"));
  expect_clear_error(r, "one", "only class 'NORMAL'");
  EXPECT_FALSE(fs::exists(dir_ / "run2"));
}

TEST_F(BadInput, DamagedCheckpointIsNamed) {
  fs::path bad = copy_run(run_, dir_ / "damaged");
  std::string w = test::read_text(bad / "model.pt");
  test::write_text(bad / "model.pt", w.substr(0, w.size() / 3));
  fs::path png = test::shared_data() / "chest_xray_pneumonia/train/NORMAL/IM-0115-0001.png";
  expect_clear_error(test::run_medai("image predict --model " + test::quote(bad) + " " + test::quote(png)), "model.pt",
                     "checkpoint");
}

TEST_F(BadInput, CardFromADifferentArchitectureIsNamed) {
  fs::path bad = copy_run(run_, dir_ / "mismatch");
  auto card = nlohmann::json::parse(test::read_text(bad / "model_card.json"));
  card["architecture"] = "resnet34";
  test::write_text(bad / "model_card.json", card.dump());
  fs::path png = test::shared_data() / "chest_xray_pneumonia/train/NORMAL/IM-0115-0001.png";
  expect_clear_error(test::run_medai("image predict --model " + test::quote(bad) + " " + test::quote(png)), "model.pt",
                     "resnet34");
}

TEST_F(BadInput, WrongSizeIsRejectedBeforeAnyWork) {
  for (const char* size : {"8", "0", "5000"}) {
    SCOPED_TRACE(size);
    auto r = test::run_medai("image train --data " + test::quote(test::subset_dir() / "subset.csv") + " --out " +
                             test::quote(dir_ / "sized") + " --size " + size);
    expect_clear_error(r, "--size", "pixels");
    EXPECT_FALSE(fs::exists(dir_ / "sized" / "model_card.json"));
  }
}

TEST_F(BadInput, MissingModelFolderAndMissingFileAreNotFound) {
  auto r = test::run_medai("image predict --model " + test::quote(dir_ / "nothing") + " x.png");
  expect_clear_error(r, "nothing", "does not exist");
  EXPECT_EQ(r.exit_code, 3);
  r = test::run_medai("image predict --model " + test::quote(run_) + " " + test::quote(dir_ / "absent.png"));
  expect_clear_error(r, "absent.png", "no such file");
}
