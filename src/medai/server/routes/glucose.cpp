// Diabetes routes: insulin recommendation from a CGM history, and closed-loop simulation.
#include <cmath>
#include <nlohmann/json.hpp>

#include "medai/core/error.h"
#include "medai/core/sha256.h"
#include "medai/glucose/environment.h"
#include "medai/glucose/recommend.h"
#include "medai/server/api.h"

namespace medai::server {

using nlohmann::json;

namespace {

void recommend(ServerContext& ctx, const Request& req, Response& res) {
  const double t0 = now_ms();
  const json body = parse_json_body(req, "recommend");
  auto settings = body.find("settings");
  const glucose::PatientSettings p = glucose::settings_from_json(settings == body.end() ? json() : *settings);
  auto hist = body.find("history");
  if (hist == body.end() || !hist->is_string())
    fail_invalid("'history' must be CSV text: timestamp,cgm_mgdl[,insulin_u][,carbs_g]");
  auto h = glucose::parse_history(hist->get<std::string>(), "history");
  auto boluses_only = body.find("boluses_only");
  if (boluses_only != body.end() && !boluses_only->is_boolean())
    fail_invalid("field 'boluses_only' must be true or false");
  const bool includes_basal = boluses_only == body.end() || !boluses_only->get<bool>();
  auto rec = glucose::recommend(h, p, body_number(body, "carbs_g", 0.0), ctx.forecaster, {}, includes_basal);
  json out = rec.to_json();
  json cgm = json::array();
  for (size_t i = 0; i < h.minute.size(); ++i)
    if (h.cgm[i]) cgm.push_back({{"minute", h.minute[i] - h.minute.back()}, {"mgdl", *h.cgm[i]}});
  out["cgm"] = cgm;
  ctx.audit(req, "recommend", "recommend", out["recommendation"], now_ms() - t0, core::sha256_hex(req.body));
  res.json(200, out);
}

void simulate(ServerContext& ctx, const Request& req, Response& res) {
  const double t0 = now_ms();
  const json body = parse_json_body(req, "simulate");
  const double minutes_d = body_number(body, "minutes", 1440);
  if (minutes_d < 1 || minutes_d > 14 * 1440 || minutes_d != std::floor(minutes_d))
    fail_invalid("field 'minutes' must be a whole number 1..20160");
  const int minutes = static_cast<int>(minutes_d);
  const double seed_d = body_number(body, "seed", 1);
  if (seed_d < 0 || seed_d > 4294967295.0 || seed_d != std::floor(seed_d))
    fail_invalid("field 'seed' must be a whole number 0..4294967295");
  auto patient = glucose::load_virtual_patient(body_string(body, "patient", "adolescent#001"), "", "");
  glucose::GlucoseEnv env(patient,
                          glucose::parse_scenario(body_string(body, "scenario", "random"),
                                                  static_cast<uint64_t>(seed_d), (minutes + 1439) / 1440),
                          {});
  auto ctl = glucose::make_standard_controller(body_string(body, "controller", "basal-bolus"));
  glucose::SafetyLayer safety;
  auto r = glucose::run_episode(env, *ctl, safety, minutes);
  json out = {{"patient", patient.params.name},
              {"tir_70_180", r.summary.tir_70_180},
              {"tbr_70", r.summary.tbr_70},
              {"tbr_54", r.summary.tbr_54},
              {"mean_bg", r.summary.mean},
              {"safety_interventions", r.safety.interventions()},
              {"minute", r.trace.minute},
              {"bg_mgdl", r.trace.bg},
              {"insulin_u_per_min", r.trace.insulin_u_per_min},
              {"carbs_g", r.trace.carbs_g}};
  ctx.audit(req, "simulate", "simulate", {{"tir_70_180", r.summary.tir_70_180}}, now_ms() - t0,
            core::sha256_hex(req.body));
  res.json(200, out);
}

}  // namespace

void register_glucose_routes(ServerContext& ctx, std::vector<Route>& routes) {
  routes.push_back({"POST", "/v1/glucose/recommend", "recommend", Role::Clinician,
                    [&ctx](const Request& req, Response& res) { recommend(ctx, req, res); }});
  routes.push_back({"POST", "/v1/glucose/simulate", "simulate", Role::Clinician,
                    [&ctx](const Request& req, Response& res) { simulate(ctx, req, res); }});
}

}  // namespace medai::server
