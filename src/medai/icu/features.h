#pragma once
// Per-stay summaries for tree models: the descriptors (Age, Gender, Height, ICUType one-hot) and,
// for each of the 37 series, the number of observations, first, last, min, max, mean, standard
// deviation and the mean over the last 12 hours of the 48 (NaN where nothing was observed; the
// trees learn where missing goes); Urine also its total.
#include <string>
#include <vector>

#include "medai/icu/physionet.h"

namespace medai::icu {

const std::vector<std::string>& feature_names();
// The variable a feature summarises ("HR_last" -> "HR", "ICUType_3" -> "ICUType").
std::string feature_variable(const std::string& feature);

std::vector<float> stay_features(const Stay& stay);
// Row-major, stays.size() x feature_names().size().
std::vector<float> feature_matrix(const std::vector<Stay>& stays);

}  // namespace medai::icu
