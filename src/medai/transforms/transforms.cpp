#include "medai/transforms/transforms.h"

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

cv::Mat preprocess(const cv::Mat& unit_image, int size) { return normalize_intensity(resize_pad(unit_image, size)); }

}  // namespace medai::transforms
