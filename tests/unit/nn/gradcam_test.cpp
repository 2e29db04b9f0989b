// Grad-CAM must point at the evidence. A network whose features are a known local-brightness
// detector makes the right answer analytic: the heatmap has to peak on the bright square, in
// whichever quadrant it sits. (Parity with a python3-torch Grad-CAM on a trained ResNet-18 is
// checked in tests/e2e/interop_test.cpp.)
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "medai/explain/gradcam.h"
#include "medai/nn/nets/classifier_net.h"
#include "support/test_support.h"

using namespace medai;

namespace {
// features: 4 channels, channel 0 = 7x7 box filter of (x - 0.5) then ReLU (bright blobs);
// channels 1-3 = other fixed filters. head: global average pool + linear, class 1 <- channel 0.
struct BrightnessNetImpl : nn::ClassifierNetImpl {
  BrightnessNetImpl() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 4, 7).padding(3).stride(2)));
    fc = register_module("fc", torch::nn::Linear(4, 2));
    torch::NoGradGuard ng;
    conv->weight.zero_();
    conv->weight[0].fill_(1.0 / 49);                // local mean brightness
    conv->weight[1][0][3][3] = -1.0;                // dark spots
    conv->weight[2][0].narrow(1, 0, 3).fill_(0.1);  // a left-edge detector
    conv->weight[3][0][0][0] = 1.0;                 // a shifted copy
    conv->bias.copy_(torch::tensor({-0.5, 0.0, 0.0, 0.0}));
    fc->weight.copy_(torch::tensor({{0.0, 1.0, 0.5, 0.2}, {3.0, -0.5, 0.0, -0.1}}));
    fc->bias.zero_();
  }
  torch::Tensor features(const torch::Tensor& x) override { return torch::relu(conv(x)); }
  torch::Tensor head(const torch::Tensor& f) override {
    return fc(torch::flatten(torch::adaptive_avg_pool2d(f, {1, 1}), 1));
  }
  std::string architecture() const override { return "brightness-test-net"; }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::Linear fc{nullptr};
};

torch::Tensor unit_tensor(const cv::Mat& img8) {
  cv::Mat f;
  img8.convertTo(f, CV_32F, 1.0 / 255);
  return torch::from_blob(f.ptr<float>(), {1, 1, f.rows, f.cols}, torch::kFloat).clone();
}
}  // namespace

TEST(GradCam, LocalisesASignalInAKnownQuadrant) {
  BrightnessNetImpl net;
  constexpr int kSize = 96;
  int correct = 0;
  for (int q = 0; q < 4; ++q)
    for (int rep = 0; rep < 5; ++rep) {
      cv::Mat img = test::quadrant_image(kSize, q, 100 * q + rep);
      cv::Mat cam = explain::grad_cam(net, unit_tensor(img), 1);
      ASSERT_EQ(cam.rows, kSize);
      ASSERT_EQ(cam.cols, kSize);
      double mass[4] = {0, 0, 0, 0};
      for (int y = 0; y < kSize; ++y)
        for (int x = 0; x < kSize; ++x) mass[(y >= kSize / 2) * 2 + (x >= kSize / 2)] += cam.at<float>(y, x);
      int best = static_cast<int>(std::max_element(mass, mass + 4) - mass);
      correct += best == q;
      double lo, hi;
      cv::minMaxLoc(cam, &lo, &hi);
      EXPECT_GE(lo, 0.0);
      EXPECT_NEAR(hi, 1.0, 1e-6);  // normalised
      EXPECT_GT(mass[q], 0.8 * (mass[0] + mass[1] + mass[2] + mass[3])) << "quadrant " << q;
    }
  EXPECT_EQ(correct, 20);
}

TEST(GradCam, IsZeroWhenTheClassHasNoPositiveEvidence) {
  BrightnessNetImpl net;
  cv::Mat flat(64, 64, CV_8U, cv::Scalar(40));  // dark: channel 0 is all zero after ReLU
  cv::Mat cam = explain::grad_cam(net, unit_tensor(flat), 1);
  EXPECT_EQ(cv::countNonZero(cam), 0);
}

TEST(GradCam, OverlayHasTheImageSizeAndColour) {
  cv::Mat unit(40, 50, CV_32F, cv::Scalar(0.5));
  cv::Mat heat(10, 10, CV_32F, cv::Scalar(0.0));
  heat.at<float>(0, 0) = 1.0f;
  cv::Mat o = explain::overlay_heatmap(unit, heat);
  EXPECT_EQ(o.rows, 40);
  EXPECT_EQ(o.cols, 50);
  EXPECT_EQ(o.type(), CV_8UC3);
}
