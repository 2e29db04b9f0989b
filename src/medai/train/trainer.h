#pragma once
// One training engine for every model family (after MONAI's engines and handlers): the epoch and
// step loop, the learning-rate schedule, early stopping on a named validation metric, the best
// state, an atomic checkpoint every epoch with resume (kill -9 safe), curves and a progress bar
// with rate and ETA. The model supplies callbacks; this header needs no libtorch (the torch-side
// helpers are in train/torch_helpers.h).
#include <filesystem>
#include <functional>
#include <limits>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "medai/train/checkpoint.h"
#include "medai/train/curves.h"
#include "medai/train/schedule.h"

namespace medai::train {

// Keeps the best value of a metric seen so far (model selection, early stopping).
class Selector {
 public:
  Selector(bool maximize, double min_delta = 0.0)
      : maximize_(maximize),
        min_delta_(min_delta),
        best_(maximize ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity()) {}
  // True when `value` (at `step`) beats the best by more than min_delta; then it becomes the best.
  bool offer(double value, int step);
  double best() const { return best_; }
  int best_step() const { return best_step_; }
  int since_best() const { return since_best_; }  // offers since the last improvement
  void restore(double best, int best_step, int since_best) {
    best_ = best, best_step_ = best_step, since_best_ = since_best;
  }

 private:
  bool maximize_;
  double min_delta_, best_;
  int best_step_ = 0, since_best_ = 0;
};

using Metrics = std::vector<std::pair<std::string, double>>;  // in the order they were computed

struct EpochRecord {
  int epoch = 0;
  double train_loss = 0, lr = 0, seconds = 0;
  Metrics metrics;  // validation
  double metric(const std::string& name) const;
};

struct TrainerOptions {
  int epochs = 1;
  int64_t steps_per_epoch = 1;
  Schedule schedule;    // lr of each step (total_steps is set by the caller)
  std::string monitor;  // validation metric for early stopping and the best state
  bool maximize = true;
  double min_delta = 0.0;
  int patience = 5;             // epochs without improvement before stopping
  std::string label = "epoch";  // progress bar: "<label> 3/12"
  std::string unit = "batches";
  int64_t units_per_epoch = 0;  // progress bar total (0 = steps_per_epoch)
  bool log_epochs = true;       // one info line per epoch (else debug)
  bool progress = true;
  // A run folder: an atomic checkpoint after every epoch (checkpoints/epoch-N/ then
  // train_state.json pointing at it). Empty: nothing written (in-memory training).
  std::filesystem::path run_dir;
  bool resume = false;
  const nlohmann::json* run_options = nullptr;  // stored in the state, given back by resume_options()
};

struct TrainerHooks {
  std::function<void(int epoch)> begin_epoch;  // train mode, shuffling
  // One optimisation step at learning rate `lr`: returns the loss and the units processed (for
  // the progress bar), or nothing when the data ran out early.
  std::function<std::optional<std::pair<double, int64_t>>(int64_t step_in_epoch, double lr)> train_step;
  std::function<Metrics(int epoch)> validate;
  std::function<void()> save_best;  // the monitored metric improved: keep this state
  std::function<void(const std::filesystem::path&dir)> save_checkpoint, load_checkpoint;
  std::function<void(const std::vector<EpochRecord>& history)> end_epoch;  // after the checkpoint: curves
};

struct TrainResult {
  std::vector<EpochRecord> history;
  int best_epoch = 0;
  double best_value = 0;
  bool stopped_early = false;
  double seconds = 0;  // including the time before a resume
};

TrainResult fit(const TrainerOptions& options, const TrainerHooks& hooks);

// The history as curves: epoch, train_loss, the validation metrics, lr, seconds.
Curves epoch_curves(const std::vector<EpochRecord>& history);

// The settings of the interrupted run in `run_dir` (they win over the command line on resume);
// a clear error when there is nothing to resume.
nlohmann::json resume_options(const std::filesystem::path& run_dir);
// A run's state, its card, or per-member runs (members/, the forecaster's ensemble) are there.
bool holds_training_run(const std::filesystem::path& run_dir);
// Refuses to start a fresh run in a folder that already holds one.
void check_fresh_run_folder(const std::filesystem::path& run_dir);

}  // namespace medai::train
