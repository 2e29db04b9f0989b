#pragma once
// Binary segmentation with a U-Net (libtorch behind this header): training through the shared
// Trainer on random crops with joint image/mask augmentation, Dice + BCE loss, the threshold
// chosen on validation; inference on whole images, tiled with overlap when larger than the
// tile; evaluation per image (Dice, IoU), per group, and per instance (F1 at IoU 0.5, the DSB
// 2018 AP), beside the Otsu-threshold baseline on the same images.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "medai/data/seg_dataset.h"
#include "medai/segmentation/segmenter_card.h"

namespace medai::segmentation {

struct SegTrainOptions {
  std::filesystem::path data, out;
  int epochs = 30, batch_size = 8, crop = 128, patience = 12;
  double lr = 3e-3, weight_decay = 1e-4;
  int width = 16, depth = 4;
  bool residual = false;
  double validation_fraction = 0.2;
  uint64_t seed = 1;
  int tile = 256;
  std::string label = "foreground";  // what the masks mark (the DICOM SEG segment label)
  bool invert_bright = true;         // invert bright-background images (brightfield) for the network
  bool standardise = false;          // per-image zero mean, unit SD for the network (false: pixels in [0, 1])
  bool tta = true;                   // inference averages the 8 flips/turns (threshold and figures chosen with it)
  int max_images = 0;                // 0 = all (a cap for quick runs)
  std::string precision = "auto";    // auto | fp32 | bf16 (core/precision.h)
  bool progress = true;
  bool resume = false;  // continue the interrupted run in `out` with its stored settings
};

// Trains, chooses the threshold and evaluates on validation; writes RUN/model.pt,
// model_card.json, curves.csv/png, split.csv; returns the card.
nlohmann::json train_segmenter(const SegTrainOptions& options);

// Foreground probability of every pixel (H x W, row-major).
using ProbabilityFn = std::function<std::vector<float>(const data::SegImage&)>;

class Segmenter {
 public:
  ~Segmenter();
  Segmenter(Segmenter&&) noexcept;
  Segmenter& operator=(Segmenter&&) noexcept;
  // Clear errors for a missing or damaged folder; `precision` auto | fp32 | bf16 (core/precision.h).
  static Segmenter load(const std::filesystem::path& run_dir, const std::string& precision = "auto");
  const SegmenterCard& card() const;
  std::vector<float> probability(const data::SegImage& image) const;
  std::vector<uint8_t> mask(const data::SegImage& image) const;  // probability above the card's threshold
  ProbabilityFn as_fn() const;                                   // shares the network

 private:
  Segmenter();
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// A mask as an 8-bit PNG (0 / 255), and the image with the mask tinted red and outlined.
void write_mask_png(const std::filesystem::path& out, const std::vector<uint8_t>& mask, int width, int height);
void write_overlay_png(const std::filesystem::path& out, const data::SegImage& image, const std::vector<uint8_t>& mask);
std::string mask_png(const std::vector<uint8_t>& mask, int width, int height);  // the same, as PNG bytes
std::string overlay_png(const data::SegImage& image, const std::vector<uint8_t>& mask);

// Per-image mean Dice and IoU (`n` images), instance F1 at IoU 0.5 and DSB AP (instances:
// watershed-split components of the prediction against the components of the truth), the same
// for Otsu's threshold, and per value of `group_column` (an index column) when given. With
// `per_image`, also one CSV row per image (path,group,dice,iou,instance_f1,ap,otsu_dice), so
// the worst images can be looked at.
nlohmann::json evaluate_segmentation(const ProbabilityFn& model, double threshold, const data::SegDataset& ds,
                                     const std::vector<size_t>& rows, const std::string& group_column, bool progress,
                                     std::string* per_image = nullptr);

}  // namespace medai::segmentation
