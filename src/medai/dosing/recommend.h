#pragma once
// A dose recommendation for one patient, for a clinician: the weekly (and daily) dose, its
// prediction interval, what was imputed, the features that drove it with their contributions in
// mg/week, and what a genotype test would change (for untyped patients: the spread of doses over
// the genotypes of patients of the same race; for typed ones: the dose had they not been typed).
#include <nlohmann/json_fwd.hpp>

#include "medai/dosing/dose_model.h"

namespace medai::dosing {

// Fails (InvalidInput) when required data is missing: a recommendation is never made without it.
nlohmann::json recommend_dose(const DoseModel& model, const WarfarinPatient& patient);

}  // namespace medai::dosing
