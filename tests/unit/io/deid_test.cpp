#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/io/csv.h"
#include "medai/io/dicom.h"
#include "medai/io/dicom_deid.h"
#include "support/test_support.h"

using namespace medai;

namespace {
// Every (tag, value) pair of a dump, flattened (dcmdump from Debian's dcmtk).
std::string dump(const std::filesystem::path& f) { return test::run_command("dcmdump +L " + test::quote(f)).out; }
}  // namespace

TEST(DicomDeid, NoIdentifyingValueSurvivesInAnySharedFileAndPixelsAreUnchanged) {
  MEDAI_REQUIRE_DATA("dicom/manifest.csv");
  const auto dir = test::shared_data() / "dicom";
  test::TempDir out;
  auto manifest = io::read_csv(dir / "manifest.csv");
  int checked = 0;
  for (const auto& row : manifest.rows) {
    const auto in = dir / row[manifest.column("file")];
    SCOPED_TRACE(in.filename().string());
    const auto deid = out / in.filename();
    auto r = io::deidentify_dicom_file(in, deid, "a-test-secret");
    const std::string before = dump(in), after = dump(deid);
    ASSERT_FALSE(after.empty());
    // Values that identify people, places or the study instance must be gone.
    for (const std::string tag : {"(0010,0010)", "(0010,0020)", "(0010,0030)", "(0008,0080)", "(0008,0090)",
                                  "(0008,1050)", "(0020,000d)", "(0008,0018)"}) {
      const auto pos = before.find(tag);
      if (pos == std::string::npos) continue;
      const std::string line = before.substr(pos, before.find('\n', pos) - pos);
      const auto open = line.find('['), close = line.rfind(']');
      if (open == std::string::npos || close == std::string::npos || close - open <= 2) continue;  // no value
      const std::string value = line.substr(open, close - open + 1);
      EXPECT_EQ(after.find(value), std::string::npos) << tag << " value " << value << " still present";
    }
    EXPECT_NE(after.find("(0012,0062) CS [YES]"), std::string::npos);
    // No private tag (odd group) remains.
    for (size_t p = after.find("\n("); p != std::string::npos; p = after.find("\n(", p + 1)) {
      const int group = std::stoi(after.substr(p + 2, 4), nullptr, 16);
      EXPECT_EQ(group % 2, 0) << after.substr(p + 1, 40);
    }
    // Pixels: the decoded stored values are identical.
    if (row[manifest.column("rows")].empty()) continue;  // the ECG has no image
    auto a = io::read_dicom(in), b = io::read_dicom(deid);
    EXPECT_EQ(a.stored, b.stored);
    EXPECT_EQ(a.transfer_syntax_uid, b.transfer_syntax_uid);
    ++checked;
    (void)r;
  }
  EXPECT_GE(checked, 19);
}

TEST(DicomDeid, UidsAreRemappedConsistentlyPerSecret) {
  MEDAI_REQUIRE_DATA("dicom/MR_small.dcm");
  const auto in = test::shared_data() / "dicom" / "MR_small.dcm";
  const std::string bytes = core::read_file(in);
  io::DeidReport r1, r2, r3;
  const std::string a = io::deidentify_dicom_bytes(bytes, "a", "secret-one", &r1);
  const std::string b = io::deidentify_dicom_bytes(bytes, "b", "secret-one", &r2);
  const std::string c = io::deidentify_dicom_bytes(bytes, "c", "secret-two", &r3);
  EXPECT_EQ(a, b);  // same secret: same pseudonym and UIDs
  EXPECT_NE(a, c);
  EXPECT_EQ(r1.pseudonym, r2.pseudonym);
  EXPECT_NE(r1.pseudonym, r3.pseudonym);
  EXPECT_GT(r1.uids_remapped, 2);
  EXPECT_THROW(io::deidentify_dicom_bytes("not a dicom file at all", "x", "secret-one"), Error);
  EXPECT_THROW(io::deidentify_dicom_bytes(bytes.substr(0, 400), "x", "secret-one"), Error);
  EXPECT_THROW(io::deidentify_dicom_bytes(bytes, "x", "short"), Error);
  EXPECT_TRUE(io::deid_is_identifying_tag(0x00100010));
}

TEST(DicomDeid, ADeidentifiedFileHasNoValidatorErrorItsOriginalDidNotHave) {
  MEDAI_REQUIRE_DATA("dicom/manifest.csv");
  ASSERT_EQ(test::run_command("command -v dciodvfy").exit_code, 0)
      << "dciodvfy (Debian dicom3tools) missing: scripts/install-deps installs it";
  const auto dir = test::shared_data() / "dicom";
  test::TempDir out;
  int checked = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".dcm") continue;
    SCOPED_TRACE(e.path().filename().string());
    const auto deid = out / e.path().filename();
    io::deidentify_dicom_file(e.path(), deid, "a-test-secret");
    const auto before = test::dciodvfy_errors(e.path());
    for (const auto& err : test::dciodvfy_errors(deid)) EXPECT_TRUE(before.count(err)) << "new: " << err;
    ++checked;
  }
  EXPECT_GE(checked, 20);
}
