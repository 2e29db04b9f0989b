// Admin routes: load, unload and reload a model version; export the audit trail.
#include <nlohmann/json.hpp>

#include "medai/core/error.h"
#include "medai/server/api.h"
#include "medai/server/model_repository.h"

namespace medai::server {

using nlohmann::json;

void register_admin_routes(ServerContext& ctx, std::vector<Route>& routes) {
  for (const std::string action : {"load", "unload", "reload"}) {
    routes.push_back(
        {"POST", R"(/v1/admin/models/([^/]+)/)" + action, "admin_" + action, Role::Admin,
         [&ctx, action](const Request& req, Response& res) {
           const std::string name = req.matches.at(1), version = req.param("version");
           const VersionInfo v = action == "unload" ? ctx.models.unload(name, version)
                                 : action == "load" ? ctx.models.load(name, version)
                                                    : ctx.models.reload(name, version);
           const json out = {{"name", name}, {"version", v.version}, {"state", v.state}, {"sha256", v.sha256}};
           ctx.audit(req, "model." + action, "admin_" + action, out, 0, "", {name, v.version, v.sha256});
           res.json(200, out);
         }});
  }
  routes.push_back({"GET", "/v1/admin/audit", "admin_audit", Role::Admin, [&ctx](const Request& req, Response& res) {
                      const std::string fmt = req.params.count("format") ? req.param("format") : "json";
                      if (fmt != "json" && fmt != "csv") fail_invalid("format must be csv or json");
                      auto rows = ctx.store.audit_rows(req.param("since"));
                      ctx.audit(req, "audit.export", "admin_audit", {{"rows", rows.size()}}, 0);
                      if (fmt == "csv") {
                        res.body = audit_csv(rows);
                        res.content_type = "text/csv";
                      } else {
                        res.body = audit_json(rows);
                      }
                    }});
}

}  // namespace medai::server
