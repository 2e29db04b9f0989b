#pragma once
// Fitting the out-of-distribution guard of an image classifier (ood_guard.h, feature_guard.h):
// class means and covariance of the pooled features of the training images, the threshold at a
// quantile of the validation images' distances. During `medai image train`, and afterwards for a
// run without one (`medai image fit-guard`).
#include <filesystem>
#include <vector>

#include "medai/data/image_dataset.h"
#include "medai/imaging/classifier_card.h"

namespace medai::imaging {

class ClassifierModel;

inline constexpr size_t kMinGuardImages = 10;  // training and validation images the feature guard needs

struct GuardOptions {
  double acceptance = 0.99;     // share of validation images the threshold lets through
  Expected expected;            // DICOM metadata the training population has
  int max_train_images = 4000;  // a random subset beyond this (the covariance needs no more)
  uint64_t seed = 7;
  bool progress = true;
  // Folders (or single files) of images the model should refuse: the share flagged in each is
  // measured and written to the card (ood_guard.measured), beside the validation acceptance.
  std::vector<std::filesystem::path> measure_ood;
};

// The guard's verdict on every image under `path` (a folder, searched recursively, or one file):
// {"images", "flagged", "rate", "by_input_checks", "by_features"}.
nlohmann::json measure_flag_rate(ClassifierModel& model, const std::filesystem::path& path);

// Writes RUN/ood_guard.pt and returns the card's guard section (threshold, measured acceptance).
ClassifierCard::Guard fit_guard(ClassifierModel& model, const data::ImageDataset& ds, const std::vector<size_t>& train,
                                const std::vector<size_t>& validation, const GuardOptions& options,
                                const std::filesystem::path& run);

// For an existing run: its split.csv gives the training and validation images; the card is
// rewritten with the guard. Returns the new card.
nlohmann::json fit_guard_for_run(const std::filesystem::path& run, const GuardOptions& options);

}  // namespace medai::imaging
