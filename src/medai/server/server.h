#pragma once
// `medai serve`: the clinical inference server (REST API, dynamic batching for image models,
// token auth with roles, audit trail, DICOM de-identification on arrival, Prometheus metrics,
// the web app). Layout: http_bridge (the only httplib code), api (request/response, middleware),
// routes/<area>.cpp, model_repository, batcher, store, metrics. No httplib type leaks out.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace medai::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                          // 0 = any free port (printed on start)
  std::filesystem::path models = "models";  // repository: NAME/ (a run folder) or NAME/VERSION/ run folders
  std::filesystem::path db = "medai.db";
  std::filesystem::path tls_cert, tls_key;
  int max_batch = 8;        // dynamic batching for image models
  int max_delay_ms = 5;     // longest a request waits for companions
  int queue_capacity = 64;  // per model; beyond it: 503 + Retry-After
  size_t max_body_bytes = 32u << 20;
  int timeout_s = 30;         // read/write timeouts and a predict's deadline
  int threads = 8;            // HTTP worker threads kept warm
  int max_connections = 256;  // connections served at once (a thread each); more wait
  std::string deid_secret;    // keys DICOM UID remapping (default: random per start)
  bool batching = true;
  double prevalence = 0;  // > 0: classifiers' probabilities adjusted to it unless a request names its own
  // Clinical text (empty: the route answers 404 naming the flag): medai text index / note-train / train.
  std::filesystem::path text_index, note_model, text_classifier;
  // A molecular property model (medai mol train) for /v1/molecules/predict; empty: 404 naming the flag.
  std::filesystem::path mol_model;
  // A warfarin dose model (medai dose train) for /v1/dose/recommend; empty: the built-in IWPC formula.
  std::filesystem::path dose_model;
};

// Runs until SIGTERM/SIGINT (then stops accepting, finishes in-flight requests and returns 0).
// `on_listening(port)` is called once the socket is bound (tests and the launcher use it).
int run_server(const ServerOptions& options, const std::function<void(int)>& on_listening = {});

}  // namespace medai::server
