// `medai serve`: wires the store, the metrics, the model repository and the routes to the HTTP
// bridge, and drains on SIGTERM/SIGINT.
#include "medai/server/server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <random>
#include <thread>

#include "medai/core/error.h"
#include "medai/glucose/lstm_forecaster.h"
#include "medai/server/api.h"
#include "medai/server/http_bridge.h"
#include "medai/server/metrics.h"
#include "medai/server/model_repository.h"
#include "medai/server/store.h"

namespace medai::server {

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

glucose::ForecastFn load_forecaster(ModelRepository& repo) {
  auto dir = repo.first_of_task("glucose-forecast");
  if (!dir) return {};
  try {
    auto f = glucose::forecast_fn(std::make_shared<glucose::GlucoseForecaster>(glucose::GlucoseForecaster::load(*dir)));
    spdlog::info("glucose forecaster {} loaded for /v1/glucose/recommend", dir->filename().string());
    return f;
  } catch (const std::exception& e) {
    spdlog::error("glucose forecaster {}: {}; recommendations use the linear trend", dir->string(), e.what());
    return {};
  }
}
}  // namespace

int run_server(const ServerOptions& o, const std::function<void(int)>& on_listening) {
  Store store(o.db);
  Metrics metrics;
  ModelRepository repo(o.models, {o.batching ? o.max_batch : 1, o.max_delay_ms, o.queue_capacity}, &metrics);
  repo.scan();
  repo.load_all();
  std::string secret = o.deid_secret;
  if (secret.empty()) {
    std::random_device rd;
    for (int i = 0; i < 4; ++i) secret += std::to_string(rd());
  }
  ServerContext ctx{o, store, metrics, repo, load_forecaster(repo), secret, [] { return g_stop.load(); }};
  ctx.text = load_text_models(o);
  ctx.molecules = load_molecule_model(o);
  ctx.dose = load_dose_model(o);
  HttpBridge bridge(ctx, all_routes(ctx));
  const int port = bridge.bind();
  g_stop = false;
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::thread watcher([&] {
    while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    spdlog::info("draining: no new connections; finishing requests in flight");
    bridge.stop();
  });
  spdlog::info("medai serve listening on {}://{}:{} (models {}, store {})", o.tls_cert.empty() ? "http" : "https",
               o.host, port, o.models.string(), o.db.string());
  if (on_listening) on_listening(port);
  bridge.listen();
  g_stop = true;
  watcher.join();
  spdlog::info("stopped");
  return 0;
}

}  // namespace medai::server
