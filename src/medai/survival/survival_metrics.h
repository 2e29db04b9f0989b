#pragma once
// Discrimination and calibration of survival predictions with inverse probability of censoring
// weights (IPCW), the censoring distribution G estimated by Kaplan-Meier on the evaluated data:
// Harrell's C, Uno's C (pairs weighted by 1 / G(T_i-)^2), the Brier score at t (Graf et al. 1999:
// events before t weighted by 1 / G(T_i-), survivors past t by 1 / G(t)) and its integral over a
// time grid divided by the grid's span (the integrated Brier score).
#include <cstdint>
#include <functional>
#include <vector>

namespace medai::survival {

// Predicted survival of subject i at the grid's times.
using SurvivalCurves = std::vector<std::vector<double>>;

struct HorizonCalibration {
  double horizon = 0;
  std::vector<double> predicted, observed;  // per bin: mean predicted S(t), Kaplan-Meier S(t)
  std::vector<size_t> count;
  double ece = 0;  // sum over bins of |observed - predicted| weighted by the bin's share
};

struct SurvivalScores {
  double c_harrell = 0, c_uno = 0, ibs = 0;
  std::vector<double> grid, brier;  // the Brier score at each grid time
  size_t n = 0, events = 0;
  double horizon = 0, auc_at_horizon = 0;  // the grid time nearest the horizon
  HorizonCalibration calibration;
  // 95 % percentile-bootstrap limits (filled by bootstrap_survival_scores).
  double c_harrell_lower = 0, c_harrell_upper = 0, c_uno_lower = 0, c_uno_upper = 0, ibs_lower = 0, ibs_upper = 0,
         auc_lower = 0, auc_upper = 0;
};

// 100 times from the first observed time to the 90th percentile of observed times (where the
// censoring weights are still moderate).
std::vector<double> default_time_grid(const std::vector<double>& time, int points = 100);

// `risk`: higher = shorter survival (e.g. the Cox linear predictor); `curves[i]` at `grid`.
// `horizon` (<= 0: the grid's middle time) picks the grid time for the AUC and the calibration.
SurvivalScores score_survival(const std::vector<double>& time, const std::vector<int>& event,
                              const std::vector<double>& risk, const SurvivalCurves& curves,
                              const std::vector<double>& grid, double horizon = 0);
// score_survival plus its CIs from `reps` resamples of the subjects (the censoring distribution
// re-estimated in each).
SurvivalScores bootstrap_survival_scores(const std::vector<double>& time, const std::vector<int>& event,
                                         const std::vector<double>& risk, const SurvivalCurves& curves,
                                         const std::vector<double>& grid, double horizon = 0, int reps = 200,
                                         uint64_t seed = 7);

}  // namespace medai::survival
