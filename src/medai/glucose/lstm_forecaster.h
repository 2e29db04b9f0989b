#pragma once
// The LSTM glucose forecaster (libtorch behind this header): reads the last 2 h of CGM (plus the
// time of day) and predicts BG 5..60 min ahead; reported at 30 and 60 min. Trained on real CGM
// recordings split by patient.
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "medai/glucose/forecast.h"
#include "medai/glucose/recommend.h"

namespace medai::glucose {

struct ForecasterTrainOptions {
  std::filesystem::path data, out;    // folder of CGM CSVs (one per person); run folder
  double test_fraction = 0.2;         // patients sorted by id: the last 20% are held out
  double validation_fraction = 0.15;  // of the training patients (the last ones by id), for early stopping
  int history = 24;                   // readings (5 min apart)
  int hidden = 64, layers = 2;
  double dropout = 0.0;     // between LSTM layers
  bool time_of_day = true;  // feed the clock time (sin, cos) as well
  // Learn (and select the epoch) only on windows that do not touch straight-line runs > 1 h:
  // gap fills teach a model to draw lines. Evaluation always reports both subsets.
  bool skip_straight_runs = true;
  // Also feed insulin and carbohydrate per 5 min when every training recording has them.
  bool use_insulin_and_carbs = true;
  int epochs = 12, batch_size = 256, patience = 4;
  double lr = 2e-3, weight_decay = 1e-5;
  uint64_t seed = 1;
  int ensemble = 3;                // networks trained from seeds seed, seed+1, ...; predictions averaged
  int max_windows = 0;             // 0 = all training windows (a cap for smoke tests)
  std::string precision = "auto";  // auto | fp32 | bf16 (core/precision.h)
  bool progress = true;
  // Continue the interrupted run in `out` (its stored settings win over these); without it, a
  // folder that already holds a run is refused.
  bool resume = false;
};

class GlucoseForecaster {
 public:
  GlucoseForecaster();
  ~GlucoseForecaster();
  GlucoseForecaster(GlucoseForecaster&&) noexcept;
  GlucoseForecaster& operator=(GlucoseForecaster&&) noexcept;
  // Loads RUN/forecaster.pt with its model card (clear errors for a missing or damaged folder).
  static GlucoseForecaster load(const std::filesystem::path& run_dir);
  int history() const;
  const nlohmann::json& card() const;
  // BG at 30 and 60 min for each window.
  std::vector<std::array<double, 2>> predict(const std::vector<CgmSeries>& series,
                                             const std::vector<Window>& windows) const;
  // From the last `history()` readings (oldest first) and the clock time of the last one; a model
  // trained with insulin and carbs needs them per reading slot (U, g).
  std::array<double, 2> predict_one(const std::vector<double>& readings, int64_t last_minute_since_epoch,
                                    const std::vector<double>& insulin_u = {},
                                    const std::vector<double>& carbs_g = {}) const;
  bool uses_insulin_and_carbs() const;
  // A callable that shares this forecaster's networks: it stays valid after the forecaster is
  // moved or destroyed.
  BatchForecaster as_batch() const;
  struct Impl;
  friend nlohmann::json train_forecaster(const struct ForecasterTrainOptions&);

 private:
  std::shared_ptr<Impl> impl_;  // shared with as_batch() callables
};

// The forecaster as decision support's ForecastFn (serialised: safe to call from many threads);
// it declines (nullopt) when fewer than history() gap-free readings are given.
ForecastFn forecast_fn(std::shared_ptr<GlucoseForecaster> model);

// Trains, evaluates on the held-out patients against the three baselines and writes the run
// folder (forecaster.pt, model_card.json, curves.csv/png, test_report.json/txt); returns the card.
nlohmann::json train_forecaster(const ForecasterTrainOptions& options);

}  // namespace medai::glucose
