#pragma once
// `medai image train`: a two-class image detector from a folder or CSV of images.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "medai/imaging/fit_guard.h"

namespace medai::imaging {

struct TrainOptions {
  std::filesystem::path data, out;
  std::string split;  // CSV 'split' filter (empty = every row)
  std::string architecture = "resnet18";
  int image_size = 128;  // pixels per side
  int epochs = 12;
  int batch_size = 32;
  double lr = 1e-3;
  double weight_decay = 1e-4;
  std::string schedule = "cosine";
  double warmup_epochs = 1.0;
  int patience = 5;  // epochs without validation-AUROC gain before stopping
  double validation_fraction = 0.15;
  uint64_t seed = 42;
  std::optional<uint64_t>
      split_seed;  // the validation split's seed (default: seed), so runs of other seeds can share it
  std::optional<double> target_sensitivity;  // else Youden
  bool resume = false;
  bool augment = true;
  bool cache = true;  // keep decoded images in memory (2 bytes a pixel)
  bool horizontal_flip = false;
  double augment_strength = 1.0;  // multiplies every augmentation range (transforms::AugmentOptions)
  double label_smoothing = 0.0;   // cross-entropy target smoothing
  double mixup = 0.0;             // mixup Beta(a, a) parameter; 0 = off
  // Data-parallel over c10d (train/distributed.h): each rank a shard of every batch, rank 0 writes the
  // run. BatchNorm statistics stay per rank (as DDP without SyncBatchNorm).
  bool distributed = false;
  double ema = 0.0;               // decay of the weights' moving average validated and kept; 0 = off
  int workers = 0;                // 0 = runtime threads
  int max_batches_per_epoch = 0;  // 0 = all (for smoke tests)
  int bootstrap_reps = 1000;
  std::string precision = "auto";  // auto | fp32 | bf16 (core/precision.h)
  bool progress = true;
  GuardOptions guard;               // the out-of-distribution guard fitted at the end
  double train_fraction = 1.0;      // share of the training patients kept (low-data experiments), grouped
  std::filesystem::path synthetic;  // a conditional GAN run (medai gan train) whose images join training
  double synthetic_ratio = 1.0;     // generated images per real training image
};

// Trains, calibrates and writes the run folder; returns the model card.
nlohmann::json train_classifier(const TrainOptions& options);

}  // namespace medai::imaging
