// The only file that includes cpp-httplib (ARCHITECTURE.md).
#include "medai/server/server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <shared_mutex>

#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/core/sha256.h"
#include "medai/glucose/environment.h"
#include "medai/glucose/lstm_forecaster.h"
#include "medai/glucose/recommend.h"
#include "medai/imaging/classifier_model.h"
#include "medai/io/dicom_deid.h"
#include "medai/io/image.h"
#include "medai/server/batcher.h"
#include "medai/server/metrics.h"
#include "medai/server/store.h"
#include "medai/server/web_assets.h"

namespace medai::server {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

struct HttpError {
  int status;
  std::string code, message;
};

[[noreturn]] void http_fail(int status, const std::string& code, const std::string& message) {
  throw HttpError{status, code, message};
}

void send_json(httplib::Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(j.dump(), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& code, const std::string& message) {
  send_json(res, status, {{"error", {{"code", code}, {"message", message}}}});
}

std::string base64(const std::vector<unsigned char>& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (in[i] << 16) | (in[i + 1] << 8) | in[i + 2];
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
  }
  if (i + 1 == in.size()) {
    const unsigned v = in[i] << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const unsigned v = (in[i] << 16) | (in[i + 1] << 8);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return out;
}

// ---- model repository

struct ModelVersion {
  std::string name, version, task, sha256;
  fs::path dir;
  json card;
  std::string state = "unloaded";  // loaded, unloaded, failed: <reason>
  std::shared_ptr<imaging::ClassifierModel> model;
  std::unique_ptr<Batcher> batcher;
  std::mutex explain_mu;  // Grad-CAM runs the native network with autograd
};

class Repository {
 public:
  Repository(fs::path root, const ServerOptions& o, Metrics& m) : root_(std::move(root)), opt_(o), metrics_(m) {}

  void scan() {
    std::unique_lock lock(mu_);
    if (!fs::is_directory(root_)) {
      spdlog::warn("model repository {} does not exist; serving no image models", root_.string());
      return;
    }
    for (const auto& e : fs::directory_iterator(root_)) {
      if (!e.is_directory()) continue;
      const std::string name = e.path().filename().string();
      if (fs::exists(e.path() / core::kModelCardFile)) {
        add(name, "1", e.path());
      } else {
        for (const auto& v : fs::directory_iterator(e.path()))
          if (v.is_directory() && fs::exists(v.path() / core::kModelCardFile)) add(name, v.path().filename().string(), v.path());
      }
    }
  }

  void load_all() {
    std::vector<std::pair<std::string, std::string>> todo;
    {
      std::shared_lock lock(mu_);
      for (auto& [n, vs] : models_)
        for (auto& [v, mv] : vs) todo.emplace_back(n, v);
    }
    for (auto& [n, v] : todo) load(n, v);
  }

  std::shared_ptr<ModelVersion> get(const std::string& name, const std::string& version) {
    std::shared_lock lock(mu_);
    auto it = models_.find(name);
    if (it == models_.end()) http_fail(404, "not_found", "no model '" + name + "'");
    const std::string v = version.empty() ? default_version(it->second) : version;
    auto jt = it->second.find(v);
    if (jt == it->second.end()) http_fail(404, "not_found", "model '" + name + "' has no version '" + v + "'");
    return jt->second;
  }

  json list() {
    std::shared_lock lock(mu_);
    json out = json::array();
    for (auto& [n, vs] : models_) {
      json versions = json::array();
      for (auto& [v, mv] : vs) versions.push_back({{"version", v}, {"state", mv->state}, {"task", mv->task}, {"sha256", mv->sha256}});
      out.push_back({{"name", n}, {"default_version", default_version(vs)}, {"versions", versions}});
    }
    return out;
  }

  void load(const std::string& name, const std::string& version) {
    auto mv = get(name, version);
    std::unique_lock lock(mu_);
    if (mv->task.rfind("glucose", 0) == 0 || !fs::exists(mv->dir / imaging::kWeightsFile)) {
      mv->state = "listed";  // served through the glucose routes, not /predict
      return;
    }
    try {
      mv->model = std::make_shared<imaging::ClassifierModel>(imaging::ClassifierModel::load(mv->dir));
      mv->sha256 = core::sha256_file(mv->dir / imaging::kWeightsFile);
      const std::string key = name + ":" + mv->version;
      mv->batcher = std::make_unique<Batcher>(mv->model, opt_.batching ? opt_.max_batch : 1, opt_.max_delay_ms,
                                              opt_.queue_capacity, [this](int n) { metrics_.observe_batch(n); });
      mv->state = "loaded";
      metrics_.set_model_state(key, 1);
      spdlog::info("model {} version {} loaded", name, mv->version);
    } catch (const std::exception& e) {
      mv->state = std::string("failed: ") + e.what();
      metrics_.set_model_state(name + ":" + mv->version, 0);
      spdlog::error("model {} version {}: {}", name, mv->version, e.what());
    }
  }

  void unload(const std::string& name, const std::string& version) {
    auto mv = get(name, version);
    std::unique_lock lock(mu_);
    mv->batcher.reset();
    mv->model.reset();
    mv->state = "unloaded";
    metrics_.set_model_state(name + ":" + mv->version, 0);
  }

  int queue_depth() {
    std::shared_lock lock(mu_);
    int d = 0;
    for (auto& [n, vs] : models_)
      for (auto& [v, mv] : vs)
        if (mv->batcher) d += mv->batcher->depth();
    return d;
  }

  bool any_loaded() {
    std::shared_lock lock(mu_);
    for (auto& [n, vs] : models_)
      for (auto& [v, mv] : vs)
        if (mv->state == "loaded") return true;
    return false;
  }

  // The first forecaster in the repository (for /v1/glucose/recommend), if any.
  std::optional<fs::path> forecaster() {
    std::shared_lock lock(mu_);
    for (auto& [n, vs] : models_)
      for (auto& [v, mv] : vs)
        if (mv->task == "glucose-forecast") return mv->dir;
    return std::nullopt;
  }

 private:
  void add(const std::string& name, const std::string& version, const fs::path& dir) {
    auto mv = std::make_shared<ModelVersion>();
    mv->name = name;
    mv->version = version;
    mv->dir = dir;
    try {
      mv->card = core::read_model_card(dir);
      mv->task = mv->card.value("task", "classification");
    } catch (const std::exception& e) {
      mv->state = std::string("failed: ") + e.what();
    }
    models_[name][version] = mv;
  }
  static std::string default_version(const std::map<std::string, std::shared_ptr<ModelVersion>>& vs) {
    return vs.empty() ? "" : vs.rbegin()->first;  // the highest version
  }

  fs::path root_;
  const ServerOptions& opt_;
  Metrics& metrics_;
  std::shared_mutex mu_;
  std::map<std::string, std::map<std::string, std::shared_ptr<ModelVersion>>> models_;
};

}  // namespace

int run_server(const ServerOptions& o, const std::function<void(int)>& on_listening) {
  Store store(o.db);
  Metrics metrics;
  Repository repo(o.models, o, metrics);
  repo.scan();
  repo.load_all();
  glucose::ForecastFn forecaster;  // the repository's glucose forecaster, if it has one
  if (auto dir = repo.forecaster()) {
    try {
      forecaster = glucose::forecast_fn(std::make_shared<glucose::GlucoseForecaster>(glucose::GlucoseForecaster::load(*dir)));
      spdlog::info("glucose forecaster {} loaded for /v1/glucose/recommend", dir->filename().string());
    } catch (const std::exception& e) {
      spdlog::error("glucose forecaster {}: {}; recommendations use the linear trend", dir->string(), e.what());
    }
  }
  std::string secret = o.deid_secret;
  if (secret.empty()) {
    std::random_device rd;
    for (int i = 0; i < 4; ++i) secret += std::to_string(rd());
  }

  std::unique_ptr<httplib::Server> svr;
  if (!o.tls_cert.empty() || !o.tls_key.empty()) {
    if (o.tls_cert.empty() || o.tls_key.empty()) fail_invalid("--tls-cert and --tls-key go together");
    if (!fs::exists(o.tls_cert)) fail_not_found(o.tls_cert.string() + ": no such certificate file");
    if (!fs::exists(o.tls_key)) fail_not_found(o.tls_key.string() + ": no such key file");
    auto ssl = std::make_unique<httplib::SSLServer>(o.tls_cert.c_str(), o.tls_key.c_str());
    if (!ssl->is_valid()) fail_invalid(o.tls_cert.string() + ": certificate/key could not be used");
    svr = std::move(ssl);
  } else {
    svr = std::make_unique<httplib::Server>();
  }
  svr->new_task_queue = [n = o.threads] { return new httplib::ThreadPool(static_cast<size_t>(std::max(2, n))); };
  svr->set_payload_max_length(o.max_body_bytes);
  svr->set_read_timeout(o.timeout_s, 0);
  svr->set_write_timeout(o.timeout_s, 0);

  using Handler = std::function<void(const httplib::Request&, httplib::Response&, const TokenInfo*)>;
  // Wraps a route: auth (role), errors as JSON, metrics.
  auto route = [&](const std::string& name, std::optional<Role> need, Handler h) {
    return [&, name, need, h](const httplib::Request& req, httplib::Response& res) {
      const auto t0 = std::chrono::steady_clock::now();
      try {
        std::optional<TokenInfo> who;
        if (need) {
          const std::string auth = req.get_header_value("Authorization");
          if (auth.rfind("Bearer ", 0) != 0) http_fail(401, "unauthorized", "missing bearer token");
          who = store.verify(auth.substr(7));
          if (!who) http_fail(401, "unauthorized", "invalid or revoked token");
          if (*need == Role::Admin && who->role != Role::Admin)
            http_fail(403, "forbidden", "this needs an admin token");
        }
        h(req, res, who ? &*who : nullptr);
        if (res.status == -1) res.status = 200;
      } catch (const HttpError& e) {
        send_error(res, e.status, e.code, e.message);
        if (e.status == 503) res.set_header("Retry-After", "1");
      } catch (const Error& e) {
        send_error(res, http_status(e.code()), std::string(error_code_name(e.code())), e.what());
      } catch (const json::exception& e) {
        send_error(res, 400, "invalid_input", std::string("invalid JSON: ") + e.what());
      } catch (const std::exception& e) {
        spdlog::error("{}: {}", name, e.what());
        send_error(res, 500, "internal", "internal error");
      }
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      metrics.observe_request(name, res.status, ms);
    };
  };

  auto audit = [&](const TokenInfo* who, const std::string& action, const std::string& route_name, const json& out,
                   double ms, int status, const std::string& input_sha = "", const ModelVersion* mv = nullptr) {
    AuditRow r;
    r.token_id = who ? who->id : 0;
    r.action = action;
    r.route = route_name;
    if (mv) {
      r.model = mv->name;
      r.model_version = mv->version;
      r.model_hash = mv->sha256;
    }
    r.input_sha256 = input_sha;
    r.output = out.dump();
    r.latency_ms = ms;
    r.status = status;
    store.audit(r);
  };

  // ---- public
  svr->Get("/healthz", route("healthz", std::nullopt, [](auto&, auto& res, auto) { send_json(res, 200, {{"status", "ok"}}); }));
  svr->Get("/readyz", route("readyz", std::nullopt, [&](auto&, auto& res, auto) {
             const bool ready = !g_stop && store.ping();
             send_json(res, ready ? 200 : 503, {{"ready", ready}, {"image_models_loaded", repo.any_loaded()}});
           }));
  svr->Get("/metrics", route("metrics", std::nullopt, [&](auto&, auto& res, auto) {
             metrics.set_queue_depth(repo.queue_depth());
             res.set_content(metrics.prometheus(), "text/plain; version=0.0.4");
           }));
  svr->Get("/openapi.json", route("openapi", std::nullopt, [](auto&, auto& res, auto) {
             res.set_content(openapi_json(), "application/json");
           }));
  svr->Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(web_index_html(), "text/html"); });
  svr->Get("/app.js", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(web_app_js(), "application/javascript");
  });

  // ---- clinician
  svr->Get("/v1/models", route("models", Role::Clinician, [&](auto&, auto& res, auto) { send_json(res, 200, repo.list()); }));
  svr->Get(R"(/v1/models/([^/]+))", route("model_card", Role::Clinician, [&](const httplib::Request& req, auto& res, auto) {
             auto mv = repo.get(req.matches[1], req.get_param_value("version"));
             send_json(res, 200, {{"name", mv->name}, {"version", mv->version}, {"state", mv->state},
                                  {"sha256", mv->sha256}, {"card", mv->card}});
           }));
  svr->Post(R"(/v1/models/([^/]+)/predict)",
            route("predict", Role::Clinician, [&](const httplib::Request& req, httplib::Response& res, const TokenInfo* who) {
              const auto t0 = std::chrono::steady_clock::now();
              auto mv = repo.get(req.matches[1], req.get_param_value("version"));
              if (mv->state != "loaded" || !mv->batcher)
                http_fail(409, "not_loaded", "model '" + mv->name + "' version " + mv->version + " is " + mv->state);
              const std::string ct = req.get_header_value("Content-Type");
              const std::string base = ct.substr(0, ct.find(';'));
              if (!base.empty() && base != "application/dicom" && base != "image/png" && base != "image/jpeg" &&
                  base != "application/octet-stream")
                http_fail(415, "unsupported", "Content-Type '" + base + "': send image/png, image/jpeg or application/dicom");
              if (req.body.empty()) http_fail(400, "invalid_input", "empty body: send the image bytes");
              std::string bytes = req.body;
              const bool is_dicom = bytes.size() >= 132 && bytes.compare(128, 4, "DICM") == 0;
              if (is_dicom || base == "application/dicom") bytes = io::deidentify_dicom_bytes(bytes, "upload", secret);
              const std::string input_sha = core::sha256_hex(bytes);
              cv::Mat unit = io::display_frame(io::decode_image(bytes, "upload"));
              json out;
              imaging::Prediction p;
              if (req.get_param_value("explain") == "1") {
                std::lock_guard<std::mutex> l(mv->explain_mu);
                auto ex = imaging::explain_image(*mv->model, unit);
                p = ex.prediction;
                std::vector<unsigned char> png;
                cv::imencode(".png", ex.overlay, png);
                out["gradcam_png_base64"] = base64(png);
              } else {
                std::future<imaging::Prediction> f;
                try {
                  f = mv->batcher->submit(mv->model->input_tensor(unit));
                } catch (const QueueFull&) {
                  http_fail(503, "overloaded", "the model's queue is full; retry shortly");
                }
                if (f.wait_for(std::chrono::seconds(o.timeout_s)) != std::future_status::ready)
                  http_fail(504, "timeout", "prediction did not finish in time");
                p = f.get();
              }
              const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
              out.update({{"label", p.label},
                          {"probability", p.probability},
                          {"threshold", p.threshold},
                          {"class_probabilities", p.class_probabilities},
                          {"classes", mv->model->class_names()},
                          {"model", {{"name", mv->name}, {"version", mv->version}, {"sha256", mv->sha256}}},
                          {"input_sha256", input_sha},
                          {"latency_ms", ms}});
              json logged = {{"label", p.label}, {"probability", p.probability}, {"threshold", p.threshold}};
              audit(who, "predict", "predict", logged, ms, 200, input_sha, mv.get());  // before answering
              send_json(res, 200, out);
            }));
  svr->Post("/v1/glucose/recommend",
            route("recommend", Role::Clinician, [&](const httplib::Request& req, httplib::Response& res, const TokenInfo* who) {
              const auto t0 = std::chrono::steady_clock::now();
              json body = json::parse(req.body);
              if (!body.is_object()) http_fail(400, "invalid_input", "body must be a JSON object");
              const json s = body.value("settings", json::object());
              glucose::PatientSettings p;
              p.basal_u_per_min = s.value("basal_u_per_h", 0.0) / 60;
              p.carb_ratio_g_per_u = s.value("cr", 0.0);
              p.correction_mgdl_per_u = s.value("cf", 0.0);
              p.total_daily_insulin_u = s.value("tdi", 0.0);
              p.target_mgdl = s.value("target", 140.0);
              if (!(p.basal_u_per_min > 0) || !(p.carb_ratio_g_per_u > 0) || !(p.correction_mgdl_per_u > 0) ||
                  !(p.total_daily_insulin_u > 0))
                http_fail(400, "invalid_input", "settings need positive basal_u_per_h, cr, cf and tdi");
              if (!body.contains("history") || !body["history"].is_string())
                http_fail(400, "invalid_input", "'history' must be CSV text: timestamp,cgm_mgdl[,insulin_u][,carbs_g]");
              auto h = glucose::parse_history(body["history"].get<std::string>(), "history");
              auto rec = glucose::recommend(h, p, body.value("carbs_g", 0.0), forecaster);
              json out = rec.to_json();
              json cgm = json::array();
              for (size_t i = 0; i < h.minute.size(); ++i)
                if (h.cgm[i]) cgm.push_back({{"minute", h.minute[i] - h.minute.back()}, {"mgdl", *h.cgm[i]}});
              out["cgm"] = cgm;
              const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
              audit(who, "recommend", "recommend", out["recommendation"], ms, 200, core::sha256_hex(req.body));
              send_json(res, 200, out);
            }));
  svr->Post("/v1/glucose/simulate",
            route("simulate", Role::Clinician, [&](const httplib::Request& req, httplib::Response& res, const TokenInfo* who) {
              const auto t0 = std::chrono::steady_clock::now();
              json body = json::parse(req.body);
              const int minutes = body.value("minutes", 1440);
              if (minutes < 1 || minutes > 14 * 1440) http_fail(400, "invalid_input", "minutes must be 1..20160");
              auto patient = glucose::load_virtual_patient(body.value("patient", std::string("adolescent#001")), "", "");
              const uint64_t seed = body.value("seed", 1);
              glucose::GlucoseEnv env(patient,
                                      glucose::parse_scenario(body.value("scenario", std::string("random")), seed,
                                                              (minutes + 1439) / 1440),
                                      {});
              auto ctl = glucose::make_standard_controller(body.value("controller", std::string("basal-bolus")));
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
              const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
              audit(who, "simulate", "simulate", {{"tir_70_180", r.summary.tir_70_180}}, ms, 200, core::sha256_hex(req.body));
              send_json(res, 200, out);
            }));

  // ---- admin
  for (const std::string action : {"load", "unload", "reload"}) {
    svr->Post(R"(/v1/admin/models/([^/]+)/)" + action,
              route("admin_" + action, Role::Admin, [&, action](const httplib::Request& req, httplib::Response& res, const TokenInfo* who) {
                const std::string name = req.matches[1], version = req.get_param_value("version");
                if (action != "load") repo.unload(name, version);
                if (action != "unload") repo.load(name, version);
                auto mv = repo.get(name, version);
                json out = {{"name", name}, {"version", mv->version}, {"state", mv->state}};
                audit(who, "model." + action, "admin_" + action, out, 0, 200, "", mv.get());
                send_json(res, 200, out);
              }));
  }
  svr->Get("/v1/admin/audit", route("admin_audit", Role::Admin, [&](const httplib::Request& req, httplib::Response& res, const TokenInfo* who) {
             const std::string fmt = req.has_param("format") ? req.get_param_value("format") : "json";
             if (fmt != "json" && fmt != "csv") http_fail(400, "invalid_input", "format must be csv or json");
             auto rows = store.audit_rows(req.get_param_value("since"));
             audit(who, "audit.export", "admin_audit", {{"rows", rows.size()}}, 0, 200);
             if (fmt == "csv")
               res.set_content(audit_csv(rows), "text/csv");
             else
               res.set_content(audit_json(rows), "application/json");
           }));

  // Anything else: JSON 404 (and JSON for httplib's own 4xx such as 413).
  svr->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      const int st = res.status;
      const std::string code = st == 404 ? "not_found" : st == 413 ? "payload_too_large" : st == 400 ? "bad_request" : "error";
      const std::string msg = st == 404   ? "no such route"
                              : st == 413 ? "request body too large"
                              : st == 400 ? "malformed request (a POST needs a Content-Length)"
                                          : "request failed";
      send_error(res, st, code, msg);
    }
  });
  svr->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, 500, "internal", "internal error");
  });

  int port = o.port;
  if (port == 0) {
    port = svr->bind_to_any_port(o.host);
  } else if (!svr->bind_to_port(o.host, port)) {
    port = -1;
  }
  if (port <= 0) fail_io("cannot listen on " + o.host + ":" + std::to_string(o.port));
  g_stop = false;
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::thread watcher([&] {
    while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    spdlog::info("draining: no new connections; finishing requests in flight");
    svr->stop();
  });
  spdlog::info("medai serve listening on {}://{}:{} (models {}, store {})", o.tls_cert.empty() ? "http" : "https", o.host,
               port, o.models.string(), o.db.string());
  if (on_listening) on_listening(port);
  svr->listen_after_bind();
  g_stop = true;
  watcher.join();
  spdlog::info("stopped");
  return 0;
}

}  // namespace medai::server
