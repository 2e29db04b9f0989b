// medai seg train | evaluate | predict on a slice of the nuclei set (DSB 2018).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "e2e_support.h"
#include "medai/io/csv.h"
#include "medai/io/dicom_seg.h"

namespace medai {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kNuclei = "nuclei_dsb2018";

fs::path test::write_nuclei_subset(const fs::path& dir, int per_modality) {
  const auto shared = test::shared_data() / kNuclei;
  const io::CsvTable index = io::read_csv(shared / "index.csv");
  const size_t cp = index.column("path"), cm = index.column("mask_path"), cmod = index.column("modality");
  std::map<std::string, int> taken;
  std::string csv = "path,mask_path,modality\n";
  for (const auto& row : index.rows)
    if (taken[row[cmod]]++ < per_modality)
      csv += (shared / row[cp]).string() + "," + (shared / row[cm]).string() + "," + row[cmod] + "\n";
  fs::create_directories(dir);
  test::write_text(dir / "index.csv", csv);
  return dir;
}

namespace {

TEST(SegCli, TrainsEvaluatesAndPredictsMasksWithTheOtsuBaselineBeside) {
  MEDAI_REQUIRE_DATA(kNuclei / "index.csv");
  test::TempDir dir;
  // 8 images of each modality, in an index of absolute paths with the modality column.
  const fs::path data = test::write_nuclei_subset(dir / "small", 8);
  const auto shared = test::shared_data() / kNuclei;
  const io::CsvTable index = io::read_csv(shared / "index.csv");
  const size_t cp = index.column("path");
  auto r = test::run_medai("seg train --data " + test::quote(data) + " --out " + test::quote(dir / "run") +
                           " --epochs 2 --crop 64 --tile 128 --width 4 --depth 3 --batch 4 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json card = json::parse(r.out);
  EXPECT_EQ(card["kind"], "segmenter");
  EXPECT_EQ(card["task"], "binary image segmentation");
  const json& v = card["metrics"]["validation"];
  EXPECT_EQ(v["n"].get<int>(), card["split"]["validation_images"].get<int>());
  EXPECT_TRUE(v.contains("baseline_otsu"));
  EXPECT_TRUE(v["by_group"].contains("fluorescence"));
  EXPECT_TRUE(fs::exists(dir / "run" / "curves.png"));
  EXPECT_EQ(card["standardise"], false);  // pixels in [0, 1] by default (--standardise measured no better)
  EXPECT_EQ(card["invert_bright"], true);

  // Per group of an index column.
  r = test::run_medai("seg evaluate --model " + test::quote(dir / "run") + " --data " + test::quote(data) +
                      " --group-col modality --per-image " + test::quote(dir / "per_image.csv") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json ev = json::parse(r.out);
  // One row per image; their Dice averages to the reported mean.
  const io::CsvTable per_image = io::read_csv(dir / "per_image.csv");
  ASSERT_EQ(per_image.rows.size(), 24u);
  EXPECT_EQ(per_image.header,
            (std::vector<std::string>{"path", "group", "dice", "iou", "instance_f1", "ap", "otsu_dice"}));
  double dice_sum = 0;
  for (const auto& row : per_image.rows) dice_sum += std::stod(row[per_image.column("dice")]);
  EXPECT_NEAR(dice_sum / 24, ev["dice"].get<double>(), 1e-5);
  for (const char* k : {"dice", "iou", "n", "instance_f1", "ap"}) EXPECT_TRUE(ev.contains(k)) << k;
  EXPECT_EQ(ev["n"], 24);
  EXPECT_GE(ev["dice"].get<double>(), 0.0);
  EXPECT_LE(ev["dice"].get<double>(), 1.0);
  EXPECT_EQ(ev["by_group"].size(), 3u);

  // Predict: a 0/255 mask of the image's size (tiled: 256 > tile 128) and an overlay.
  const fs::path image = shared / index.rows[0][cp];
  r = test::run_medai("seg predict --model " + test::quote(dir / "run") + " " + test::quote(image) + " --out " +
                      test::quote(dir / "mask.png") + " --overlay " + test::quote(dir / "overlay.png") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const cv::Mat mask = cv::imread((dir / "mask.png").string(), cv::IMREAD_UNCHANGED);
  const cv::Mat overlay = cv::imread((dir / "overlay.png").string(), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(mask.cols, 256);
  EXPECT_EQ(mask.channels(), 1);
  EXPECT_EQ(overlay.channels(), 3);
  for (int i = 0; i < static_cast<int>(mask.total()); ++i) ASSERT_TRUE(mask.data[i] == 0 || mask.data[i] == 255);
  EXPECT_TRUE(json::parse(r.out).contains("instances"));

  // A DICOM input: the mask as a DICOM SEG (--out *.dcm, or --dicom-seg beside the PNG) that
  // references the source, read back by medai's SEG reader and clean for dciodvfy.
  const fs::path ct = test::shared_data() / "dicom" / "CT_small.dcm";
  r = test::run_medai("seg predict --model " + test::quote(dir / "run") + " " + test::quote(ct) + " --out " +
                      test::quote(dir / "ct_mask.png") + " --dicom-seg " + test::quote(dir / "ct_seg.dcm") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["dicom_seg"], (dir / "ct_seg.dcm").string());
  const io::DicomSeg seg = io::read_dicom_seg(dir / "ct_seg.dcm");
  ASSERT_EQ(seg.frames.size(), 1u);
  EXPECT_EQ(seg.segments, std::vector<std::string>{"foreground"});
  EXPECT_EQ(seg.segment_algorithms[0], "medai U-Net");
  EXPECT_FALSE(seg.frames[0].source_sop_instance_uid.empty());
  const cv::Mat ct_mask = cv::imread((dir / "ct_mask.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(ct_mask.total(), seg.frames[0].mask.size());
  for (size_t i = 0; i < ct_mask.total(); ++i) ASSERT_EQ(ct_mask.data[i] ? 1 : 0, seg.frames[0].mask[i]) << i;
  for (const auto& e : test::dciodvfy_errors(dir / "ct_seg.dcm")) ADD_FAILURE() << e;
  r = test::run_medai("seg predict --model " + test::quote(dir / "run") + " " + test::quote(ct) + " --out " +
                      test::quote(dir / "only_seg.dcm"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(io::read_dicom_seg(dir / "only_seg.dcm").frames.size(), 1u);
  r = test::run_medai("seg predict --model " + test::quote(dir / "run") + " " + test::quote(image) + " --out " +
                      test::quote(dir / "png_seg.dcm"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("needs a DICOM input"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "png_seg.dcm"));

  // Bad input: a folder that is not a segmenter run, a missing image, no masks to evaluate.
  r = test::run_medai("seg predict --model " + test::quote(dir.path()) + " " + test::quote(image) + " --out " +
                      test::quote(dir / "x.png"));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("model_card.json"), std::string::npos) << r.err;
  r = test::run_medai("seg predict --model " + test::quote(dir / "run") + " " + test::quote(dir / "none.png") +
                      " --out " + test::quote(dir / "x.png"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(fs::exists(dir / "x.png"));
  fs::create_directories(dir / "nomask");
  test::write_text(dir / "nomask" / "index.csv", "path,mask_path\n" + image.string() + ",\n");
  r = test::run_medai("seg evaluate --model " + test::quote(dir / "run") + " --data " + test::quote(dir / "nomask"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("no mask"), std::string::npos) << r.err;
  // Training again into the same folder needs --resume.
  r = test::run_medai("seg train --data " + test::quote(data) + " --out " + test::quote(dir / "run"));
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace medai
