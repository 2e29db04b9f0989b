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

glucose::PatientSettings settings_from(const json& body) {
  auto it = body.find("settings");
  if (it == body.end() || !it->is_object())
    fail_invalid("'settings' must be an object with basal_u_per_h, cr, cf and tdi (target optional)");
  glucose::PatientSettings p;
  p.basal_u_per_min = body_number(*it, "basal_u_per_h", 0.0) / 60;
  p.carb_ratio_g_per_u = body_number(*it, "cr", 0.0);
  p.correction_mgdl_per_u = body_number(*it, "cf", 0.0);
  p.total_daily_insulin_u = body_number(*it, "tdi", 0.0);
  p.target_mgdl = body_number(*it, "target", 140.0);
  glucose::validate_settings(p);
  return p;
}

void recommend(ServerContext& ctx, const Request& req, Response& res) {
  const double t0 = now_ms();
  const json body = parse_json_body(req, "recommend");
  const glucose::PatientSettings p = settings_from(body);
  auto hist = body.find("history");
  if (hist == body.end() || !hist->is_string())
    fail_invalid("'history' must be CSV text: timestamp,cgm_mgdl[,insulin_u][,carbs_g]");
  auto h = glucose::parse_history(hist->get<std::string>(), "history");
  auto rec = glucose::recommend(h, p, body_number(body, "carbs_g", 0.0), ctx.forecaster);
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
