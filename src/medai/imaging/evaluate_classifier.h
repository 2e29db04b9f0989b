#pragma once
// `medai image evaluate`: a run folder's model on a labelled dataset, at the model card's
// threshold with its calibration; optionally under simulated shift: the same images resampled to
// other class mixes (with and without the prior-shift adjustment), per subgroup of an index
// column, at a stated deployment prevalence, and with each image blurred, noisier, zoomed... (the
// acquisition changes of transforms::perturb).
#include <torch/types.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "medai/data/image_dataset.h"
#include "medai/imaging/report.h"

namespace medai::imaging {

struct EvaluateOptions {
  std::filesystem::path model, data;
  std::string split;                 // CSV 'split' filter
  std::filesystem::path report_dir;  // plots go here when set
  int bootstrap_reps = 1000;
  std::vector<double> class_mix;           // prevalences to resample the data to (empty: none)
  std::string group_column;                // an index column to report per value of (e.g. subtype)
  std::optional<double> prevalence;        // adjust the probabilities to it before scoring
  int tta = 1;                             // test-time augmentation: logits averaged over this many views
  std::vector<std::string> perturbations;  // transforms::perturb names to re-score the images under
  std::filesystem::path scores_csv;        // per-image probabilities written here when set
  bool progress = true;
};

struct Evaluation {
  ClassifierReport report;
  nlohmann::json shift = nlohmann::json::object();  // class_mix, by_group, prevalence, perturbations, tta
};

Evaluation evaluate_classifier(const EvaluateOptions& options);

// Resampling to class mixes: for each prevalence q, `reps` stratified bootstrap samples of the
// data's size with a share q of positives; the mean of accuracy, sensitivity, specificity, PPV,
// NPV, Brier and ECE, for the probabilities as they are and adjusted to q (metrics::
// shift_prevalence from `calibrated_at`, the threshold moved with them).
nlohmann::json class_mix_report(const std::vector<double>& probs, const std::vector<int>& labels, double threshold,
                                double calibrated_at, const std::vector<double>& mixes, int reps = 200,
                                uint64_t seed = 7);
// Per value of a grouping: n, positives, accuracy, sensitivity, specificity, ECE, AUROC within the
// group when it holds both classes, and AUROC of its positives against every negative when it
// holds positives only (e.g. viral pneumonia against all normal films).
// The same images scored as they are ("none") and under each transforms::perturb change, at
// `threshold`: name, auroc, accuracy, sensitivity, specificity, brier, ece (+ guard_acceptance
// with a guard). `labels` are 1 for the positive class; `probabilities` maps logits to positive
// probabilities (default: the model's calibrated ones).
class ClassifierModel;
nlohmann::json perturbation_report(ClassifierModel& model, const data::ImageDataset& ds,
                                   const std::vector<size_t>& indices, const std::vector<int>& labels, double threshold,
                                   const std::vector<std::string>& names, int tta = 1, bool progress = true,
                                   const std::function<std::vector<double>(const torch::Tensor&)>& probabilities = {});
nlohmann::json group_report(const std::vector<double>& probs, const std::vector<int>& labels, double threshold,
                            const std::vector<std::string>& groups);

}  // namespace medai::imaging
