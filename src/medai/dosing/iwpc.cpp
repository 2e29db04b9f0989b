#include "medai/dosing/iwpc.h"

#include <cmath>

#include "medai/core/error.h"

namespace medai::dosing {

Algorithm parse_algorithm(const std::string& name) {
  if (name == "fixed") return Algorithm::Fixed;
  if (name == "clinical") return Algorithm::Clinical;
  if (name == "pharmacogenetic") return Algorithm::Pharmacogenetic;
  fail_invalid("unknown IWPC algorithm '" + name + "' (known: fixed, clinical, pharmacogenetic)");
}

std::string algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::Fixed: return "fixed";
    case Algorithm::Clinical: return "clinical";
    case Algorithm::Pharmacogenetic: break;
  }
  return "pharmacogenetic";
}

std::vector<FormulaTerm> formula_terms(Algorithm a, const WarfarinPatient& p) {
  if (a == Algorithm::Fixed) return {{"intercept", std::sqrt(kFixedDose), 1}};
  for (auto [present, name] : {std::pair{bool(p.age_decades), "age"}, std::pair{bool(p.height_cm), "height_cm"},
                               std::pair{bool(p.weight_kg), "weight_kg"}})
    if (!present) fail_invalid("the IWPC " + algorithm_name(a) + " formula needs " + name + " (missing)");
  const bool pg = a == Algorithm::Pharmacogenetic;
  const double asian = p.race == Race::Asian, black = p.race == Race::Black, unknown = p.race == Race::Unknown;
  std::vector<FormulaTerm> t;
  t.push_back({"intercept", pg ? 5.6044 : 4.0376, 1});
  t.push_back({"age_decades", pg ? -0.2614 : -0.2546, double(*p.age_decades)});
  t.push_back({"height_cm", pg ? 0.0087 : 0.0118, *p.height_cm});
  t.push_back({"weight_kg", pg ? 0.0128 : 0.0134, *p.weight_kg});
  if (pg) {
    t.push_back({"vkorc1_AG", -0.8677, double(p.vkorc1 == Vkorc1::AG)});
    t.push_back({"vkorc1_AA", -1.6974, double(p.vkorc1 == Vkorc1::AA)});
    t.push_back({"vkorc1_unknown", -0.4854, double(p.vkorc1 == Vkorc1::Unknown)});
    t.push_back({"cyp2c9_12", -0.5211, double(p.cyp2c9 == Cyp2c9::S12)});
    t.push_back({"cyp2c9_13", -0.9357, double(p.cyp2c9 == Cyp2c9::S13)});
    t.push_back({"cyp2c9_22", -1.0616, double(p.cyp2c9 == Cyp2c9::S22)});
    t.push_back({"cyp2c9_23", -1.9206, double(p.cyp2c9 == Cyp2c9::S23)});
    t.push_back({"cyp2c9_33", -2.3312, double(p.cyp2c9 == Cyp2c9::S33)});
    // Alleles the formula does not list count as unknown (IWPC reproduction, PROVENANCE.md).
    t.push_back({"cyp2c9_unknown", -0.2188, double(p.cyp2c9 == Cyp2c9::Unknown || p.cyp2c9 == Cyp2c9::Other)});
  }
  t.push_back({"race_asian", pg ? -0.1092 : -0.6752, asian});
  t.push_back({"race_black", pg ? -0.2760 : 0.4060, black});
  t.push_back({"race_missing_mixed", pg ? -0.1032 : 0.0443, unknown});
  t.push_back({"enzyme_inducer", pg ? 1.1816 : 1.2799, double(p.enzyme_inducer)});
  t.push_back({"amiodarone", pg ? -0.5503 : -0.5695, double(p.amiodarone)});
  return t;
}

double formula_dose(Algorithm a, const WarfarinPatient& p) {
  double s = 0;
  for (const auto& t : formula_terms(a, p)) s += t.coefficient * t.value;
  return s * s;
}

int dose_bucket(double mg_week) { return mg_week < 21 ? kLow : mg_week <= 49 ? kMedium : kHigh; }

std::string bucket_name(int bucket) {
  static const char* names[] = {"low (< 21 mg/week)", "medium (21-49 mg/week)", "high (> 49 mg/week)"};
  return names[bucket];
}

}  // namespace medai::dosing
