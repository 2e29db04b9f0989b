#pragma once
// A GRU-D network (Che et al., Sci Rep 2018) for the irregular, sparse ICU series: the 48 h are
// binned hourly; at each hour every variable has a value (the bin's mean), a mask (observed or not)
// and the hours since it was last observed. Missing inputs decay from their last value towards
// the training mean, and the hidden state decays with the time since each input was seen, at
// learned rates. The static descriptors join the last hidden state before the output layer.
// Trained with the shared Trainer (AdamW, early stopping on validation AUROC). Header free of
// libtorch.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "medai/icu/physionet.h"

namespace medai::icu {

struct SequenceOptions {
  int hidden = 64;
  int epochs = 40;
  int patience = 6;
  int batch_size = 64;
  double lr = 2e-3, weight_decay = 1e-4, dropout = 0.3;
  double validation_fraction = 0.15;  // of the training stays, stratified, for early stopping
  uint64_t seed = 1;
  bool progress = true;
  // Data-parallel over c10d (train/distributed.h; RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT): each
  // rank takes a shard of every batch of batch_size; rank 0 alone logs and shows progress.
  bool distributed = false;
  std::filesystem::path curves_csv;  // when set: epoch, train_loss, val_auroc, lr, seconds per epoch
};

class SequenceModel {
 public:
  SequenceModel();
  ~SequenceModel();
  SequenceModel(SequenceModel&&) noexcept;
  SequenceModel& operator=(SequenceModel&&) noexcept;

  static SequenceModel train(const std::vector<Stay>& stays, const std::vector<int>& died,
                             const SequenceOptions& options = {});
  std::vector<double> log_odds(const std::vector<Stay>& stays) const;
  // Integrated gradients (Sundararajan et al. 2017) of the log-odds from a baseline where every
  // value and descriptor is at the training mean (masks and timing kept), `steps` Riemann steps,
  // summed per variable; they add up to log_odds - baseline_log_odds (to the Riemann error).
  struct Attributions {
    double baseline_log_odds = 0;
    std::map<std::string, double> per_variable;
  };
  Attributions attributions(const Stay& stay, int steps = 64) const;
  void save(const std::filesystem::path& dir) const;
  static SequenceModel load(const std::filesystem::path& dir);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace medai::icu
