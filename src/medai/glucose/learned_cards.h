#pragma once
// Model cards of the learned glucose models: the LSTM forecaster and the PPO insulin policy (the
// shared core in core/model_card.h plus what their loaders read). Cards of medai 0.1 still load.
#include <string>

#include "medai/core/model_card.h"

namespace medai::glucose {

inline constexpr const char* kForecasterTask = "glucose-forecast";
inline constexpr const char* kPolicyTask = "glucose-ppo";

struct ForecasterCard {
  core::ModelCardCore core;
  int history = 24;  // CGM readings, 5 min apart
  int hidden = 64, layers = 2;
  int ensemble = 1;  // networks averaged
  double dropout = 0.0;
  bool time_of_day = true;
  bool insulin_and_carbs = false;
  std::string outputs;
  nlohmann::json ridge_baseline = nlohmann::json::object();  // RidgeForecaster::to_json
  nlohmann::json extra = nlohmann::json::object();           // report sections: test, ...

  nlohmann::json to_json() const;
  static ForecasterCard from_json(const nlohmann::json& card, const std::string& where);
};

struct PolicyCard {
  core::ModelCardCore core;
  int hidden = 64;
  nlohmann::json extra = nlohmann::json::object();  // observation, action, reward, safety, evaluation, ...

  nlohmann::json to_json() const;
  static PolicyCard from_json(const nlohmann::json& card, const std::string& where);
};

}  // namespace medai::glucose
