#pragma once
// A site's model and data for federated learning, the same object for the centralised and
// local-only baselines: the task's network (ICU: an MLP on the per-stay summaries of
// icu/features.h; chest X-ray: a small CNN at 64 px with GroupNorm, no BatchNorm, whose batch
// statistics would leak and break DP-SGD's per-sample sensitivity), the site's patients split by
// patient into train / validation / test (70/15/15, from a hash of the patient id, so every process
// agrees), local training (Adam; FedProx's proximal term; DP-SGD with Poisson sampling, per-sample
// clipping and Gaussian noise) and scores. Header free of libtorch.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace medai::federated {

enum class Part { Train, Validation, Test };

// Where a site's data is: task icu (--data a PhysioNet 2012 folder, --outcomes its file) or xray
// (--data a class-folder tree or CSV index); `partition` keeps one site's share of a shared
// collection (simulations): "" all, "icutype:K" (ICU type K = 1..4), "part:K/N" (patients by hash),
// "skew:K/N" (patients by hash with class-dependent odds: site 1 has the most positives).
struct SiteSource {
  std::string task;
  std::filesystem::path data, outcomes;
  std::string partition;
};

const std::vector<std::string>& task_names();

// Per input feature over the training split: observed count, sum, sum of squares (tabular tasks).
struct FeatureStats {
  std::vector<double> count, sum, sum_sq;
  void merge(const FeatureStats& other);
};

struct LocalTrainOptions {
  int epochs = 1, batch_size = 32;
  double lr = 1e-3;
  double prox_mu = 0;                // FedProx: mu/2 ||w - w_start||^2
  double dp_noise = 0, dp_clip = 1;  // DP-SGD noise multiplier (0: off) and per-sample L2 clip
  uint64_t seed = 1;
};

struct LocalTrainResult {
  double loss = 0;
  int64_t steps = 0;
};

class SiteModel {
 public:
  // Reads one site's data (or the union of several sources: the centralised baseline); fails
  // (InvalidInput) naming the source when it holds no training example of both classes.
  static SiteModel open(const std::vector<SiteSource>& sources, uint64_t seed);
  SiteModel(SiteModel&&) noexcept;
  SiteModel& operator=(SiteModel&&) noexcept;
  ~SiteModel();

  const std::string& task() const;
  // The model spec every site of a federation must share (task, layers, parameter count).
  nlohmann::json architecture() const;
  size_t examples(Part part) const;
  size_t positives(Part part) const;
  FeatureStats feature_stats() const;
  // The normaliser from pooled statistics (tabular; images: fixed), then applied to the data.
  static nlohmann::json preprocessing_from(const std::string& task, const FeatureStats& pooled);
  void set_preprocessing(const nlohmann::json& preprocessing);

  std::vector<float> parameters() const;
  void set_parameters(const std::vector<float>& flat);
  LocalTrainResult train(const LocalTrainOptions& options);
  std::vector<double> scores(Part part) const;  // log-odds
  std::vector<int> labels(Part part) const;
  double auroc(Part part) const;

 private:
  SiteModel();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The task's freshly initialised network, flattened (the coordinator's round-0 model).
std::vector<float> initial_parameters(const std::string& task, uint64_t seed);
nlohmann::json task_architecture(const std::string& task);

}  // namespace medai::federated
