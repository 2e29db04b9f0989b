#include "medai/data/split.h"

#include <algorithm>
#include <map>
#include <random>

#include "medai/core/error.h"

namespace medai::data {

namespace {

// About `fraction` of each class's images among `indices`, whole patients at a time, go to
// `validation`; the rest to `train`.
Split split_patients(const ImageDataset& ds, const std::vector<size_t>& indices, double fraction, uint64_t seed,
                     std::map<std::string, std::vector<size_t>>& by_patient) {
  for (size_t i : indices) by_patient[ds.samples[i].patient_id].push_back(i);
  // Patients per stratum, in a stable order before shuffling.
  std::vector<std::vector<const std::vector<size_t>*>> strata(ds.class_names.size());
  for (const auto& [pid, idx] : by_patient) {
    std::vector<int> counts(ds.class_names.size(), 0);
    for (size_t i : idx) counts[ds.samples[i].label]++;
    int major = static_cast<int>(std::max_element(counts.begin(), counts.end()) - counts.begin());
    strata[major].push_back(&idx);
  }
  std::mt19937_64 rng(seed);
  Split split;
  for (auto& patients : strata) {
    std::shuffle(patients.begin(), patients.end(), rng);
    size_t images = 0;
    for (auto* p : patients) images += p->size();
    size_t target = static_cast<size_t>(fraction * images + 0.5), taken = 0;
    for (auto* p : patients) {
      auto& side = taken < target ? split.validation : split.train;
      if (taken < target) taken += p->size();
      side.insert(side.end(), p->begin(), p->end());
    }
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.validation.begin(), split.validation.end());
  return split;
}

}  // namespace

Split grouped_stratified_split(const ImageDataset& ds, double fraction, uint64_t seed) {
  if (!(fraction > 0 && fraction < 1)) fail_invalid("validation fraction must be in (0, 1)");
  std::vector<size_t> all(ds.samples.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  std::map<std::string, std::vector<size_t>> by_patient;
  Split split = split_patients(ds, all, fraction, seed, by_patient);
  if (split.train.empty() || split.validation.empty())
    fail_invalid(ds.source.string() + ": too few patients (" + std::to_string(by_patient.size()) +
                 ") for a train/validation split");
  return split;
}

std::vector<size_t> subsample_patients(const ImageDataset& ds, const std::vector<size_t>& indices, double fraction,
                                       uint64_t seed) {
  if (!(fraction > 0 && fraction <= 1)) fail_invalid("--train-fraction must be in (0, 1]");
  if (fraction == 1) return indices;
  std::map<std::string, std::vector<size_t>> by_patient;
  auto kept = split_patients(ds, indices, fraction, seed ^ 0x5eed5eedULL, by_patient).validation;
  if (kept.empty()) fail_invalid("--train-fraction " + std::to_string(fraction) + " keeps no training patient");
  return kept;
}

}  // namespace medai::data
