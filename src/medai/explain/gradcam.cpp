#include "medai/explain/gradcam.h"

#include <torch/torch.h>

#include <opencv2/imgproc.hpp>

#include "medai/core/error.h"

namespace medai::explain {

cv::Mat grad_cam(nn::ClassifierNetImpl& net, const torch::Tensor& input, int64_t target_class) {
  if (input.dim() != 4 || input.size(0) != 1) fail_invalid("grad_cam expects one image (1 x C x H x W)");
  net.eval();
  torch::Tensor features = net.features(input);
  features.retain_grad();
  torch::Tensor logits = net.head(features);
  if (target_class < 0 || target_class >= logits.size(1)) fail_invalid("grad_cam: class index out of range");
  // For two classes the decision is the logit difference; its gradient is what tips the label.
  torch::Tensor score =
      logits.size(1) == 2 ? logits[0][target_class] - logits[0][1 - target_class] : logits[0][target_class];
  auto grads = torch::autograd::grad({score}, {features})[0];
  auto weights = grads.mean({2, 3}, /*keepdim=*/true);
  auto cam = torch::relu((weights * features).sum(1, true)).detach();
  cam = torch::upsample_bilinear2d(cam, {input.size(2), input.size(3)}, false).squeeze().contiguous().to(torch::kFloat);
  double hi = cam.max().item<double>();
  if (hi > 0) cam = cam / hi;
  cv::Mat out(static_cast<int>(input.size(2)), static_cast<int>(input.size(3)), CV_32F);
  std::memcpy(out.ptr<float>(), cam.data_ptr<float>(), out.total() * sizeof(float));
  return out;
}

cv::Mat overlay_heatmap(const cv::Mat& unit_image, const cv::Mat& heatmap, double alpha) {
  cv::Mat heat = heatmap;
  if (heat.size() != unit_image.size()) cv::resize(heatmap, heat, unit_image.size(), 0, 0, cv::INTER_LINEAR);
  cv::Mat grey8, heat8, colour, base;
  unit_image.convertTo(grey8, CV_8U, 255.0);
  heat.convertTo(heat8, CV_8U, 255.0);
  cv::applyColorMap(heat8, colour, cv::COLORMAP_JET);
  cv::cvtColor(grey8, base, cv::COLOR_GRAY2BGR);
  cv::Mat out;
  cv::addWeighted(base, 1.0 - alpha, colour, alpha, 0.0, out);
  return out;
}

}  // namespace medai::explain
