#pragma once
// Insulin on board (IOB): insulin delivered but not yet acted, by the exponential insulin action
// curve used by open-source automated insulin delivery (OpenAPS oref0; duration of action 5 h,
// peak 75 min for rapid-acting analogues).
#include <deque>
#include <utility>

namespace medai::glucose {

// Fraction of a dose still on board `minutes` after it was given (1 at 0, 0 at `dia_min`).
double iob_fraction(double minutes, double dia_min = 300, double peak_min = 75);

// Insulin on board of a steady basal rate, in minutes of that rate (the curve's integral).
double steady_basal_iob_minutes(double dia_min = 300, double peak_min = 75);

class InsulinOnBoard {
 public:
  explicit InsulinOnBoard(double dia_min = 300, double peak_min = 75) : dia_(dia_min), peak_(peak_min) {}
  void add(double minute, double units);
  double at(double minute) const;  // U
  void clear() { doses_.clear(); }

 private:
  double dia_, peak_;
  std::deque<std::pair<double, double>> doses_;  // (minute, U), oldest first
};

}  // namespace medai::glucose
