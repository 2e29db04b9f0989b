#pragma once
// A small model trained once per test binary on a 120-image subset of the Kermany data.
#include <filesystem>
#include <string>

#include "support/test_support.h"

namespace medai::test {

// Folder with subset.csv (absolute paths into shared/data, with patient ids).
std::filesystem::path subset_dir();
// A run folder trained with `medai image train` on the subset (size 64, 2 epochs); empty if the
// shared data is absent.
std::filesystem::path trained_run();
// The flags used to train it.
std::string small_train_flags();
// DIR/index.csv of the first `per_modality` nuclei images of each modality (absolute paths, with
// the modality column); returns DIR.
std::filesystem::path write_nuclei_subset(const std::filesystem::path& dir, int per_modality);

}  // namespace medai::test
