// Public system routes: liveness, readiness, Prometheus metrics, the API description, the web app.
#include <nlohmann/json.hpp>

#include "medai/server/api.h"
#include "medai/server/metrics.h"
#include "medai/server/model_repository.h"
#include "medai/server/web_assets.h"

namespace medai::server {

void register_system_routes(ServerContext& ctx, std::vector<Route>& routes) {
  auto text = [](std::string body, std::string type) {
    return [body = std::move(body), type = std::move(type)](const Request&, Response& res) {
      res.body = body;
      res.content_type = type;
    };
  };
  routes.push_back({"GET", "/healthz", "healthz", std::nullopt, [](const Request&, Response& res) {
                      res.json(200, {{"status", "ok"}});
                    }});
  routes.push_back({"GET", "/readyz", "readyz", std::nullopt, [&ctx](const Request&, Response& res) {
                      const bool ready = !ctx.draining() && ctx.store.ping();
                      res.json(ready ? 200 : 503, {{"ready", ready}, {"image_models_loaded", ctx.models.any_loaded()}});
                    }});
  routes.push_back({"GET", "/metrics", "metrics", std::nullopt, [&ctx](const Request&, Response& res) {
                      ctx.metrics.set_queue_depth(ctx.models.queue_depth());
                      res.body = ctx.metrics.prometheus();
                      res.content_type = "text/plain; version=0.0.4";
                    }});
  routes.push_back({"GET", "/openapi.json", "openapi", std::nullopt, text(openapi_json(), "application/json")});
  routes.push_back({"GET", "/", "web", std::nullopt, text(web_index_html(), "text/html")});
  routes.push_back({"GET", "/app.js", "web", std::nullopt, text(web_app_js(), "application/javascript")});
}

}  // namespace medai::server
