#include "medai/synthesis/synthetic_augment.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cmath>

#include "medai/core/error.h"
#include "medai/synthesis/gan_model.h"

namespace medai::synthesis {

namespace fs = std::filesystem;

std::vector<size_t> add_synthetic_images(data::ImageDataset& ds, const std::vector<size_t>& train,
                                         const fs::path& gan_run, double ratio, const fs::path& dir, uint64_t seed) {
  if (!(ratio > 0 && ratio <= 10)) fail_invalid("--synthetic-ratio must be in (0, 10]");
  GanModel gan = GanModel::load(gan_run);
  if (!gan.conditional())
    fail_invalid("--synthetic " + gan_run.string() +
                 ": an unconditional GAN gives no labels; train it with --conditional");
  if (gan.classes != ds.class_names)
    fail_invalid("--synthetic " + gan_run.string() + ": the GAN's classes (" +
                 fmt::format("{}", fmt::join(gan.classes, ", ")) + ") are not the data's (" +
                 fmt::format("{}", fmt::join(ds.class_names, ", ")) + ")");
  std::vector<int64_t> counts(ds.class_names.size(), 0);
  for (size_t i : train) counts[static_cast<size_t>(ds.samples[i].label)]++;
  if (fs::exists(dir)) fs::remove_all(dir);  // a resumed run writes the same seeded images again
  std::vector<size_t> added;
  for (size_t c = 0; c < counts.size(); ++c) {
    const auto n = static_cast<int64_t>(std::llround(ratio * static_cast<double>(counts[c])));
    if (n == 0) continue;
    const auto images = gan.sample(n, static_cast<int64_t>(c), seed * 31 + c);
    for (const auto& p : write_synthetic_pngs(gan, images, static_cast<int64_t>(c), dir)) {
      data::ImageSample s;
      s.path = p;
      s.label = static_cast<int>(c);
      s.patient_id = "synthetic:" + gan.name;
      s.columns["synthetic"] = "1";
      added.push_back(ds.samples.size());
      ds.samples.push_back(std::move(s));
    }
  }
  spdlog::info("synthetic: {} images from GAN {} (ratio {:g}) added to {} real training images", added.size(), gan.name,
               ratio, train.size());
  return added;
}

}  // namespace medai::synthesis
