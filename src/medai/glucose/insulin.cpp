#include "medai/glucose/insulin.h"

#include <cmath>

namespace medai::glucose {

double iob_fraction(double t, double td, double tp) {
  if (t <= 0) return 1.0;
  if (t >= td) return 0.0;
  const double tau = tp * (1 - tp / td) / (1 - 2 * tp / td);
  const double a = 2 * tau / td;
  const double s = 1 / (1 - a + (1 + a) * std::exp(-td / tau));
  return 1 - s * (1 - a) * ((t * t / (tau * td * (1 - a)) - t / tau - 1) * std::exp(-t / tau) + 1);
}

double steady_basal_iob_minutes(double dia, double peak) {
  double s = 0;
  for (double t = 0.5; t < dia; t += 1) s += iob_fraction(t, dia, peak);  // midpoint rule, 1-min steps
  return s;
}

void InsulinOnBoard::add(double minute, double units) {
  while (!doses_.empty() && minute - doses_.front().first >= dia_) doses_.pop_front();
  if (units <= 0) return;
  doses_.emplace_back(minute, units);
}

double InsulinOnBoard::at(double minute) const {
  double iob = 0;
  for (const auto& [m, u] : doses_) iob += u * iob_fraction(minute - m, dia_, peak_);
  return iob;
}

}  // namespace medai::glucose
