#pragma once
// `medai gan evaluate`: how realistic a GAN's images are and whether it copies its training
// images. Fidelity: Fréchet distance and KID on the pooled features of a medai image classifier
// trained on real images (not Inception-FID: no ImageNet weights are available offline), beside
// the same distances between two disjoint, patient-grouped halves of the real images; precision
// and recall of the distributions (Kynkäänniemi et al. 2019). Memorisation: every sample's nearest
// training image in pixels and in features, against the 1st percentile of training-to-training
// nearest-neighbour distances, with the closest pairs saved side by side.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace medai::synthesis {

struct GanEvalOptions {
  std::filesystem::path model, data;
  std::string split;               // CSV 'split' filter of --data
  std::filesystem::path features;  // an image classifier run (default: the GAN run's features/)
  std::filesystem::path out;       // closest pairs and per-sample table (default: RUN/evaluation)
  int64_t n = 0;                   // samples (0 = as many as half of --data)
  int pairs = 16;                  // closest pairs saved as PNG
  uint64_t seed = 1;
  bool progress = true;
};

nlohmann::json evaluate_gan(const GanEvalOptions& options);

}  // namespace medai::synthesis
