#pragma once
// Glycaemic metrics, all in mg/dL: the international consensus CGM measures (Battelino et al.
// 2019), the Kovatchev risk indices (LBGI / HBGI / risk index), and forecast accuracy (RMSE,
// MAE, Clarke error grid zones, Clarke et al. 1987).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace medai::metrics {

struct GlycemicSummary {
  int64_t n = 0;
  double mean = 0, sd = 0, cv_percent = 0;  // sd: sample standard deviation (n - 1)
  double gmi_percent = 0;                   // glucose management indicator: 3.31 + 0.02392 x mean
  // Percent of readings: in range 70-180 inclusive; below 70 and below 54; above 180 and 250.
  double tir_70_180 = 0, tbr_70 = 0, tbr_54 = 0, tar_180 = 0, tar_250 = 0;
  double lbgi = 0, hbgi = 0, risk_index = 0;
};

// Throws InvalidInput naming the first reading that is not finite or not positive.
GlycemicSummary glycemic_summary(const std::vector<double>& bg_mgdl);

// Kovatchev's symmetrising transform f(BG) = 1.509 (ln(BG)^1.084 - 5.381): 0 at 112.5 mg/dL,
// about -3.16 at 20 and +3.16 at 600; the risk is 10 f^2 (0..100).
double kovatchev_f(double bg_mgdl);
double kovatchev_risk(double bg_mgdl);

enum class ClarkeZone { A, B, C, D, E };
ClarkeZone clarke_zone(double reference_mgdl, double predicted_mgdl);
std::string clarke_zone_name(ClarkeZone z);

struct ForecastAccuracy {
  int64_t n = 0;
  double rmse = 0, mae = 0;
  std::array<double, 5> clarke_percent{};  // A..E
  double clarke_a_plus_b() const { return clarke_percent[0] + clarke_percent[1]; }
};
ForecastAccuracy forecast_accuracy(const std::vector<double>& reference_mgdl,
                                   const std::vector<double>& predicted_mgdl);

}  // namespace medai::metrics
