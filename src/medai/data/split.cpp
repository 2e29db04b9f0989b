#include "medai/data/split.h"

#include <algorithm>
#include <map>
#include <random>

#include "medai/core/error.h"

namespace medai::data {

Split grouped_stratified_split(const ImageDataset& ds, double fraction, uint64_t seed) {
  if (!(fraction > 0 && fraction < 1)) fail_invalid("validation fraction must be in (0, 1)");
  std::map<std::string, std::vector<size_t>> by_patient;
  for (size_t i = 0; i < ds.samples.size(); ++i) by_patient[ds.samples[i].patient_id].push_back(i);
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
  if (split.train.empty() || split.validation.empty())
    fail_invalid(ds.source.string() + ": too few patients (" + std::to_string(by_patient.size()) +
                 ") for a train/validation split");
  return split;
}

}  // namespace medai::data
