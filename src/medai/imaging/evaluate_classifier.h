#pragma once
// `medai image evaluate`: a run folder's model on a labelled dataset, at the model card's
// threshold with its calibration.
#include <filesystem>
#include <string>

#include "medai/imaging/report.h"

namespace medai::imaging {

struct EvaluateOptions {
  std::filesystem::path model, data;
  std::string split;                 // CSV 'split' filter
  std::filesystem::path report_dir;  // plots go here when set
  int bootstrap_reps = 1000;
  bool progress = true;
};

ClassifierReport evaluate_classifier(const EvaluateOptions& options);

}  // namespace medai::imaging
