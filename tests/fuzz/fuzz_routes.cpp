// The JSON body of every POST route that takes one (recommend, simulate), through the
// middleware in-process: any status is fine, but never a 5xx and never an escaped exception.
#include <cstdlib>

#include "fuzz_support.h"
#include "medai/server/api.h"
#include "medai/server/metrics.h"
#include "medai/server/model_repository.h"

namespace {
struct Fixture {
  medai::server::ServerOptions options;
  medai::server::Store store{medai::fuzz::scratch_file("fuzz.db", "").parent_path() / "routes.db"};
  medai::server::Metrics metrics;
  medai::server::ModelRepository repo{"/nonexistent-medai-models", {}};
  medai::server::ServerContext ctx{options, store, metrics, repo, {}, "fuzz-secret-123"};
  std::vector<medai::server::Route> routes = medai::server::all_routes(ctx);
  std::string token = store.create_token(medai::server::Role::Clinician, "fuzz");
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture f;
  for (const auto& route : f.routes) {
    if (route.method != "POST" || route.pattern.find("glucose") == std::string::npos) continue;
    medai::server::Request req;
    req.method = "POST";
    req.path = route.pattern;
    req.matches = {route.pattern};
    req.headers["authorization"] = "Bearer " + f.token;
    req.headers["content-type"] = "application/json";
    req.body = medai::fuzz::bytes(data, size);
    medai::server::Response res;
    medai::server::handle(f.ctx, route, req, res);
    if (res.status >= 500) {
      std::fprintf(stderr, "%s answered %d: %s\n", route.name.c_str(), res.status, res.body.c_str());
      std::abort();
    }
  }
  return 0;
}
