#include "medai/chem/screening.h"

#include <nlohmann/json.hpp>

namespace medai::chem {

namespace bc = bridges::chem;
using nlohmann::json;

json screen(const MolModel& model, const MolDataset& d, double domain_threshold) {
  const auto p = model.predict(d.molecules);
  const auto sim = model.nearest_training_similarity(d.molecules);
  std::vector<json> out(d.total_rows);
  for (const auto& e : d.errors) out[e.row] = {{"row", e.row}, {"smiles", e.smiles}, {"error", e.reason}};
  for (size_t i = 0; i < d.size(); ++i) {
    json preds = json::object();
    for (size_t t = 0; t < p.tasks; ++t)
      preds[model.tasks()[t]] = {{"value", p.at(i, t)}, {"sd", p.sd[i * p.tasks + t]}};
    json alerts = json::array();
    for (const auto& a : bc::structural_alerts(d.molecules[i]))
      alerts.push_back({{"catalog", a.catalog}, {"description", a.description}});
    out[d.rows[i]] = {{"row", d.rows[i]},
                      {"smiles", d.smiles[i]},
                      {"canonical_smiles", bc::canonical_smiles(d.molecules[i])},
                      {"predictions", preds},
                      {"nearest_training_similarity", sim[i]},
                      {"in_domain", sim[i] >= domain_threshold},
                      {"alerts", alerts}};
  }
  json arr = json::array();
  for (auto& r : out) arr.push_back(std::move(r));
  return arr;
}

}  // namespace medai::chem
