#pragma once
// Internal to segmentation/: what the model (segmenter.cpp) and its training
// (train_segmenter.cpp) share of running the U-Net. Not a public interface.
#include <torch/torch.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "medai/nn/nets/unet.h"
#include "medai/segmentation/segmenter_card.h"

namespace medai::segmentation::detail {

inline constexpr const char* kWeightsFile = "model.pt";  // in the run folder

nn::UNet make_net(const SegmenterCard& card);  // the layout the card describes

// Foreground probability (H x W) of a 3 x H x W network input, tiled with overlap when larger
// than `tile`. With `tta`: the mean over the eight flips and quarter-turns of the square (the
// network saw them all in training), each turned back.
torch::Tensor infer_tta(nn::UNet& net, const torch::Tensor& image, int tile, bool bf16, bool tta);

// Whether an image in [0, 1] has a bright background (mean above one half): brightfield
// microscopy, where objects are dark. Such images are inverted before the network sees them, so
// every modality shows bright objects on a dark ground.
bool bright_background(const std::vector<float>& pixels);

// Mean and standard deviation (floored at 0.01) of n values: per-image standardisation brings
// dim and bright images to one scale, so a faint nucleus rim counts as much as a bright core.
std::pair<float, float> image_stats(const float* p, size_t n);

std::vector<float> to_vector(const torch::Tensor& t);
std::vector<uint8_t> threshold_mask(const std::vector<float>& probability, double threshold);

}  // namespace medai::segmentation::detail
