#pragma once
// Image transforms: pure functions of (image, rng) on single-channel float images (cv::Mat
// CV_32F). Intensity transforms expect [0, 1] input; normalisation comes last.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace medai::transforms {

// Keeps the aspect ratio: scales the longer side to `size`, pads the rest with `pad_value`.
cv::Mat resize_pad(const cv::Mat& image, int size, float pad_value = 0.f);

// Per-image z-score: (x - mean) / std. Makes PNG, JPEG and DICOM inputs comparable.
cv::Mat normalize_intensity(const cv::Mat& image);

struct AugmentOptions {
  double max_rotate_deg = 10;    // uniform in [-max, max]
  double scale_range = 0.10;     // scale in [1 - r, 1 + r]
  double max_translate = 0.06;   // fraction of the size, each axis
  double brightness = 0.06;      // additive, [0, 1] units
  double contrast = 0.15;        // multiplicative around the mean, [1 - c, 1 + c]
  double gamma = 0.20;           // gamma in [1 / (1 + g), 1 + g]
  bool horizontal_flip = false;  // off by default: chest laterality matters
};

cv::Mat random_affine(const cv::Mat& image, const AugmentOptions& options, std::mt19937_64& rng);
cv::Mat random_intensity(const cv::Mat& image, const AugmentOptions& options, std::mt19937_64& rng);
cv::Mat random_flip(const cv::Mat& image, const AugmentOptions& options, std::mt19937_64& rng);
// All of the above, in the order affine -> intensity -> flip.
cv::Mat augment(const cv::Mat& image, const AugmentOptions& options, std::mt19937_64& rng);

// Acquisition changes a deployed detector may meet, to measure how far its scores move (`medai
// image evaluate --perturb`): the same images blurred, noisier, at lower resolution, with another
// tone curve or contrast, zoomed or shifted. Deterministic given `seed` (only `noise` uses it).
// [0, 1] in, [0, 1] out, same size. InvalidInput for an unknown name, listing the known ones.
const std::vector<std::string>& perturbation_names();
void check_perturbation(const std::string& name);  // InvalidInput unless a known name
cv::Mat perturb(const cv::Mat& image, const std::string& name, uint64_t seed = 0);

// Test-time augmentation: view k of an image (0 = the image itself; then small zooms and shifts,
// no flips: chest laterality matters). Averaging a model's logits over views 0..n-1 is medai's
// TTA. InvalidInput when k is outside [0, kMaxTtaViews).
inline constexpr int kMaxTtaViews = 8;
cv::Mat tta_view(const cv::Mat& image, int k);

// The model's preprocessing for inference: resize_pad then normalise.
cv::Mat preprocess(const cv::Mat& unit_image, int size);

}  // namespace medai::transforms
