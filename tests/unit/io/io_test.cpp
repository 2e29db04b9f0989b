#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "medai/core/error.h"
#include "medai/io/csv.h"
#include "medai/io/image.h"
#include "medai/io/plot.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using namespace medai;

TEST(PngReader, ReadsEightBitExactlyAndScalesToUnitRange) {
  test::TempDir dir;
  cv::Mat m(3, 4, CV_8U);
  for (int i = 0; i < 12; ++i) m.data[i] = static_cast<uint8_t>(i * 20);
  io::write_png(dir / "a.png", m);
  io::Image img = io::read_image(dir / "a.png");
  ASSERT_EQ(img.width, 4);
  ASSERT_EQ(img.height, 3);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(img.pixels[i], i * 20);
  cv::Mat d = io::display_frame(img);
  EXPECT_NEAR(d.at<float>(0, 0), 0.0f, 1e-3);
  EXPECT_NEAR(d.at<float>(2, 3), 220.0f / 255.0f, 3e-3);
}

TEST(PngReader, ReadsSixteenBitExactly) {
  test::TempDir dir;
  cv::Mat m(2, 2, CV_16U);
  m.at<uint16_t>(0, 0) = 0;
  m.at<uint16_t>(0, 1) = 1000;
  m.at<uint16_t>(1, 0) = 40000;
  m.at<uint16_t>(1, 1) = 65535;
  io::write_png(dir / "b.png", m);
  io::Image img = io::read_image(dir / "b.png");
  EXPECT_EQ(img.meta["bit_depth"], "16");
  EXPECT_EQ(img.pixels, (std::vector<float>{0, 1000, 40000, 65535}));
  EXPECT_NEAR(io::display_frame(img).at<float>(1, 1), 1.0f, 1e-4);
}

TEST(PngReader, CorruptAndTruncatedFilesGiveOneClearError) {
  test::TempDir dir;
  cv::Mat m = test::quadrant_image(64, 1, 3);
  io::write_png(dir / "ok.png", m);
  std::string bytes = test::read_text(dir / "ok.png");
  test::write_text(dir / "cut.png", bytes.substr(0, bytes.size() / 2));
  std::string garbled = bytes;
  for (size_t i = 60; i < garbled.size() - 20; i += 7) garbled[i] ^= 0x5a;
  test::write_text(dir / "garbled.png", garbled);
  for (const char* name : {"cut.png", "garbled.png"}) {
    try {
      io::read_image(dir / name);
      ADD_FAILURE() << name;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
}

TEST(PngReader, RefusesADecompressionBombBeforeAllocating) {
  // A valid PNG header declaring 60000 x 60000 pixels with almost no data.
  test::TempDir dir;
  cv::Mat small(1, 1, CV_8U, cv::Scalar(0));
  io::write_png(dir / "s.png", small);
  std::string b = test::read_text(dir / "s.png");
  auto put32 = [&](size_t at, uint32_t v) {
    for (int k = 0; k < 4; ++k) b[at + k] = static_cast<char>(v >> (24 - 8 * k));
  };
  put32(16, 60000);
  put32(20, 60000);
  test::write_text(dir / "bomb.png", b);
  try {
    io::read_image(dir / "bomb.png");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bomb.png"), std::string::npos) << e.what();
  }
}

TEST(JpegReader, ReadsGreyJpegAndRejectsGarbage) {
  test::TempDir dir;
  cv::Mat m = test::quadrant_image(32, 0, 1);
  cv::imwrite((dir / "x.jpg").string(), m);
  io::Image img = io::read_image(dir / "x.jpg");
  EXPECT_EQ(img.format, "jpeg");
  EXPECT_EQ(img.width, 32);
  EXPECT_EQ(img.channels, 1);
  test::write_text(dir / "bad.jpg", std::string("\xFF\xD8\xFF\xE0 garbage", 12));
  EXPECT_THROW(io::read_image(dir / "bad.jpg"), Error);
}

TEST(ImageReader, UnknownFormatAndMissingFileAreDistinctErrors) {
  test::TempDir dir;
  test::write_text(dir / "x.bmp", "BM....");
  try {
    io::read_image(dir / "x.bmp");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unsupported);
  }
  try {
    io::read_image(dir / "nope.png");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::NotFound);
  }
}

TEST(DisplayFrame, AppliesTheDicomLinearWindowFunction) {
  io::Image img;
  img.width = 5;
  img.height = 1;
  img.pixels = {-1000, 0, 40, 80, 1000};
  img.window = io::Window{40, 80};  // c - 0.5 -+ (w - 1) / 2 = [0, 79]
  cv::Mat d = io::display_frame(img);
  EXPECT_FLOAT_EQ(d.at<float>(0, 0), 0.0f);
  EXPECT_FLOAT_EQ(d.at<float>(0, 1), 0.0f);
  EXPECT_NEAR(d.at<float>(0, 2), (40 - 39.5) / 79.0 + 0.5, 1e-6);
  EXPECT_FLOAT_EQ(d.at<float>(0, 4), 1.0f);
}

TEST(Csv, ParsesQuotesCommasAndCrlf) {
  auto t = io::parse_csv("path,label\r\n\"a,b.png\",X\r\n\"say \"\"hi\"\"\",Y\r\n", "mem.csv");
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][0], "a,b.png");
  EXPECT_EQ(t.rows[1][0], "say \"hi\"");
  EXPECT_EQ(t.column("label"), 1u);
  try {
    t.column("patient");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mem.csv"), std::string::npos);
  }
  EXPECT_THROW(io::parse_csv("a,b\n1,2,3\n", "bad.csv"), Error);
  EXPECT_EQ(io::csv_escape("x,y"), "\"x,y\"");
}

TEST(Plot, WritesAPngWithTheRequestedPanels) {
  test::TempDir dir;
  io::PlotPanel p{"t", "x", "y"};
  p.series.push_back({"s", {0, 1, 2}, {1, 0.5, 0.2}});
  io::save_plot(dir / "p.png", {p, p}, 300, 200);
  cv::Mat m = cv::imread((dir / "p.png").string());
  EXPECT_EQ(m.cols, 600);
  EXPECT_EQ(m.rows, 200);
}

TEST(DisplayFrame, AppliesAVoiLutBeforeAnyWindow) {
  io::Image img;
  img.width = 4;
  img.height = 1;
  img.pixels = {-10, 100, 101, 500};
  img.window = io::Window{0, 10};  // must be ignored: the LUT takes precedence
  io::DisplayLut lut;
  lut.first_mapped = 100;  // values below map to entry 0, above to the last entry
  lut.bits = 8;
  lut.table = {0, 51, 255};
  img.lut = lut;
  cv::Mat d = io::display_frame(img);
  EXPECT_FLOAT_EQ(d.at<float>(0, 0), 0.0f);
  EXPECT_FLOAT_EQ(d.at<float>(0, 1), 0.0f);
  EXPECT_FLOAT_EQ(d.at<float>(0, 2), 51.0f / 255.0f);
  EXPECT_FLOAT_EQ(d.at<float>(0, 3), 1.0f);
}
