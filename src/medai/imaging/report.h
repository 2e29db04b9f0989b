#pragma once
// The evaluation report of a binary image classifier: threshold metrics, AUROC with a bootstrap
// CI, calibration, ROC; as JSON, as a printed table, and as plots.
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "medai/metrics/bootstrap.h"
#include "medai/metrics/calibration.h"
#include "medai/metrics/classification.h"

namespace medai::imaging {

struct ClassifierReport {
  int64_t n = 0;
  double threshold = 0.5;
  double auroc = 0;
  metrics::Interval auroc_ci;
  metrics::BinaryMetrics at_threshold;
  metrics::Interval accuracy_ci, sensitivity_ci, specificity_ci;
  double brier = 0;
  metrics::CalibrationReport calibration;
  metrics::RocCurve roc;
  std::string positive_class;
};

// `probs` are calibrated probabilities of the positive class.
ClassifierReport make_report(const std::vector<double>& probs, const std::vector<int>& labels, double threshold,
                             const std::string& positive_class, int bootstrap_reps = 1000, uint64_t seed = 7);
nlohmann::json report_json(const ClassifierReport& r);
std::string report_table(const ClassifierReport& r);
// roc.png and reliability.png in `dir`.
void write_report_plots(const ClassifierReport& r, const std::filesystem::path& dir, const std::string& title);

}  // namespace medai::imaging
