// Every file in shared/data/dicom decodes to the pixels pydicom/GDCM decoded (manifest.csv).
#include <gtest/gtest.h>

#include <cstring>
#include <regex>

#include "medai/core/error.h"
#include "medai/core/sha256.h"
#include "medai/io/csv.h"
#include "medai/io/dicom.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using namespace medai;

namespace {
struct Stats {
  double min = 1e300, max = -1e300, sum = 0;
};
Stats stored_stats(const io::DicomPixels& d) {
  Stats s;
  const int step = d.bits_allocated == 1 ? 1 : d.bits_allocated / 8;
  const bool sgn = d.pixel_representation == 1;
  for (size_t i = 0; i < d.stored.size(); i += step) {
    double v = 0;
    const uint8_t* p = &d.stored[i];
    if (step == 1) v = sgn ? static_cast<int8_t>(*p) : *p;
    else if (step == 2) {
      uint16_t u;
      std::memcpy(&u, p, 2);
      v = sgn ? static_cast<int16_t>(u) : u;
    } else {
      uint32_t u;
      std::memcpy(&u, p, 4);
      v = sgn ? static_cast<int32_t>(u) : u;
    }
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
    s.sum += v;
  }
  return s;
}
// A tag's value as dcmdump (DCMTK's own tool, an independent read) prints it.
std::string dcmdump_value(const fs::path& file, const std::string& tag) {
  auto r = test::run_command("dcmdump +P " + tag + " " + test::quote(file));
  std::smatch m;
  static const std::regex value(R"(\[([^\]]*)\])");
  if (r.exit_code == 0 && std::regex_search(r.out, m, value)) return m[1];
  return {};
}
}  // namespace

TEST(DicomReader, DecodesEveryManifestFileToTheReferencePixels) {
  MEDAI_REQUIRE_DATA("dicom/manifest.csv");
  const fs::path dir = test::shared_data() / "dicom";
  io::CsvTable t = io::read_csv(dir / "manifest.csv");
  int checked_hash = 0, checked_lossy = 0, no_pixels = 0;
  for (const auto& row : t.rows) {
    const std::string file = row[t.column("file")];
    SCOPED_TRACE(file + " (" + row[t.column("transfer_syntax_name")] + ")");
    if (row[t.column("rows")].empty()) {  // e.g. the ECG waveform: no image
      try {
        io::read_dicom(dir / file);
        ADD_FAILURE() << "expected an error for an object without pixel data";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(file), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("no image pixel data"), std::string::npos) << e.what();
      }
      ++no_pixels;
      continue;
    }
    io::DicomPixels d = io::read_dicom(dir / file);
    EXPECT_EQ(d.image.height, std::stoi(row[t.column("rows")]));
    EXPECT_EQ(d.image.width, std::stoi(row[t.column("columns")]));
    EXPECT_EQ(d.image.frames, std::stoi(row[t.column("frames")]));
    EXPECT_EQ(d.image.channels, std::stoi(row[t.column("samples_per_pixel")]));
    EXPECT_EQ(d.transfer_syntax_uid, row[t.column("transfer_syntax_uid")]);
    Stats s = stored_stats(d);
    const std::string hash = row[t.column("px_sha256_le")];
    if (!hash.empty()) {
      EXPECT_EQ(core::sha256_hex(d.stored.data(), d.stored.size()), hash);
      EXPECT_DOUBLE_EQ(s.sum, std::stod(row[t.column("px_sum")]));
      ++checked_hash;
    } else {  // lossy: decoders may differ by +-1 per sample
      EXPECT_NEAR(s.min, std::stod(row[t.column("px_min")]), 2.0);
      EXPECT_NEAR(s.max, std::stod(row[t.column("px_max")]), 2.0);
      double ref = std::stod(row[t.column("px_sum")]);
      EXPECT_NEAR(s.sum, ref, 0.005 * ref);
      ++checked_lossy;
    }
  }
  EXPECT_EQ(checked_hash + checked_lossy + no_pixels, 20);
  EXPECT_EQ(no_pixels, 1);
}

TEST(DicomReader, AllSixEncodingsOfTheSameMrImageAgree) {
  MEDAI_REQUIRE_DATA("dicom/MR_small.dcm");
  const fs::path dir = test::shared_data() / "dicom";
  auto ref = io::read_dicom(dir / "MR_small.dcm").image.pixels;
  for (const char* f : {"MR_small_implicit.dcm", "MR_small_bigendian.dcm", "MR_small_RLE.dcm",
                        "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"}) {
    SCOPED_TRACE(f);
    EXPECT_EQ(io::read_dicom(dir / f).image.pixels, ref);
  }
}

TEST(DicomReader, AppliesRescaleSlopeAndInterceptAsDcmdumpReadsThem) {
  MEDAI_REQUIRE_DATA("dicom/CT_small.dcm");
  fs::path f = test::shared_data() / "dicom" / "CT_small.dcm";
  std::string slope = dcmdump_value(f, "0028,1053"), intercept = dcmdump_value(f, "0028,1052");
  if (intercept.empty()) GTEST_SKIP() << "dcmdump not available to read the reference tags";
  io::DicomPixels d = io::read_dicom(f);
  double m = slope.empty() ? 1.0 : std::stod(slope), b = std::stod(intercept);
  int16_t first;
  std::memcpy(&first, d.stored.data(), 2);
  EXPECT_FLOAT_EQ(d.image.pixels[0], static_cast<float>(first * m + b));
  EXPECT_NE(b, 0.0) << "CT_small is expected to carry a non-zero intercept";
}

TEST(DicomReader, InvertsMonochrome1SoBoneIsBright) {
  MEDAI_REQUIRE_DATA("dicom/RG1_J2KI.dcm");
  io::Image img = io::read_dicom(test::shared_data() / "dicom" / "RG1_J2KI.dcm").image;
  EXPECT_TRUE(img.invert);
  EXPECT_EQ(img.meta["photometric"], "MONOCHROME1");
  cv::Mat shown = io::display_frame(img);
  img.invert = false;
  cv::Mat raw = io::display_frame(img);
  EXPECT_LT(cv::norm(shown - (1.0f - raw), cv::NORM_INF), 1e-6);
  // The lowest stored value (air in MONOCHROME1 is high) must display as the brightest after inversion.
  double lo, hi;
  cv::Point plo, phi;
  cv::minMaxLoc(raw, &lo, &hi, &plo, &phi);
  EXPECT_GT(shown.at<float>(plo), shown.at<float>(phi));
}

TEST(DicomReader, UsesTheVoiWindowWhenPresent) {
  MEDAI_REQUIRE_DATA("dicom/CT_small.dcm");
  fs::path dir = test::shared_data() / "dicom";
  int with_window = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".dcm") continue;
    std::string wc = dcmdump_value(e.path(), "0028,1050"), ww = dcmdump_value(e.path(), "0028,1051");
    if (wc.empty() || ww.empty()) continue;
    SCOPED_TRACE(e.path().filename().string());
    io::Image img = io::read_dicom(e.path()).image;
    ASSERT_TRUE(img.window.has_value());
    EXPECT_DOUBLE_EQ(img.window->center, std::stod(wc.substr(0, wc.find('\\'))));
    EXPECT_DOUBLE_EQ(img.window->width, std::stod(ww.substr(0, ww.find('\\'))));
    cv::Mat shown = io::display_frame(img);
    double lo, hi;
    cv::minMaxLoc(shown, &lo, &hi);
    EXPECT_GE(lo, 0.0);
    EXPECT_LE(hi, 1.0);
    ++with_window;
  }
  std::cout << "files with a VOI window: " << with_window << "\n";
}

TEST(DicomReader, RejectsTruncatedAndNonDicomFilesNamingThem) {
  MEDAI_REQUIRE_DATA("dicom/CT_small.dcm");
  test::TempDir dir;
  std::string bytes = test::read_text(test::shared_data() / "dicom" / "CT_small.dcm");
  test::write_text(dir / "cut.dcm", bytes.substr(0, bytes.size() / 2));
  test::write_text(dir / "notes.dcm", "this is a text file, not DICOM\n");
  for (const char* name : {"cut.dcm", "notes.dcm"}) {
    try {
      io::read_dicom(dir / name);
      ADD_FAILURE() << name << " should not decode";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Dicom) << e.what();
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}
