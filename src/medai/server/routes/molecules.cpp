// Virtual screening: POST /v1/molecules/predict runs the property model `medai serve --mol-model`
// names over a list of SMILES (predictions with their ensemble spread, applicability domain,
// structural alerts) and, when asked, draws each molecule with its atoms shaded by their
// contribution to one task's prediction (the web app's Molecules tab).
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "medai/bridges/rdkit/chem.h"
#include "medai/chem/screening.h"
#include "medai/core/error.h"
#include "medai/core/sha256.h"
#include "medai/server/api.h"

namespace medai::server {

using nlohmann::json;

namespace {

constexpr size_t kMaxMolecules = 1000, kMaxDrawn = 50;

void predict(ServerContext& ctx, const Request& req, Response& res) {
  const double t0 = now_ms();
  if (!ctx.molecules)
    fail(ErrorCode::NotFound, "this server has no molecular model (start it with medai serve --mol-model DIR)");
  const auto& model = *ctx.molecules;
  const json body = parse_json_body(req, "molecules");
  const auto it = body.find("smiles");
  if (it == body.end() || !it->is_array() || it->empty())
    fail_invalid("field 'smiles' must be a non-empty array of SMILES strings");
  if (it->size() > kMaxMolecules)
    fail_invalid("field 'smiles' holds " + std::to_string(it->size()) + " molecules; at most " +
                 std::to_string(kMaxMolecules) + " per request");
  std::vector<std::string> smiles;
  for (size_t i = 0; i < it->size(); ++i) {
    if (!(*it)[i].is_string()) fail_invalid("smiles[" + std::to_string(i) + "] must be a string");
    smiles.push_back((*it)[i].get<std::string>());
  }
  const double threshold = body.value("domain_threshold", chem::kDefaultDomainThreshold);
  const auto d = chem::read_smiles_list(smiles, "request");
  json results = chem::screen(model, d, threshold);
  if (body.value("draw", false)) {
    const std::string task = body.value("task", model.tasks().front());
    const auto t = std::find(model.tasks().begin(), model.tasks().end(), task);
    if (t == model.tasks().end()) check_known("task", task, model.tasks());
    for (size_t i = 0; i < d.size() && i < kMaxDrawn; ++i) {
      const auto w = model.atom_contributions(d.molecules[i], static_cast<size_t>(t - model.tasks().begin()));
      auto& r = results[d.rows[i]];
      r["svg"] = bridges::chem::depict_svg(d.molecules[i], w, 300, 220);
      r["atom_contributions"] = w;
    }
  }
  size_t out_of_domain = 0;
  for (const auto& r : results) out_of_domain += r.contains("in_domain") && !r["in_domain"].get<bool>();
  ctx.audit(req, "screen", "molecules_predict",
            {{"molecules", smiles.size()}, {"unparseable", d.errors.size()}, {"out_of_domain", out_of_domain}},
            now_ms() - t0, core::sha256_hex(req.body));
  res.json(200, {{"model", model.kind()},
                 {"task_type", chem::task_type_name(model.type())},
                 {"tasks", model.tasks()},
                 {"domain_threshold", threshold},
                 {"results", results},
                 {"limits",
                  "Predicted assay outcomes for triage, not measured properties; molecules flagged out of domain "
                  "are unlike every training molecule."}});
}

}  // namespace

std::shared_ptr<const chem::MolModel> load_molecule_model(const ServerOptions& o) {
  if (o.mol_model.empty()) return nullptr;
  auto m = std::make_shared<chem::MolModel>(chem::MolModel::load(o.mol_model));
  spdlog::info("molecular model {} ({}, {} tasks) loaded for /v1/molecules/predict", o.mol_model.string(), m->kind(),
               m->tasks().size());
  return m;
}

void register_molecule_routes(ServerContext& ctx, std::vector<Route>& routes) {
  routes.push_back({"POST", "/v1/molecules/predict", "molecules_predict", Role::Clinician,
                    [&ctx](const Request& req, Response& res) { predict(ctx, req, res); }});
}

}  // namespace medai::server
