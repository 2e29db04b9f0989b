#pragma once
// The image classifier's model card (model_card.json of an image run folder): the shared core
// plus classes, input size, operating point and calibration. Training and import both write it
// through ClassifierCard::to_json; ClassifierModel reads it through ClassifierCard::from_json.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "medai/core/model_card.h"
#include "medai/imaging/ood_guard.h"

namespace medai::imaging {

inline constexpr const char* kClassifierTask = "binary image classification";

struct ClassifierCard {
  core::ModelCardCore core;
  std::vector<std::string> classes;  // in output order
  int positive_index = 1;            // the class the probability and the threshold are for
  int image_size = 128;              // input side, pixels
  int channels = 1;
  std::vector<std::string> preprocessing_steps;
  struct OperatingPoint {
    double threshold = 0.5;  // on the calibrated positive-class probability
    std::string method;      // youden | target_sensitivity | given at import
    std::optional<double> target_sensitivity;
    std::string chosen_on;                                  // e.g. "validation split"
    std::optional<std::pair<double, double>> threshold_ci;  // bootstrap of the choice on validation
  } operating_point;
  struct Calibration {
    std::string method = "none";
    std::vector<double> logit_offsets;  // added to the logits before the temperature (empty = none)
    double temperature = 1.0;
    std::optional<double> prevalence;                  // positive share where it was fitted (the probabilities' prior)
    nlohmann::json report = nlohmann::json::object();  // NLL and ECE before/after
  } calibration;
  struct Guard {  // the out-of-distribution guard (imaging/ood_guard.h); absent in older runs
    bool present = false;
    double threshold = 0;  // on the feature distance
    int64_t dim = 0;       // pooled feature size
    Expected expected;
    nlohmann::json report = nlohmann::json::object();  // how it was fitted, measured acceptance
  } guard;
  nlohmann::json extra = nlohmann::json::object();  // report sections: training_run, imported_from, ...

  nlohmann::json to_json() const;
  // The positive share the probabilities were calibrated at: calibration.prevalence, else (older
  // cards) the training mix from data.class_counts; nothing when neither is there.
  std::optional<double> prior() const;
  double require_prior() const;  // the same, or InvalidInput saying to retrain
  // Checks every field a prediction reads (errors name `where` and the field).
  static ClassifierCard from_json(const nlohmann::json& card, const std::string& where);
};

}  // namespace medai::imaging
