// Segmentation collections: both layouts, masks checked against their images, grouped splits.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "medai/core/error.h"
#include "medai/data/seg_dataset.h"
#include "support/test_support.h"

namespace medai::data {
namespace {

namespace fs = std::filesystem;

void write_pair(const fs::path& dir, const std::string& name, int size = 16, int mask_size = 16) {
  fs::create_directories(dir / "images");
  fs::create_directories(dir / "masks");
  cv::Mat im(size, size, CV_8UC3, cv::Scalar(10, 20, 30)), m = cv::Mat::zeros(mask_size, mask_size, CV_8U);
  im(cv::Rect(2, 2, 4, 4)).setTo(cv::Scalar(200, 200, 200));
  m(cv::Rect(2, 2, 4, 4)).setTo(255);
  cv::imwrite((dir / "images" / name).string(), im);
  cv::imwrite((dir / "masks" / name).string(), m);
}

TEST(SegDataset, FoldersOfEqualNamesAndImagesScaledToUnitRange) {
  test::TempDir dir;
  write_pair(dir.path(), "a.png");
  write_pair(dir.path(), "b.png");
  const auto ds = load_seg_dataset(dir.path());
  ASSERT_EQ(ds.samples.size(), 2u);
  const auto im = read_seg_image(ds.samples[0].image, ds.samples[0].mask);
  EXPECT_EQ(im.width, 16);
  EXPECT_EQ(im.pixels.size(), 3u * 16 * 16);
  EXPECT_FLOAT_EQ(*std::max_element(im.pixels.begin(), im.pixels.end()), 1.0f);
  EXPECT_FLOAT_EQ(*std::min_element(im.pixels.begin(), im.pixels.end()), 0.0f);
  int fg = 0;
  for (auto v : im.mask) fg += v;
  EXPECT_EQ(fg, 16);
  EXPECT_EQ(im.mask[3 * 16 + 3], 1);
  EXPECT_EQ(ds.fingerprint().size(), 64u);
}

TEST(SegDataset, ClearErrorsForMissingMasksAndSizeMismatches) {
  test::TempDir dir;
  write_pair(dir.path(), "a.png", 16, 8);
  const auto ds = load_seg_dataset(dir.path());
  try {
    read_seg_image(ds.samples[0].image, ds.samples[0].mask);
    FAIL() << "a mask of another size was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("8x8"), std::string::npos) << e.what();
  }
  fs::remove(dir / "masks" / "a.png");
  EXPECT_THROW(load_seg_dataset(dir.path()), Error);
  test::TempDir empty;
  EXPECT_THROW(load_seg_dataset(empty.path()), Error);
}

TEST(SegDataset, IndexGroupsStayOnOneSideAndEveryStratumGivesValidation) {
  test::TempDir dir;
  std::string csv = "path,mask_path,patient_id,modality\n";
  for (int i = 0; i < 24; ++i) {
    const std::string n = "im" + std::to_string(i) + ".png";
    write_pair(dir.path(), n);
    csv += "images/" + n + ",masks/" + n + ",p" + std::to_string(i / 3) + "," + (i < 12 ? "fluo" : "bright") + "\n";
  }
  test::write_text(dir / "index.csv", csv);
  const auto ds = load_seg_dataset(dir.path());
  ASSERT_EQ(ds.samples.size(), 24u);
  EXPECT_EQ(ds.samples[5].group_id, "p1");
  EXPECT_EQ(ds.samples[5].columns.at("modality"), "fluo");
  const auto split = split_seg_dataset(ds, 0.25, 3);
  EXPECT_EQ(split.train.size() + split.validation.size(), 24u);
  std::map<std::string, int> side;  // group -> 1 train, 2 validation
  for (size_t r : split.train) side[ds.samples[r].group_id] |= 1;
  for (size_t r : split.validation) side[ds.samples[r].group_id] |= 2;
  for (const auto& [g, s] : side) EXPECT_NE(s, 3) << g << " is on both sides";
  int fluo = 0, bright = 0;
  for (size_t r : split.validation) (ds.samples[r].columns.at("modality") == "fluo" ? fluo : bright)++;
  EXPECT_GT(fluo, 0);
  EXPECT_GT(bright, 0);
  test::write_text(dir / "index.csv", "path,mask_path\nimages/none.png,masks/im0.png\n");
  EXPECT_THROW(load_seg_dataset(dir.path()), Error);
}

}  // namespace
}  // namespace medai::data
