#include "medai/transforms/transforms.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "medai/core/error.h"

namespace medai::transforms {

cv::Mat resize_pad(const cv::Mat& image, int size, float pad_value) {
  if (size <= 0) fail_invalid("resize size must be positive, got " + std::to_string(size));
  if (image.empty()) fail_invalid("cannot resize an empty image");
  double s = static_cast<double>(size) / std::max(image.cols, image.rows);
  int w = std::max(1, static_cast<int>(std::lround(image.cols * s)));
  int h = std::max(1, static_cast<int>(std::lround(image.rows * s)));
  cv::Mat resized;
  if (w == image.cols && h == image.rows) resized = image.clone();
  else cv::resize(image, resized, cv::Size(w, h), 0, 0, s < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  if (w == size && h == size) return resized;
  cv::Mat out(size, size, image.type(), cv::Scalar(pad_value));
  resized.copyTo(out(cv::Rect((size - w) / 2, (size - h) / 2, w, h)));
  return out;
}

cv::Mat normalize_intensity(const cv::Mat& image) {
  cv::Scalar mean, stddev;
  cv::meanStdDev(image, mean, stddev);
  double sd = std::max(stddev[0], 1e-6);
  cv::Mat out;
  image.convertTo(out, CV_32F, 1.0 / sd, -mean[0] / sd);
  return out;
}

cv::Mat random_affine(const cv::Mat& image, const AugmentOptions& o, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  double angle = o.max_rotate_deg * u(rng);
  double scale = 1.0 + o.scale_range * u(rng);
  double tx = o.max_translate * image.cols * u(rng), ty = o.max_translate * image.rows * u(rng);
  cv::Mat m = cv::getRotationMatrix2D(cv::Point2f(image.cols / 2.f, image.rows / 2.f), angle, scale);
  m.at<double>(0, 2) += tx;
  m.at<double>(1, 2) += ty;
  cv::Mat out;
  cv::warpAffine(image, out, m, image.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(0));
  return out;
}

cv::Mat random_intensity(const cv::Mat& image, const AugmentOptions& o, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  double gamma = std::pow(1.0 + o.gamma, u(rng));
  double contrast = 1.0 + o.contrast * u(rng);
  double brightness = o.brightness * u(rng);
  cv::Mat out;
  cv::max(image, 0.0, out);
  cv::min(out, 1.0, out);
  cv::pow(out, gamma, out);
  double mean = cv::mean(out)[0];
  out = (out - mean) * contrast + mean + brightness;
  cv::max(out, 0.0, out);
  cv::min(out, 1.0, out);
  return out;
}

cv::Mat random_flip(const cv::Mat& image, const AugmentOptions& o, std::mt19937_64& rng) {
  if (!o.horizontal_flip || std::bernoulli_distribution(0.5)(rng) == false) return image;
  cv::Mat out;
  cv::flip(image, out, 1);
  return out;
}

cv::Mat augment(const cv::Mat& image, const AugmentOptions& o, std::mt19937_64& rng) {
  return random_flip(random_intensity(random_affine(image, o, rng), o, rng), o, rng);
}

namespace {

cv::Mat clamp_unit(cv::Mat m) {
  cv::max(m, 0.0, m);
  cv::min(m, 1.0, m);
  return m;
}

// Zoom about the centre by `scale` and shift by (dx, dy) pixels; the border is black, as
// resize_pad pads.
cv::Mat warp(const cv::Mat& image, double scale, double dx, double dy) {
  cv::Mat m = cv::getRotationMatrix2D(cv::Point2f(image.cols / 2.f, image.rows / 2.f), 0.0, scale);
  m.at<double>(0, 2) += dx;
  m.at<double>(1, 2) += dy;
  cv::Mat out;
  cv::warpAffine(image, out, m, image.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(0));
  return out;
}

}  // namespace

const std::vector<std::string>& perturbation_names() {
  static const std::vector<std::string> names = {"blur",         "noise",   "lowres",  "gamma-low", "gamma-high",
                                                 "contrast-low", "sharpen", "zoom-in", "zoom-out",  "shift"};
  return names;
}

void check_perturbation(const std::string& name) { check_known("perturbation", name, perturbation_names()); }

cv::Mat perturb(const cv::Mat& image, const std::string& name, uint64_t seed) {
  check_perturbation(name);
  if (image.empty() || image.type() != CV_32F) fail_invalid("perturb: expects a non-empty float image");
  cv::Mat x = clamp_unit(image.clone()), out;
  const double side = std::max(image.cols, image.rows);
  if (name == "blur") {
    cv::GaussianBlur(x, out, cv::Size(0, 0), side / 128.0);  // sigma 1 px at 128 px
  } else if (name == "noise") {
    cv::Mat n(x.size(), CV_32F);
    cv::RNG rng(seed * 0x9E3779B97F4A7C15ULL + 1);
    rng.fill(n, cv::RNG::NORMAL, 0.0, 0.04);
    out = x + n;
  } else if (name == "lowres") {
    cv::Mat small;
    cv::resize(x, small, cv::Size(), 0.5, 0.5, cv::INTER_AREA);
    cv::resize(small, out, x.size(), 0, 0, cv::INTER_LINEAR);
  } else if (name == "gamma-low" || name == "gamma-high") {
    cv::pow(x, name == "gamma-low" ? 0.67 : 1.5, out);
  } else if (name == "contrast-low") {
    const double mean = cv::mean(x)[0];
    out = (x - mean) * 0.7 + mean;
  } else if (name == "sharpen") {
    cv::Mat blurred;
    cv::GaussianBlur(x, blurred, cv::Size(0, 0), side / 64.0);
    out = x * 1.8 - blurred * 0.8;
  } else if (name == "zoom-in" || name == "zoom-out") {
    out = warp(x, name == "zoom-in" ? 1.15 : 0.85, 0, 0);
  } else {  // shift (check_perturbation refused any other name)
    out = warp(x, 1.0, 0.08 * image.cols, 0.08 * image.rows);
  }
  return clamp_unit(out);
}

cv::Mat tta_view(const cv::Mat& image, int k) {
  struct View {
    double scale, dx, dy;  // shifts as a fraction of the side
  };
  static const View views[kMaxTtaViews] = {{1.0, 0, 0},        {1.06, 0, 0},        {0.94, 0, 0},
                                           {1.0, 0.03, 0.03},  {1.0, -0.03, -0.03}, {1.0, 0.03, -0.03},
                                           {1.0, -0.03, 0.03}, {1.1, 0, 0}};
  if (k < 0 || k >= kMaxTtaViews)
    fail_invalid("test-time augmentation view " + std::to_string(k) + " outside 0.." +
                 std::to_string(kMaxTtaViews - 1));
  if (k == 0) return image;
  const View& v = views[k];
  return warp(image, v.scale, v.dx * image.cols, v.dy * image.rows);
}

cv::Mat preprocess(const cv::Mat& unit_image, int size) { return normalize_intensity(resize_pad(unit_image, size)); }

}  // namespace medai::transforms
