#include "medai/metrics/glucose.h"

#include <cmath>

#include "medai/core/error.h"

namespace medai::metrics {

namespace {
void check_readings(const std::vector<double>& v, const char* what) {
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]) || v[i] <= 0)
      fail_invalid(std::string(what) + " reading " + std::to_string(i) + " is not a positive number of mg/dL");
}
}  // namespace

double kovatchev_f(double bg) { return 1.509 * (std::pow(std::log(bg), 1.084) - 5.381); }
double kovatchev_risk(double bg) {
  double f = kovatchev_f(bg);
  return 10 * f * f;
}

GlycemicSummary glycemic_summary(const std::vector<double>& bg) {
  if (bg.empty()) fail_invalid("glycaemic summary of no readings");
  check_readings(bg, "glucose");
  GlycemicSummary s;
  s.n = static_cast<int64_t>(bg.size());
  double sum = 0, in = 0, lo70 = 0, lo54 = 0, hi180 = 0, hi250 = 0, rl = 0, rh = 0;
  for (double g : bg) {
    sum += g;
    in += g >= 70 && g <= 180;
    lo70 += g < 70;
    lo54 += g < 54;
    hi180 += g > 180;
    hi250 += g > 250;
    double f = kovatchev_f(g), r = 10 * f * f;
    (f < 0 ? rl : rh) += r;
  }
  const double n = static_cast<double>(bg.size());
  s.mean = sum / n;
  double ss = 0;
  for (double g : bg) ss += (g - s.mean) * (g - s.mean);
  s.sd = bg.size() > 1 ? std::sqrt(ss / (n - 1)) : 0.0;
  s.cv_percent = 100 * s.sd / s.mean;
  s.gmi_percent = 3.31 + 0.02392 * s.mean;
  s.tir_70_180 = 100 * in / n;
  s.tbr_70 = 100 * lo70 / n;
  s.tbr_54 = 100 * lo54 / n;
  s.tar_180 = 100 * hi180 / n;
  s.tar_250 = 100 * hi250 / n;
  s.lbgi = rl / n;
  s.hbgi = rh / n;
  s.risk_index = s.lbgi + s.hbgi;
  return s;
}

ClarkeZone clarke_zone(double ref, double pred) {
  if ((ref <= 70 && pred <= 70) || (pred <= 1.2 * ref && pred >= 0.8 * ref)) return ClarkeZone::A;
  if ((ref >= 180 && pred <= 70) || (ref <= 70 && pred >= 180)) return ClarkeZone::E;
  if ((ref >= 70 && ref <= 290 && pred >= ref + 110) || (ref >= 130 && ref <= 180 && pred <= 7.0 / 5.0 * ref - 182))
    return ClarkeZone::C;
  if ((ref >= 240 && pred >= 70 && pred <= 180) || (ref <= 175.0 / 3.0 && pred <= 180 && pred >= 70) ||
      (ref >= 175.0 / 3.0 && ref <= 70 && pred >= 6.0 / 5.0 * ref))
    return ClarkeZone::D;
  return ClarkeZone::B;
}

std::string clarke_zone_name(ClarkeZone z) { return std::string(1, static_cast<char>('A' + static_cast<int>(z))); }

ForecastAccuracy forecast_accuracy(const std::vector<double>& ref, const std::vector<double>& pred) {
  if (ref.size() != pred.size() || ref.empty()) fail_invalid("forecast accuracy: empty or mismatched series");
  check_readings(ref, "reference");
  check_readings(pred, "predicted");
  ForecastAccuracy a;
  a.n = static_cast<int64_t>(ref.size());
  double se = 0, ae = 0;
  std::array<int64_t, 5> zones{};
  for (size_t i = 0; i < ref.size(); ++i) {
    double e = pred[i] - ref[i];
    se += e * e;
    ae += std::fabs(e);
    zones[static_cast<int>(clarke_zone(ref[i], pred[i]))]++;
  }
  a.rmse = std::sqrt(se / a.n);
  a.mae = ae / a.n;
  for (int z = 0; z < 5; ++z) a.clarke_percent[z] = 100.0 * zones[z] / a.n;
  return a;
}

}  // namespace medai::metrics
