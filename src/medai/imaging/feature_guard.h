#pragma once
// The feature-space half of the out-of-distribution guard (ood_guard.h): the Mahalanobis
// distance of pooled penultimate features to the nearest class mean (Lee et al. 2018), one shared
// covariance shrunk towards its mean variance. libtorch behind this header's users.
#include <torch/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace medai::imaging {

class FeatureGuard {
 public:
  // Fits class means and the shrunk shared covariance on `features` (N x D, pooled) with `labels`.
  static FeatureGuard fit(const torch::Tensor& features, const std::vector<int>& labels, int classes);
  // Distance of each row of `features` (N x D) to the nearest class mean.
  std::vector<double> distances(const torch::Tensor& features) const;
  void set_threshold(double t) { threshold_ = t; }
  double threshold() const { return threshold_; }
  void save(const std::filesystem::path& file) const;
  static FeatureGuard load(const std::filesystem::path& file, int64_t dim, const std::string& where);
  int64_t dim() const { return means_.defined() ? means_.size(1) : 0; }

 private:
  torch::Tensor means_;      // classes x D (double)
  torch::Tensor precision_;  // D x D (double)
  double threshold_ = 0;
};

}  // namespace medai::imaging
