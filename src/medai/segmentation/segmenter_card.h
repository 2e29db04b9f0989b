#pragma once
// The model card of a U-Net segmenter (core/model_card.h plus what its loader reads).
#include <string>

#include "medai/core/model_card.h"
#include "medai/io/dicom_seg.h"

namespace medai::segmentation {

inline constexpr const char* kSegmenterTask = "binary image segmentation";

struct SegmenterCard {
  core::ModelCardCore core;
  int width = 16, depth = 4;  // U-Net (nn/nets/unet.h)
  bool residual = false;
  int in_channels = 3;
  double threshold = 0.5;                           // on the foreground probability, chosen on validation
  int tile = 256;                                   // inference tile side; larger inputs are tiled with overlap
  bool tta = true;                                  // average the probabilities of the eight flips and turns
  bool invert_bright = false;                       // invert images whose mean is above 0.5 first
  bool standardise = false;                         // then per-image zero mean, unit SD (absent: pixels in [0, 1])
  std::string label = "foreground";                 // what the mask marks (DICOM SEG segment label)
  nlohmann::json extra = nlohmann::json::object();  // report sections
  nlohmann::json to_json() const;
  static SegmenterCard from_json(const nlohmann::json& card, const std::string& where);
  io::SegmentDescription segment() const;  // for DICOM SEG output
};

}  // namespace medai::segmentation
