#pragma once
// The server's own request/response types and route table. Routes (server/routes/<area>.cpp)
// and the middleware see only these; the httplib bridge (http_bridge.cpp) converts to and from
// the wire. Tests and fuzz harnesses call handle() in-process, without a socket.
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "medai/core/error.h"
#include "medai/glucose/recommend.h"
#include "medai/server/server.h"
#include "medai/server/store.h"

namespace medai::text {
class AnswerIndex;
class NoteModel;
class TextClassifierModel;
}  // namespace medai::text
namespace medai::chem {
class MolModel;
}  // namespace medai::chem
namespace medai::dosing {
class DoseModel;
}  // namespace medai::dosing

namespace medai::server {

// The text models `medai serve` was started with (each may be absent).
struct TextModels {
  std::shared_ptr<const text::AnswerIndex> answers;
  std::shared_ptr<const text::NoteModel> note;
  std::shared_ptr<const text::TextClassifierModel> classifier;
};
// Loads what `options` names; a named folder that does not load is a start-up error.
std::shared_ptr<const TextModels> load_text_models(const ServerOptions& options);
// The molecular property model of --mol-model (nullptr when not given).
std::shared_ptr<const chem::MolModel> load_molecule_model(const ServerOptions& options);
// `--dose-model RUN`, or the built-in IWPC pharmacogenetic formula.
std::shared_ptr<const dosing::DoseModel> load_dose_model(const ServerOptions& options);

class Metrics;
class ModelRepository;

struct Request {
  std::string method, path;
  std::vector<std::string> matches;            // regex groups of the route pattern (matches[0]: whole path)
  std::map<std::string, std::string> params;   // query parameters
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::optional<TokenInfo> who;  // set by the middleware when the route needs a role

  std::string param(const std::string& name) const;
  std::string header(const std::string& lower_case_name) const;
};

struct Response {
  int status = 200;
  std::string body, content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  void json(int status, const nlohmann::json& body);
};

// Everything a route may use; owned by run_server (or by a test).
struct ServerContext {
  const ServerOptions& options;
  Store& store;
  Metrics& metrics;
  ModelRepository& models;
  glucose::ForecastFn forecaster;  // the repository's glucose forecaster, if any
  std::string deid_secret;
  std::function<bool()> draining = [] { return false; };
  std::shared_ptr<const TextModels> text = std::make_shared<TextModels>();
  std::shared_ptr<const chem::MolModel> molecules;  // /v1/molecules/predict
  std::shared_ptr<const dosing::DoseModel> dose;    // /v1/dose/recommend

  struct AuditModel {
    std::string name, version, sha256;
  };
  // One audit row, written synchronously before the answer is sent.
  void audit(const Request& req, const std::string& action, const std::string& route, const nlohmann::json& output,
             double latency_ms, const std::string& input_sha256 = "", const AuditModel& model = {});
};

using Handler = std::function<void(const Request&, Response&)>;

struct Route {
  std::string method;        // GET or POST
  std::string pattern;       // ECMAScript regex over the path, e.g. /v1/models/([^/]+)
  std::string name;          // metrics and log label
  std::optional<Role> role;  // nothing: public
  Handler handler;
};

// Each area registers its routes (the list reads as the API's table of contents).
void register_system_routes(ServerContext& ctx, std::vector<Route>& routes);
void register_image_routes(ServerContext& ctx, std::vector<Route>& routes);
void register_glucose_routes(ServerContext& ctx, std::vector<Route>& routes);
void register_text_routes(ServerContext& ctx, std::vector<Route>& routes);
void register_molecule_routes(ServerContext& ctx, std::vector<Route>& routes);
void register_dose_routes(ServerContext& ctx, std::vector<Route>& routes);
void register_admin_routes(ServerContext& ctx, std::vector<Route>& routes);
std::vector<Route> all_routes(ServerContext& ctx);

// The middleware: authentication and role check before the handler, every failure as a JSON
// error whose status comes from the ErrorCode table, and the request counted in the metrics.
void handle(ServerContext& ctx, const Route& route, Request& req, Response& res);

// The one JSON error answer: {"error": {"code", "message"}}, the status from the ErrorCode table,
// Retry-After on Unavailable. The middleware and the bridge's own failures both use it.
void send_error(Response& res, ErrorCode code, const std::string& message);

// Parses a JSON request body; anything but a JSON object is InvalidInput naming the route.
nlohmann::json parse_json_body(const Request& req, const std::string& what);

// Typed fields of a JSON body: `fallback` when absent, InvalidInput naming the field when it has
// another type (or, for numbers, is not finite).
double body_number(const nlohmann::json& body, const std::string& field, double fallback);
std::string body_string(const nlohmann::json& body, const std::string& field, const std::string& fallback);

// Milliseconds since `t0` (steady clock, as returned by now_ms()).
double now_ms();

}  // namespace medai::server
