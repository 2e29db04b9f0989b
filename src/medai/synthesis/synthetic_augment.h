#pragma once
// Generated images mixed into a classifier's training set (medai image train --synthetic RUN
// --synthetic-ratio R): round(R x training images) from a class-conditional GAN, in the training
// split's class proportions, written as marked PNGs and appended to the dataset as training-only
// samples (validation stays real).
#include <cstdint>
#include <filesystem>
#include <vector>

#include "medai/data/image_dataset.h"

namespace medai::synthesis {

// Appends the generated samples to `ds` (patient id "synthetic:<model>") and returns their
// indices. InvalidInput when the run is not a conditional GAN over exactly ds's classes.
std::vector<size_t> add_synthetic_images(data::ImageDataset& ds, const std::vector<size_t>& train,
                                         const std::filesystem::path& gan_run, double ratio,
                                         const std::filesystem::path& dir, uint64_t seed);

}  // namespace medai::synthesis
