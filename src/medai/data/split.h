#pragma once
// Patient-grouped, label-stratified splits: no patient's images on both sides.
#include <cstdint>
#include <string>
#include <vector>

#include "medai/data/image_dataset.h"

namespace medai::data {

struct Split {
  std::vector<size_t> train, validation;  // sample indices
};

// Puts about `validation_fraction` of each class's patients in validation (a patient's class
// is its most frequent label). Deterministic for a seed.
Split grouped_stratified_split(const ImageDataset& ds, double validation_fraction, uint64_t seed);

// About `fraction` of each class's images among `indices`, whole patients at a time (the
// low-data regimes of medai image train --train-fraction). Deterministic for a seed.
std::vector<size_t> subsample_patients(const ImageDataset& ds, const std::vector<size_t>& indices, double fraction,
                                       uint64_t seed);

}  // namespace medai::data
