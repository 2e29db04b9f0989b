#pragma once
// Virtual screening of a list of SMILES with a property model: per molecule the predictions with
// their ensemble spread, the applicability domain (Tanimoto to the nearest training molecule)
// and RDKit's structural alerts; a SMILES that does not parse gets an error entry in its place.
// Shared by `medai mol predict` and POST /v1/molecules/predict.
#include <nlohmann/json_fwd.hpp>

#include "medai/chem/mol_data.h"
#include "medai/chem/mol_model.h"

namespace medai::chem {

// Below this nearest-training similarity a molecule is flagged out of the model's domain.
inline constexpr double kDefaultDomainThreshold = 0.3;

// One JSON object per input row, in input order:
// {"row","smiles","canonical_smiles","predictions":{task:{"value","sd"}},"nearest_training_similarity",
//  "in_domain","alerts":[{"catalog","description"}]} or {"row","smiles","error"}.
nlohmann::json screen(const MolModel& model, const MolDataset& d, double domain_threshold = kDefaultDomainThreshold);

}  // namespace medai::chem
