#pragma once
// Decision support for a clinician: the next insulin recommendation from a person's recent CGM,
// insulin and carbohydrate history, with its reasons (trend, forecast, insulin on board, the
// clinical dosing rule, and every safety rule that changed the dose).
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "medai/glucose/controller.h"

namespace medai::glucose {

// History CSV: timestamp (YYYY-MM-DD HH:MM[:SS]), cgm_mgdl (empty when no reading at that time),
// and optional insulin_u (units delivered then) and carbs_g (eaten then). Errors name the file,
// line and field: missing columns, unparseable times, times going backwards, jumping more than a
// day forward or lying in the future, NaN or non-numbers, negative insulin or carbs, CGM
// outside 20-600 mg/dL.
struct History {
  std::vector<int64_t> minute;  // minutes since 1970-01-01
  std::vector<std::optional<double>> cgm;
  std::vector<double> insulin_u, carbs_g;
};
History read_history(const std::filesystem::path& csv);
History parse_history(const std::string& csv_text, const std::string& source_name);

// Returns BG at 30 and 60 min from the last readings (oldest first, 5 min apart), the time of the
// last one, and the insulin (U) and carbs (g) logged in each reading's 5-minute slot; nothing when
// it cannot (too few readings).
using ForecastFn = std::function<std::optional<std::array<double, 2>>(
    const std::vector<double>& readings, int64_t last_minute, const std::vector<double>& insulin_u,
    const std::vector<double>& carbs_g)>;

struct Recommendation {
  double cgm_mgdl = 0, trend_mgdl_per_min = 0, iob_u = 0, carbs_now_g = 0;
  std::array<double, 2> forecast{};  // 30, 60 min
  std::string forecast_method;
  Dose proposed, dose;  // before and after the safety layer
  std::vector<std::string> reasons, safety_rules_fired;
  nlohmann::json to_json() const;
  std::string to_text() const;
};

// A person's settings as JSON (what the server receives): basal_u_per_h, cr, cf, tdi and
// optional target (140 mg/dL); validated (validate_settings), errors naming the field.
PatientSettings settings_from_json(const nlohmann::json& settings);

// `carbs_now_g`: a meal about to be eaten (added to carbs logged in the last 5 minutes).
// Throws InvalidInput when the last CGM reading is older than 15 minutes or there is none.
// `history_includes_basal`: insulin_u lists every unit delivered (a pump log); when false (boluses
// only) the programmed basal is assumed delivered and its steady insulin on board is added.
Recommendation recommend(const History& h, const PatientSettings& p, double carbs_now_g, const ForecastFn& forecaster,
                         const SafetyConfig& safety = {}, bool history_includes_basal = true);

}  // namespace medai::glucose
