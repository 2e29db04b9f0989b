#include "medai/glucose/scenario.h"

#include <cmath>
#include <random>
#include <sstream>

#include "medai/core/error.h"
#include "medai/glucose/schedule.h"

namespace medai::glucose {

double Scenario::carbs_at(int minute) const {
  auto it = meals_.find(minute);
  return it == meals_.end() ? 0.0 : it->second;
}

double Scenario::total_carbs() const {
  double s = 0;
  for (const auto& [m, g] : meals_) s += g;
  return s;
}

Scenario random_scenario(uint64_t seed, int days) {
  // simglucose's RandomScenario: [breakfast, snack, lunch, snack, dinner, snack].
  static constexpr double kProb[6] = {0.95, 0.3, 0.95, 0.3, 0.95, 0.3};
  static constexpr double kLo[6] = {5, 9, 10, 14, 16, 20}, kHi[6] = {9, 10, 14, 16, 20, 23};
  static constexpr double kMu[6] = {7, 9.5, 12, 15, 18, 21.5};
  static constexpr double kSd[6] = {60, 30, 60, 30, 60, 30};
  static constexpr double kAmount[6] = {45, 10, 70, 10, 80, 10}, kAmountSd[6] = {10, 5, 10, 5, 10, 5};
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::normal_distribution<double> n(0, 1);
  std::map<int, double> meals;
  for (int d = 0; d < days; ++d) {
    for (int k = 0; k < 6; ++k) {
      if (u(rng) >= kProb[k]) continue;
      double lo = kLo[k] * 60, hi = kHi[k] * 60, mu = kMu[k] * 60, t = 0;
      do t = mu + kSd[k] * n(rng);  // truncated normal by rejection
      while (t < lo || t > hi);
      double g = std::max(std::round(kAmount[k] + kAmountSd[k] * n(rng)), 0.0);
      if (g > 0) meals[d * 1440 + static_cast<int>(std::round(t))] += g;
    }
  }
  return Scenario(std::move(meals));
}

Scenario daily_scenario(const std::string& spec, int days) {
  std::map<int, double> daily;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    int h = -1, m = -1;
    double g = -1;
    char colon = 0, extra = 0;
    std::istringstream is(item);
    if (!(is >> h >> colon >> m >> g) || colon != ':' || (is >> extra) || h < 0 || h > 23 || m < 0 || m > 59 ||
        !std::isfinite(g) || g < 0)
      fail_invalid("scenario item '" + item + "': expected 'HH:MM grams' with a non-negative amount, e.g. '07:30 45'");
    daily[h * 60 + m] += g;
  }
  if (daily.empty()) fail_invalid("scenario '" + spec + "' lists no meals");
  std::map<int, double> meals;
  for (int d = 0; d < days; ++d)
    for (const auto& [minute, g] : daily) meals[d * 1440 + minute] = g;
  return Scenario(std::move(meals));
}

Scenario read_scenario_csv(const std::filesystem::path& csv) {
  std::map<int, double> meals;
  for (const auto& [minute, e] : read_schedule_meals(csv)) meals[minute] = e;
  return Scenario(std::move(meals));
}

Scenario parse_scenario(const std::string& text, uint64_t seed, int days) {
  if (text == "random") return random_scenario(seed, days);
  if (text.size() > 4 && text.substr(text.size() - 4) == ".csv") return read_scenario_csv(text);
  return daily_scenario(text, days);
}

}  // namespace medai::glucose
