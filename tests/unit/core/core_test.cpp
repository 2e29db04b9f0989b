#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/core/sha256.h"
#include "medai/train/schedule.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using namespace medai;

TEST(Sha256, MatchesFipsTestVectors) {
  EXPECT_EQ(core::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(core::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(core::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string million(1000000, 'a');
  EXPECT_EQ(core::sha256_hex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalUpdatesEqualOneShot) {
  core::Sha256 h;
  std::string s = "the quick brown fox jumps over the lazy dog, many times over";
  for (char c : s) h.update(&c, 1);
  EXPECT_EQ(h.hex_digest(), core::sha256_hex(s));
}

TEST(ErrorTable, MapsEveryCodeToDistinctNonZeroExitAndHttpStatus) {
  EXPECT_EQ(exit_status(ErrorCode::InvalidInput), 2);
  EXPECT_EQ(http_status(ErrorCode::InvalidInput), 400);
  EXPECT_EQ(http_status(ErrorCode::NotFound), 404);
  EXPECT_EQ(http_status(ErrorCode::Unsupported), 415);
  EXPECT_EQ(error_code_name(ErrorCode::Dicom), "dicom_error");
  for (auto c : {ErrorCode::InvalidInput, ErrorCode::NotFound, ErrorCode::Io, ErrorCode::Dicom, ErrorCode::Unsupported,
                 ErrorCode::Internal})
    EXPECT_GT(exit_status(c), 1);
}

TEST(AtomicWrite, ReplacesContentAndLeavesNoTempFiles) {
  test::TempDir dir;
  core::write_file_atomic(dir / "a.txt", "one");
  core::write_file_atomic(dir / "a.txt", "two");
  EXPECT_EQ(core::read_file(dir / "a.txt"), "two");
  int files = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1);
}

TEST(AtomicWrite, FailedWriterKeepsTheOldFileIntact) {
  test::TempDir dir;
  core::write_file_atomic(dir / "card.json", "old");
  EXPECT_THROW(core::write_atomic_with(dir / "card.json",
                                       [](const fs::path& tmp) {
                                         test::write_text(tmp, "half");
                                         throw Error(ErrorCode::Io, "disk full");
                                       }),
               Error);
  EXPECT_EQ(core::read_file(dir / "card.json"), "old");
  int files = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1);
}

TEST(RunFolder, MissingOrDamagedCardGivesClearErrors) {
  test::TempDir dir;
  try {
    core::read_model_card(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::NotFound);
    EXPECT_NE(std::string(e.what()).find("model_card.json"), std::string::npos);
  }
  test::write_text(dir / "model_card.json", "{ not json");
  try {
    core::read_model_card(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos);
  }
}

// Fuzzing found a card with a boolean where a string belongs escaping as a json type_error, and a
// client's field name with invalid UTF-8 making the error answer itself throw.
TEST(JsonFields, NameThePathAndTheReasonAndInvalidUtf8IsReplaced) {
  const auto doc = nlohmann::json::parse(R"({"a": {"n": 7, "x": 0.5, "s": "hi", "b": true}, "t": true})");
  EXPECT_EQ(core::json_int(doc, "a.n", "card", 1, 10), 7);
  EXPECT_DOUBLE_EQ(core::json_number(doc, "a.x", "card", 0, 1), 0.5);
  EXPECT_EQ(core::json_string(doc, "a.s", "card"), "hi");
  EXPECT_TRUE(core::json_bool(doc, "a.b", "card", false));
  EXPECT_FALSE(core::json_bool(doc, "a.none", "card", false));
  auto refused = [&](auto read, const std::string& says) {
    try {
      read();
      ADD_FAILURE() << "accepted; expected: " << says;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  };
  refused([&] { core::json_int(doc, "a.n", "card", 8, 10); }, "card: 'a.n' is 7, outside 8..10");
  refused([&] { core::json_int(doc, "a.x", "card", 0, 1); }, "'a.x' must be an integer");
  refused([&] { core::json_number(doc, "a.s", "card", 0, 1); }, "'a.s' must be a number");
  refused([&] { core::json_string(doc, "t", "card"); }, "'t' must be a string");
  refused([&] { core::json_string(doc, "t.deeper", "card"); }, "'t.deeper' is missing");
  refused([&] { core::json_bool(doc, "a.n", "card", true); }, "'a.n' must be true or false");
  const nlohmann::json bad = {{"field", std::string("x\x9b")}};
  EXPECT_THROW(bad.dump(), nlohmann::json::exception);
  EXPECT_EQ(core::dump_json(bad), "{\"field\":\"x\xEF\xBF\xBD\"}");
}

TEST(Schedule, CosineWarmsUpThenDecaysToTheFloor) {
  train::Schedule s{train::ScheduleKind::Cosine, 1e-3, 100, 10, 0.01};
  EXPECT_NEAR(s.lr_at(0), 1e-4, 1e-12);
  EXPECT_NEAR(s.lr_at(9), 1e-3, 1e-12);
  EXPECT_NEAR(s.lr_at(10), 1e-3, 1e-12);
  EXPECT_NEAR(s.lr_at(55), 1e-5 + 0.5 * (1e-3 - 1e-5), 1e-9);  // half way through the decay
  EXPECT_NEAR(s.lr_at(100), 1e-5, 1e-12);
  for (int i = 11; i < 100; ++i) EXPECT_LE(s.lr_at(i), s.lr_at(i - 1) + 1e-15);
}

TEST(Schedule, OneCyclePeaksAtThirtyPercent) {
  train::Schedule s{train::ScheduleKind::OneCycle, 1e-3, 100, 0, 0.01};
  EXPECT_NEAR(s.lr_at(0), 1e-3 / 25, 1e-12);
  EXPECT_NEAR(s.lr_at(30), 1e-3, 1e-12);
  EXPECT_LT(s.lr_at(99), 2e-5);
  EXPECT_THROW(train::parse_schedule("linear"), Error);
}
