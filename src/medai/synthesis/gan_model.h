#pragma once
// A trained image GAN as it lives in a run folder (medai gan train): RUN/generator.pt (the
// generator's moving-average weights), RUN/model_card.json (kind "generator", task
// "image-generation": size, classes, network settings), RUN/training_images.csv (what it saw, for
// the memorisation audit) and optionally RUN/features/ (an image classifier trained on the same
// real images, whose features medai gan evaluate compares).
#include <torch/types.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "medai/data/image_loader.h"
#include "medai/nn/nets/gan.h"

namespace medai::synthesis {

inline constexpr const char* kGanTask = "image-generation";
inline constexpr const char* kGeneratorFile = "generator.pt";
inline constexpr const char* kTrainingImagesFile = "training_images.csv";
inline constexpr const char* kFeatureRunDir = "features";

class GanModel {
 public:
  // Reads and checks the card (kind and task: another run folder gets an error saying what it
  // is), builds the generator, loads its weights. Errors name the file.
  static GanModel load(const std::filesystem::path& run_dir);

  // `n` images N x 1 x S x S in [0, 1] of class index `label` (ignored when unconditional), from
  // a generator seeded with `seed` (the same seed gives the same images).
  torch::Tensor sample(int64_t n, int64_t label, uint64_t seed, int64_t batch = 64);
  // `n` images split over the classes in the training mix (rounded; the last class takes the rest).
  std::vector<int64_t> class_mix(int64_t n) const;
  // The class index of a name, or an InvalidInput error listing the model's classes.
  int64_t class_index(const std::string& name) const;

  bool conditional() const { return options.classes > 1; }
  nn::GanOptions options;
  std::vector<std::string> classes;   // the training data's classes
  std::vector<int64_t> class_counts;  // training images per class
  std::string name, weights_sha256;   // the run folder's name, the generator file's hash
  nlohmann::json card;
  std::filesystem::path run_dir;
  nn::Generator generator{nullptr};
};

// Cached [0, 1] images of the listed samples as N x 1 x S x S (decoding any not cached yet).
torch::Tensor unit_images(data::DecodedCache& cache, const std::vector<size_t>& indices);

// PNG metadata that marks a file as synthetic and names the model (tEXt chunks).
std::vector<std::pair<std::string, std::string>> synthetic_png_text(const GanModel& model, const std::string& label);
// Writes images (N x 1 x S x S in [0, 1]) as 8-bit PNGs named SYNTHETIC_<model>_<class>_<i>.png
// (the first free i from `first` on: earlier samples are never overwritten) into `dir`, each marked by
// synthetic_png_text; returns the paths.
std::vector<std::filesystem::path> write_synthetic_pngs(const GanModel& model, const torch::Tensor& images,
                                                        int64_t label, const std::filesystem::path& dir,
                                                        int64_t first = 0);
// A grid of images (N x 1 x S x S in [0, 1]), `columns` per row with a 2 px border, as 8-bit.
cv::Mat image_grid(const torch::Tensor& images, int64_t columns);

}  // namespace medai::synthesis
