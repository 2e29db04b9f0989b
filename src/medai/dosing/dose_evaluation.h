#pragma once
// How good a dose model is on held-out patients (those with a stable dose): mean absolute error
// in mg/week, the share predicted within 20 % of the stable dose, the dose-band (< 21, 21-49,
// > 49 mg/week) accuracy, the share of patients given a recommendation (`coverage`), the share
// whose dose lies inside the prediction interval (`interval_coverage`), bootstrap CIs, results per
// dose band and per race group (the subgroup audit), and beside them the IWPC formulas and the
// fixed 35 mg/week on the complete cases of the same patients (the formulas' own domain).
#include <vector>

#include <nlohmann/json.hpp>  // DoseEvaluation holds a report by value

#include "medai/dosing/dose_model.h"

namespace medai::dosing {

struct RowPrediction {
  size_t row = 0;
  DosePrediction prediction;
};

struct DoseEvaluation {
  nlohmann::json report;                 // the figures (see above)
  std::vector<RowPrediction> predicted;  // every patient given a recommendation, with or without a dose
};

// `patients`: the held-out patients (with or without a dose); `bootstrap` resamples for the CIs.
DoseEvaluation evaluate_dose_model(const DoseModel& model, const std::vector<WarfarinPatient>& patients,
                                   int bootstrap = 1000, uint64_t seed = 7);

// The same figures (mae_mg_week, within_20pct, bucket_accuracy, n) for predicted vs stable doses.
nlohmann::json dose_figures(const std::vector<double>& predicted, const std::vector<double>& stable);

}  // namespace medai::dosing
