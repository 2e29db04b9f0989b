#include <gtest/gtest.h>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/io/dicom.h"
#include "medai/io/dicom_seg.h"
#include "support/test_support.h"

using namespace medai;

namespace {

// A mask with structure: the pixels above the frame's mean, plus a filled corner square.
std::vector<uint8_t> some_mask(const io::Image& im, int frame) {
  const size_t n = static_cast<size_t>(im.width) * im.height;
  const float* f = im.frame_data(frame);
  double mean = 0;
  for (size_t i = 0; i < n; ++i) mean += f[i * im.channels];
  mean /= n;
  std::vector<uint8_t> m(n);
  for (size_t i = 0; i < n; ++i) m[i] = f[i * im.channels] > mean ? 1 : 0;
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 7; ++x) m[static_cast<size_t>(y) * im.width + x] = 1;
  return m;
}

std::string dump_value(const std::filesystem::path& f, const std::string& tag) {
  return test::run_command("dcmdump +P " + tag + " " + test::quote(f)).out;
}

}  // namespace

TEST(DicomSeg, WrittenSegReadsBackWithItsReferencesAndValidates) {
  MEDAI_REQUIRE_DATA("dicom/CT_small.dcm");
  ASSERT_EQ(test::run_command("command -v dciodvfy").exit_code, 0) << "dciodvfy (dicom3tools) missing";
  test::TempDir out;
  // A CT slice (frame of reference, plane geometry), an MR slice, and a two-frame colour image.
  for (const auto& [file, frame] : std::vector<std::pair<std::string, int>>{
           {"CT_small.dcm", 0}, {"MR_small.dcm", 0}, {"SC_rgb_rle_2frame.dcm", 1}}) {
    SCOPED_TRACE(file);
    const auto src = test::shared_data() / "dicom" / file;
    const io::DicomPixels px = io::read_dicom(src);
    const auto mask = some_mask(px.image, frame);
    io::SegmentDescription d;
    d.label = "bright region";
    d.algorithm_version = "test";
    const auto seg_file = out / ("seg_" + file);
    io::write_dicom_seg(src, frame, mask, px.image.width, px.image.height, d, seg_file);

    const io::DicomSeg seg = io::read_dicom_seg(seg_file);
    EXPECT_EQ(seg.width, px.image.width);
    EXPECT_EQ(seg.height, px.image.height);
    ASSERT_EQ(seg.segments.size(), 1u);
    EXPECT_EQ(seg.segments[0], "bright region");
    EXPECT_EQ(seg.segment_algorithms[0], "medai");
    ASSERT_EQ(seg.frames.size(), 1u);
    EXPECT_EQ(seg.frames[0].segment_number, 1);
    EXPECT_EQ(seg.frames[0].mask, mask);
    // The source instance (and frame, for a multi-frame source) is referenced; the study is shared.
    const std::string src_uid = dump_value(src, "SOPInstanceUID");
    ASSERT_FALSE(seg.frames[0].source_sop_instance_uid.empty());
    EXPECT_NE(src_uid.find(seg.frames[0].source_sop_instance_uid), std::string::npos);
    // (Frame numbers are only for multi-frame classes; the two-frame file is single-frame SC.)
    EXPECT_EQ(seg.frames[0].source_frame, 0);
    EXPECT_NE(dump_value(src, "StudyInstanceUID").find(seg.study_instance_uid), std::string::npos);
    EXPECT_NE(seg.sop_instance_uid, seg.frames[0].source_sop_instance_uid);
    // The independent validator finds no error.
    const auto errors = test::dciodvfy_errors(seg_file);
    for (const auto& e : errors) ADD_FAILURE() << e;
  }
}

TEST(DicomSeg, ReadsASegmentationMadeByAnotherTool) {
  MEDAI_REQUIRE_DATA("dicom/liver.dcm");  // dcmqi's liver segmentation of a 3-slice CT
  const io::DicomSeg seg = io::read_dicom_seg(test::shared_data() / "dicom" / "liver.dcm");
  EXPECT_GT(seg.width, 0);
  EXPECT_GE(seg.segments.size(), 1u);
  ASSERT_GE(seg.frames.size(), 1u);
  size_t set = 0;
  for (const auto& f : seg.frames) {
    EXPECT_EQ(f.mask.size(), static_cast<size_t>(seg.width) * seg.height);
    EXPECT_FALSE(f.source_sop_instance_uid.empty());
    for (uint8_t v : f.mask) set += v;
  }
  EXPECT_GT(set, 0u);
}

TEST(DicomSeg, RefusesAMismatchedMaskAndANonSegFile) {
  MEDAI_REQUIRE_DATA("dicom/MR_small.dcm");
  test::TempDir out;
  const auto src = test::shared_data() / "dicom" / "MR_small.dcm";
  const io::DicomPixels px = io::read_dicom(src);
  std::vector<uint8_t> small(10 * 10, 1);
  try {
    io::write_dicom_seg(src, 0, small, 10, 10, {}, out / "x.dcm");
    FAIL() << "a 10x10 mask for a " << px.image.width << "x" << px.image.height << " image was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("MR_small.dcm"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(out / "x.dcm"));
  const std::vector<uint8_t> full(static_cast<size_t>(px.image.width) * px.image.height, 1);
  EXPECT_THROW(io::write_dicom_seg(src, 3, full, px.image.width, px.image.height, {}, out / "y.dcm"), Error);
  EXPECT_THROW(io::read_dicom_seg(src), Error);  // an MR image, not a SEG
  core::write_file_atomic(out / "junk.dcm", "not dicom");
  EXPECT_THROW(io::read_dicom_seg(out / "junk.dcm"), Error);
}
