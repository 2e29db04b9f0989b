#pragma once
// Meal scenarios: which meals (grams of carbohydrate) are announced at which minute.
//  - fixed: a list of meals, e.g. from "07:00 45, 12:00 70, 18:00 80" or a CSV minute,carbs_g;
//  - random: simglucose's daily meal statistics (breakfast/lunch/dinner with probability 0.95,
//    three snacks with probability 0.3, truncated-normal times, normal sizes), seeded;
//  - replay: a logged schedule (see schedule.h), insulin included.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace medai::glucose {

class Scenario {
 public:
  Scenario() = default;
  explicit Scenario(std::map<int, double> meals) : meals_(std::move(meals)) {}
  // Carbohydrate announced at `minute` (0 when none), g.
  double carbs_at(int minute) const;
  const std::map<int, double>& meals() const { return meals_; }
  double total_carbs() const;

 private:
  std::map<int, double> meals_;  // minute -> grams
};

// `days` of simglucose-style random meals starting at midnight; the same seed gives the same days.
Scenario random_scenario(uint64_t seed, int days);
// "HH:MM grams" items separated by commas, repeated every day for `days` days (e.g.
// "07:00 45, 12:00 70, 18:00 80"). Errors name the item.
Scenario daily_scenario(const std::string& spec, int days);
// CSV minute,carbs_g (file/line/field errors).
Scenario read_scenario_csv(const std::filesystem::path& csv);
// What --scenario accepts: "random" (seeded), a .csv path, or a daily spec as above.
Scenario parse_scenario(const std::string& text, uint64_t seed, int days);

}  // namespace medai::glucose
