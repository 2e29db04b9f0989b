#pragma once
// Grad-CAM (Selvaraju et al. 2017): class-discriminative heatmaps from the gradient of a class
// logit with respect to the last convolutional feature map.
#include <torch/types.h>

#include <opencv2/core.hpp>

#include "medai/nn/nets/classifier_net.h"

namespace medai::explain {

// Heatmap in [0, 1] (CV_32F) at the input's spatial size, for `target_class` of a 1 x C x H x W input.
cv::Mat grad_cam(nn::ClassifierNetImpl& net, const torch::Tensor& input, int64_t target_class);

// The heatmap (JET colours) blended over the [0, 1] grey image; 8-bit BGR for write_png.
cv::Mat overlay_heatmap(const cv::Mat& unit_image, const cv::Mat& heatmap, double alpha = 0.45);

}  // namespace medai::explain
