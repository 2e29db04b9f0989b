#pragma once
// The published IWPC dosing algorithms (NEJM 2009, Supplementary Appendix S1e/S1f) and the fixed
// 5 mg/day start: both formulas predict the square root of the weekly dose. The coefficients are
// built in; `iwpc_dosing_algorithms.csv` of the IWPC release lists the same numbers.
#include <optional>
#include <string>
#include <vector>

#include "medai/dosing/warfarin_data.h"

namespace medai::dosing {

enum class Algorithm { Fixed, Clinical, Pharmacogenetic };
Algorithm parse_algorithm(const std::string& name);  // "fixed", "clinical", "pharmacogenetic"
std::string algorithm_name(Algorithm a);

inline constexpr double kFixedDose = 35.0;  // mg/week (5 mg/day)

// One term of a formula: its name as in iwpc_dosing_algorithms.csv and its value for a patient.
struct FormulaTerm {
  std::string term;
  double coefficient = 0, value = 0;
};
// The terms of `a` for `p` (intercept first). Needs age, height and weight (complete()); fails
// naming the missing field otherwise. Fixed has the intercept only (sqrt 35).
std::vector<FormulaTerm> formula_terms(Algorithm a, const WarfarinPatient& p);
// The weekly dose in mg: (sum of coefficient x value)^2.
double formula_dose(Algorithm a, const WarfarinPatient& p);

// The three dose bands of the warfarin bandit literature: < 21, 21-49, > 49 mg/week.
enum Bucket { kLow = 0, kMedium = 1, kHigh = 2 };
int dose_bucket(double mg_week);
std::string bucket_name(int bucket);  // "low (<21)", ...

// Clinically plausible range for a recommended starting weekly dose (1 - 15 mg/day).
inline constexpr double kMinDose = 7.0, kMaxDose = 105.0;

}  // namespace medai::dosing
