// Files whose headers lie or hold absurd values: each is refused with an error naming the file
// and the field (or, where a standard fallback exists, decoded with a warning naming the field);
// nothing is allocated from an unchecked declared size.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>

#include "medai/core/error.h"
#include "medai/io/dicom.h"
#include "medai/io/image.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using namespace medai;

namespace {

// A copy of a shared DICOM file with tags changed by DCMTK's dcmodify (-i inserts or replaces).
fs::path modified(const test::TempDir& dir, const std::string& source, const std::string& name,
                  const std::vector<std::string>& edits) {
  const fs::path out = dir / name;
  fs::copy_file(test::shared_data() / "dicom" / source, out);
  std::string cmd = "dcmodify -nb -ie";
  for (const auto& e : edits) cmd += " -i " + test::quote(e);
  auto r = test::run_command(cmd + " " + test::quote(out));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not a medai::Error: ") + e.what();
  }
  return "no error";
}

void expect_refused(const fs::path& file, const std::string& field) {
  const std::string e = error_of([&] { io::read_image(file); });
  EXPECT_NE(e.find(file.string()), std::string::npos) << e;
  EXPECT_NE(e.find(field), std::string::npos) << e;
}

}  // namespace

TEST(HostileDicom, HeaderValuesThatMakePixelsMeaninglessAreRefusedNamingTheField) {
  MEDAI_REQUIRE_DATA("dicom/CT_small.dcm");
  if (test::run_command("dcmodify --version").exit_code != 0) GTEST_SKIP() << "dcmodify (dcmtk) missing";
  test::TempDir dir;
  expect_refused(modified(dir, "CT_small.dcm", "bs0.dcm", {"(0028,0101)=0"}), "BitsStored");
  expect_refused(modified(dir, "CT_small.dcm", "bs17.dcm", {"(0028,0101)=17"}), "BitsStored");
  expect_refused(modified(dir, "CT_small.dcm", "slope.dcm", {"(0028,1053)=1e300"}), "RescaleSlope");
  expect_refused(modified(dir, "CT_small.dcm", "slope0.dcm", {"(0028,1053)=0"}), "RescaleSlope");
  expect_refused(modified(dir, "CT_small.dcm", "pr.dcm", {"(0028,0103)=7"}), "PixelRepresentation");
  // A VOI LUT whose descriptor asks for 40 bits per entry (1 << 40 was undefined behaviour).
  expect_refused(modified(dir, "CT_small.dcm", "lut.dcm",
                          {"(0028,3010)[0].(0028,3002)=4\\0\\40", "(0028,3010)[0].(0028,3006)=0\\1\\2\\3"}),
                 "LUTDescriptor");
  expect_refused(modified(dir, "CT_small.dcm", "lutn.dcm",
                          {"(0028,3010)[0].(0028,3002)=9\\0\\16", "(0028,3010)[0].(0028,3006)=0\\1\\2\\3"}),
                 "LUTDescriptor");
}

TEST(HostileDicom, AnUnusableWindowIsIgnoredWithAWarningNamingIt) {
  MEDAI_REQUIRE_DATA("dicom/CT_small.dcm");
  if (test::run_command("dcmodify --version").exit_code != 0) GTEST_SKIP() << "dcmodify (dcmtk) missing";
  test::TempDir dir;
  const fs::path f = modified(dir, "CT_small.dcm", "win.dcm", {"(0028,1050)=40", "(0028,1051)=0"});
  io::Image img = io::read_image(f);
  EXPECT_FALSE(img.window.has_value());
  ASSERT_EQ(img.warnings.size(), 1u);
  EXPECT_NE(img.warnings[0].find("WindowWidth"), std::string::npos) << img.warnings[0];
  EXPECT_TRUE(io::read_image(test::shared_data() / "dicom" / "CT_small.dcm").warnings.empty());
}

TEST(HostileDicom, SizesAreCheckedBeforeDecodingIncludingSamplesAndJpeg2000Headers) {
  MEDAI_REQUIRE_DATA("dicom/MR_small_jp2klossless.dcm");
  if (test::run_command("dcmodify --version").exit_code != 0) GTEST_SKIP() << "dcmodify (dcmtk) missing";
  test::TempDir dir;
  // 64 x 64 declared for a codestream that holds another size: refused from the J2K header.
  const std::string e =
      error_of([&] { io::read_image(modified(dir, "MR_small_jp2klossless.dcm", "j2k.dcm", {"(0028,0010)=32"})); });
  EXPECT_NE(e.find("JPEG 2000 codestream is"), std::string::npos) << e;
  // Rows x Columns x Frames within the pixel limit, but not once samples per pixel count.
  const std::string big = error_of([&] {
    io::read_image(modified(dir, "SC_rgb_rle_2frame.dcm", "big.dcm", {"(0028,0010)=5000", "(0028,0011)=5000"}));
  });
  EXPECT_NE(big.find("too large"), std::string::npos) << big;
}

TEST(HostileJpeg, AnAbsurdDeclaredSizeGetsMedaisOwnErrorBeforeDecoding) {
  test::TempDir dir;
  // A minimal JPEG: SOI, a baseline frame header declaring 60000 x 60000 x 3, then EOI.
  std::string j = "\xFF\xD8\xFF\xC0";
  j += std::string("\x00\x11\x08\xEA\x60\xEA\x60\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01", 17);
  j += "\xFF\xD9";
  test::write_text(dir / "huge.jpg", j);
  const std::string e = error_of([&] { io::read_image(dir / "huge.jpg"); });
  EXPECT_NE(e.find("huge.jpg"), std::string::npos) << e;
  EXPECT_NE(e.find("60000x60000"), std::string::npos) << e;
  test::write_text(dir / "nosof.jpg", std::string("\xFF\xD8\xFF\xD9", 4));
  EXPECT_NE(error_of([&] { io::read_image(dir / "nosof.jpg"); }).find("no frame header"), std::string::npos);
}

namespace {
std::string nifti_header(int16_t dims[8], float vox_offset, int16_t datatype = 2) {
  std::string h(352, '\0');
  const int32_t size = 348;
  std::memcpy(&h[0], &size, 4);
  std::memcpy(&h[40], dims, 16);
  std::memcpy(&h[70], &datatype, 2);
  std::memcpy(&h[108], &vox_offset, 4);
  std::memcpy(&h[344], "n+1\0", 4);
  return h;
}
}  // namespace

TEST(HostileNifti, OverflowingDimsAndBadOffsetsAreRefusedNamingTheField) {
  test::TempDir dir;
  int16_t huge[8] = {7, 32767, 32767, 32767, 32767, 32767, 32767, 32767};  // product overflows int64
  test::write_text(dir / "huge.nii", nifti_header(huge, 352) + std::string(64, '\0'));
  EXPECT_NE(error_of([&] { io::read_image(dir / "huge.nii"); }).find("dim[]"), std::string::npos);
  int16_t small[8] = {3, 4, 4, 2, 1, 1, 1, 1};
  test::write_text(dir / "nan.nii", nifti_header(small, std::nanf("")) + std::string(64, '\0'));
  EXPECT_NE(error_of([&] { io::read_image(dir / "nan.nii"); }).find("vox_offset"), std::string::npos);
  test::write_text(dir / "neg.nii", nifti_header(small, -1e9f) + std::string(64, '\0'));
  EXPECT_NE(error_of([&] { io::read_image(dir / "neg.nii"); }).find("vox_offset"), std::string::npos);
  test::write_text(dir / "ok.nii", nifti_header(small, 352) + std::string(32, '\x07'));
  EXPECT_EQ(io::read_image(dir / "ok.nii").frames, 2);
}
