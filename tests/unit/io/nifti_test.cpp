#include <gtest/gtest.h>
#include <zlib.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "medai/core/error.h"
#include "medai/io/image.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using namespace medai;

namespace {
// Sum/min/max computed by numpy from the raw bytes: an independent reading of the same file.
std::array<double, 3> numpy_stats(const fs::path& file, bool gz, int offset, const char* dtype) {
  std::string code = std::string("import numpy, gzip; d = ") + (gz ? "gzip.open" : "open") + "('" + file.string() +
                     "', 'rb').read(); a = numpy.frombuffer(d[" + std::to_string(offset) + ":], dtype='" + dtype +
                     "'); print(int(a.sum()), int(a.min()), int(a.max()))";
  auto r = test::run_command(test::python() + " -c \"" + code + "\"");
  std::array<double, 3> s{NAN, NAN, NAN};
  if (r.exit_code == 0) std::sscanf(r.out.c_str(), "%lf %lf %lf", &s[0], &s[1], &s[2]);
  return s;
}
}  // namespace

TEST(NiftiReader, ReadsBigEndianAnatomicalVolume) {
  MEDAI_REQUIRE_DATA("nifti/anatomical.nii");
  fs::path f = test::shared_data() / "nifti" / "anatomical.nii";
  io::Image img = io::read_image(f);
  EXPECT_EQ(img.format, "nifti");
  EXPECT_EQ(img.width, 33);
  EXPECT_EQ(img.height, 41);
  EXPECT_EQ(img.frames, 25);
  EXPECT_EQ(img.meta["byte_order"], "big");
  EXPECT_DOUBLE_EQ(img.spacing_x_mm, 2.0);
  auto ref = numpy_stats(f, false, 352, ">i2");
  if (std::isnan(ref[0])) GTEST_SKIP() << "numpy unavailable for the reference";
  EXPECT_DOUBLE_EQ(std::accumulate(img.pixels.begin(), img.pixels.end(), 0.0), ref[0]);
  EXPECT_FLOAT_EQ(*std::min_element(img.pixels.begin(), img.pixels.end()), ref[1]);
  EXPECT_FLOAT_EQ(*std::max_element(img.pixels.begin(), img.pixels.end()), ref[2]);
}

TEST(NiftiReader, ReadsGzippedLittleEndian4dVolume) {
  MEDAI_REQUIRE_DATA("nifti/example4d.nii.gz");
  fs::path f = test::shared_data() / "nifti" / "example4d.nii.gz";
  io::Image img = io::read_image(f);
  EXPECT_EQ(img.width, 128);
  EXPECT_EQ(img.height, 96);
  EXPECT_EQ(img.frames, 24 * 2);
  EXPECT_EQ(img.meta["volumes"], "2");
  EXPECT_EQ(img.meta["byte_order"], "little");
  EXPECT_NEAR(img.spacing_z_mm, 2.2, 1e-5);
  auto ref = numpy_stats(f, true, 416, "<i2");
  if (std::isnan(ref[0])) GTEST_SKIP() << "numpy unavailable for the reference";
  EXPECT_DOUBLE_EQ(std::accumulate(img.pixels.begin(), img.pixels.end(), 0.0), ref[0]);
  cv::Mat mid = io::display_frame(img);
  EXPECT_EQ(mid.rows, 96);
  EXPECT_EQ(mid.cols, 128);
}

TEST(NiftiReader, GzippedCopyReadsIdentically) {
  MEDAI_REQUIRE_DATA("nifti/anatomical.nii");
  test::TempDir dir;
  std::string raw = test::read_text(test::shared_data() / "nifti" / "anatomical.nii");
  gzFile g = gzopen((dir / "copy.nii.gz").c_str(), "wb");
  gzwrite(g, raw.data(), static_cast<unsigned>(raw.size()));
  gzclose(g);
  EXPECT_EQ(io::read_image(dir / "copy.nii.gz").pixels,
            io::read_image(test::shared_data() / "nifti" / "anatomical.nii").pixels);
}

TEST(NiftiReader, TruncatedVolumeIsAClearError) {
  MEDAI_REQUIRE_DATA("nifti/anatomical.nii");
  test::TempDir dir;
  std::string raw = test::read_text(test::shared_data() / "nifti" / "anatomical.nii");
  test::write_text(dir / "cut.nii", raw.substr(0, 2000));
  try {
    io::read_image(dir / "cut.nii");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cut.nii"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}
