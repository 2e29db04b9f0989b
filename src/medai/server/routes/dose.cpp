// Warfarin dosing: POST /v1/dose/recommend answers one patient (the JSON of medai dose recommend
// --patient) with the dose, its interval, the contributions and what a genotype test would change,
// from `medai serve --dose-model` or the built-in IWPC pharmacogenetic formula (the web app's
// Warfarin tab).
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "medai/core/error.h"
#include "medai/core/sha256.h"
#include "medai/dosing/recommend.h"
#include "medai/server/api.h"

namespace medai::server {

using nlohmann::json;

namespace {

void recommend(ServerContext& ctx, const Request& req, Response& res) {
  const double t0 = now_ms();
  if (!ctx.dose) fail(ErrorCode::Unavailable, "no dose model loaded");
  const json body = parse_json_body(req, "dose recommend");
  json out = dosing::recommend_dose(*ctx.dose, dosing::patient_from_json(body));
  ctx.audit(req, "dose_recommend", "dose_recommend", {{"dose_mg_week", out["dose_mg_week"]}, {"model", out["model"]}},
            now_ms() - t0, core::sha256_hex(req.body));
  res.json(200, out);
}

}  // namespace

std::shared_ptr<const dosing::DoseModel> load_dose_model(const ServerOptions& o) {
  auto m = std::make_shared<dosing::DoseModel>(o.dose_model.empty() ? dosing::DoseModel::builtin()
                                                                    : dosing::DoseModel::load(o.dose_model));
  spdlog::info("dose model {} for /v1/dose/recommend", m->name());
  return m;
}

void register_dose_routes(ServerContext& ctx, std::vector<Route>& routes) {
  routes.push_back({"POST", "/v1/dose/recommend", "dose_recommend", Role::Clinician,
                    [&ctx](const Request& req, Response& res) { recommend(ctx, req, res); }});
}

}  // namespace medai::server
