#pragma once
// Segmentation metrics on binary masks (one byte per pixel, nonzero = foreground): Dice and IoU,
// instances as connected components or split by a distance-transform watershed, instance F1 at
// IoU 0.5 and the 2018 Data Science Bowl's average precision (mean over IoU thresholds
// 0.50:0.05:0.95 of TP / (TP + FP + FN)); and the Otsu-threshold baseline.
#include <cstdint>
#include <vector>

namespace medai::metrics {

struct Overlap {
  double dice = 1, iou = 1;  // 1 when both masks are empty (nothing to find, nothing found)
};
Overlap overlap(const std::vector<uint8_t>& predicted, const std::vector<uint8_t>& truth);

// Objects of a mask: labels 1..count (0 = background), row-major width x height.
struct Instances {
  int width = 0, height = 0, count = 0;
  std::vector<int32_t> labels;
};
Instances connected_components(const std::vector<uint8_t>& mask, int width, int height);  // 8-connected
// Touching objects split where the distance to the background has separate peaks (markers are
// the maxima at least `min_peak` pixels from the background); every foreground pixel keeps a label.
Instances watershed_instances(const std::vector<uint8_t>& mask, int width, int height, double min_peak = 2.0);

struct InstanceScores {
  int predicted = 0, truth = 0, matched = 0;  // matched at IoU > 0.5
  double f1 = 1;                              // at IoU 0.5 (1 when both are empty)
  double ap = 1;                              // DSB 2018 mean over thresholds 0.5..0.95
};
InstanceScores instance_scores(const Instances& predicted, const Instances& truth);

// Otsu's threshold of a grey image (0..255), foreground the minority side (the objects, whether
// brighter or darker than the background).
std::vector<uint8_t> otsu_mask(const std::vector<uint8_t>& grey, int width, int height);

}  // namespace medai::metrics
