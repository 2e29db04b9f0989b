#pragma once
// The out-of-distribution guard of an image classifier: does this input look like what the
// model was trained on? Two layers, both cheap:
//  1. Input checks that need no network: a blank or flat image, a colour image where radiographs
//     are grey, DICOM metadata that contradicts the training population (modality, body part,
//     view, patient age) when the file carries it.
//  2. A feature-space distance (Lee et al. 2018): the Mahalanobis distance of the network's
//     pooled penultimate features to the nearest class mean, under one shared covariance fitted on
//     the training images (shrunk towards its diagonal so that it inverts). Its threshold is a
//     quantile of the validation images' distances, so that share of in-distribution images passes.
// Predictions of a flagged input carry "in_distribution": false and the reason; the label is
// withheld (callers print "withheld" instead of a class).
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace medai::io {
struct Image;
}

namespace medai::imaging {

inline constexpr const char* kGuardFile = "ood_guard.pt";  // the feature guard (feature_guard.h)

// What the training population looks like in DICOM metadata; empty lists / no age = not checked.
struct Expected {
  std::vector<std::string> modalities{"CR", "DX"};  // DICOM Modality
  std::vector<std::string> body_parts{"CHEST"};     // BodyPartExamined
  std::vector<std::string> views;                   // ViewPosition (e.g. AP, PA)
  std::optional<double> min_age_years, max_age_years;
  nlohmann::json to_json() const;
  static Expected from_json(const nlohmann::json& j, const std::string& where);
};

struct GuardVerdict {
  bool in_distribution = true;
  std::optional<double> score;  // Mahalanobis distance (when the feature check ran)
  std::string reason;           // why not, in words (empty when in distribution)
};

// Checks that need no network (layer 1); the reason when the input is out of distribution.
std::optional<std::string> check_input(const io::Image& image, const Expected& expected);

// The verdict for one input: the input checks first, then the feature distance.
GuardVerdict judge(const std::optional<std::string>& input_problem, std::optional<double> distance, double threshold);

}  // namespace medai::imaging
