#include "medai/server/api.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/server/metrics.h"
#include "medai/server/model_repository.h"

namespace medai::server {

using nlohmann::json;

std::string Request::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

std::string Request::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

void Response::json(int st, const nlohmann::json& j) {
  status = st;
  body = core::dump_json(j);
  content_type = "application/json";
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void ServerContext::audit(const Request& req, const std::string& action, const std::string& route, const json& output,
                          double latency_ms, const std::string& input_sha256, const AuditModel& model) {
  AuditRow r;
  r.token_id = req.who ? req.who->id : 0;
  r.action = action;
  r.route = route;
  r.model = model.name;
  r.model_version = model.version;
  r.model_hash = model.sha256;
  r.input_sha256 = input_sha256;
  r.output = core::dump_json(output);
  r.latency_ms = latency_ms;
  r.status = 200;
  store.audit(r);
}

json parse_json_body(const Request& req, const std::string& what) {
  json body;
  try {
    body = json::parse(req.body);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number beyond a double
    fail_invalid(what + ": the body is not valid JSON (" + e.what() + ")");
  }
  if (!body.is_object()) fail_invalid(what + ": the body must be a JSON object");
  return body;
}

double body_number(const json& body, const std::string& field, double fallback) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_number()) fail_invalid("field '" + field + "' must be a number, got " + core::dump_json(*it));
  const double v = it->get<double>();
  if (!std::isfinite(v)) fail_invalid("field '" + field + "' must be a finite number");
  return v;
}

std::string body_string(const json& body, const std::string& field, const std::string& fallback) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_string()) fail_invalid("field '" + field + "' must be a string, got " + core::dump_json(*it));
  return it->get<std::string>();
}

void send_error(Response& res, ErrorCode code, const std::string& message) {
  res.headers.clear();
  res.json(http_status(code), {{"error", {{"code", std::string(error_code_name(code))}, {"message", message}}}});
  if (code == ErrorCode::Unavailable) res.headers.emplace_back("Retry-After", "1");
}

namespace {
void authenticate(ServerContext& ctx, const Route& route, Request& req) {
  if (!route.role) return;
  const std::string auth = req.header("authorization");
  if (auth.rfind("Bearer ", 0) != 0) fail(ErrorCode::Unauthorized, "missing bearer token");
  req.who = ctx.store.verify(auth.substr(7));
  if (!req.who) fail(ErrorCode::Unauthorized, "invalid or revoked token");
  if (*route.role == Role::Admin && req.who->role != Role::Admin)
    fail(ErrorCode::Forbidden, "this needs an admin token");
}

}  // namespace

void handle(ServerContext& ctx, const Route& route, Request& req, Response& res) {
  const double t0 = now_ms();
  try {
    authenticate(ctx, route, req);
    route.handler(req, res);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::Internal || e.code() == ErrorCode::Io) spdlog::error("{}: {}", route.name, e.what());
    send_error(res, e.code(), e.what());
  } catch (const std::exception& e) {  // a bug or a library failure, never the client's input
    spdlog::error("{}: {}", route.name, e.what());
    send_error(res, ErrorCode::Internal, "internal error");
  }
  ctx.metrics.observe_request(route.name, res.status, now_ms() - t0);
}

std::vector<Route> all_routes(ServerContext& ctx) {
  std::vector<Route> routes;
  register_system_routes(ctx, routes);
  register_image_routes(ctx, routes);
  register_glucose_routes(ctx, routes);
  register_dose_routes(ctx, routes);
  register_text_routes(ctx, routes);
  register_molecule_routes(ctx, routes);
  register_admin_routes(ctx, routes);
  return routes;
}

}  // namespace medai::server
