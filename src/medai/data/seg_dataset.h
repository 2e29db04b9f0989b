#pragma once
// Segmentation collections: DIR/index.csv with path,mask_path[,patient_id][,<group columns>]
// (paths relative to DIR), or DIR/images/ + DIR/masks/ with equal file names. Images are read by
// any medai reader (PNG, JPEG, DICOM, NIfTI's middle slice) into 3 channels scaled to [0, 1] per
// image; masks are binary (nonzero = foreground) and must have the image's size.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace medai::io {
struct Image;
}

namespace medai::data {

struct SegSample {
  std::filesystem::path image, mask;           // mask empty: none (prediction only)
  std::string group_id;                        // patient or source: kept on one side of a split
  std::map<std::string, std::string> columns;  // the index's other columns (for per-group reports)
};

struct SegDataset {
  std::filesystem::path source;
  std::vector<SegSample> samples;
  std::string fingerprint() const;  // SHA-256 over (relative image path, mask path, sizes)
};
SegDataset load_seg_dataset(const std::filesystem::path& dir);

// One decoded image: channels x height x width floats in [0, 1] (grey repeated to 3 channels).
struct SegImage {
  int width = 0, height = 0;
  std::vector<float> pixels;          // 3 x H x W
  std::vector<uint8_t> mask;          // H x W, 0/1 (empty without a mask)
  int frame = 0;                      // the source's frame (its middle one for several)
  std::vector<uint8_t> grey() const;  // mean of the channels, 0..255 (for Otsu)
};
inline constexpr int kSegChannels = 3;
SegImage read_seg_image(const std::filesystem::path& image, const std::filesystem::path& mask = {});
SegImage to_seg_image(const io::Image& image);  // a decoded image (e.g. an upload), without a mask

// Rows to validation, whole groups at a time (rows without a group are their own), stratified by
// `stratify_column` when it exists (e.g. modality): every stratum gives its share.
struct SegSplit {
  std::vector<size_t> train, validation;
};
SegSplit split_seg_dataset(const SegDataset& ds, double validation_fraction, uint64_t seed,
                           const std::string& stratify_column = "modality");

}  // namespace medai::data
