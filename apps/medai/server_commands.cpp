// medai serve | token create | audit export
#include <cstdio>
#include <cstdlib>

#include "commands.h"
#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/precision.h"
#include "medai/core/runtime.h"
#include "medai/server/server.h"
#include "medai/server/store.h"

namespace medai::app {

namespace fs = std::filesystem;

void add_server_commands(CLI::App& app, GlobalOptions& g) {
  auto* serve =
      app.add_subcommand("serve", "clinical inference server and web app (REST API, auth, audit, de-identification)");
  auto o = std::make_shared<server::ServerOptions>();
  auto no_batching = std::make_shared<bool>(false);
  serve->add_option("--host", o->host)->capture_default_str();
  serve->add_option("--port", o->port, "0 = any free port")->capture_default_str();
  serve->add_option("--models", o->models, "model repository: NAME/ run folders or NAME/VERSION/ run folders")
      ->capture_default_str();
  serve->add_option("--db", o->db, "SQLite store (tokens, audit trail)")->capture_default_str();
  serve->add_option("--tls-cert", o->tls_cert, "PEM certificate (with --tls-key: HTTPS)");
  serve->add_option("--tls-key", o->tls_key, "PEM private key");
  serve->add_option("--max-batch", o->max_batch, "dynamic batching: largest batch")->capture_default_str();
  serve->add_option("--max-delay-ms", o->max_delay_ms, "dynamic batching: longest wait for companions")
      ->capture_default_str();
  serve->add_option("--queue", o->queue_capacity, "requests queued per model before 503")->capture_default_str();
  serve->add_option("--max-body-bytes", o->max_body_bytes, "largest request body (413 beyond)")->capture_default_str();
  serve->add_option("--timeout-s", o->timeout_s)->capture_default_str();
  serve
      ->add_option("--prevalence", o->prevalence,
                   "deployment prevalence of the positive class for every classifier (prior shift; a request's "
                   "?prevalence= overrides it)")
      ->check(CLI::Range(0.0, 1.0));
  serve->add_option("--http-threads", o->threads, "HTTP worker threads kept warm")->capture_default_str();
  serve->add_option("--text-index", o->text_index, "answer index folder (medai text index) for /v1/text/ask");
  serve->add_option("--note-model", o->note_model, "run folder of medai text note-train for /v1/text/note");
  serve->add_option("--text-classifier", o->text_classifier, "run folder of medai text train for /v1/text/classify");
  serve->add_option("--mol-model", o->mol_model, "run folder of medai mol train for /v1/molecules/predict");
  serve->add_option("--dose-model", o->dose_model,
                    "run folder of medai dose train for /v1/dose/recommend (default: the built-in IWPC formula)");
  serve
      ->add_option("--max-connections", o->max_connections,
                   "connections served at once (one thread each; idle or slow clients cannot starve the rest)")
      ->capture_default_str();
  serve->add_flag("--no-batching", *no_batching, "one request per forward pass (for comparisons)");
  auto precision = std::make_shared<std::string>("auto");
  add_precision_option(serve, *precision);
  serve->callback([&g, o, no_batching, precision] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    core::set_inference_precision(core::resolve_precision(*precision));
    o->batching = !*no_batching;
    if (const char* s = std::getenv("MEDAI_DEID_SECRET")) o->deid_secret = s;
    std::exit(server::run_server(*o, [](int port) {
      std::printf("listening on port %d\n", port);
      std::fflush(stdout);
    }));
  });

  auto* token = app.add_subcommand("token", "API tokens for medai serve");
  token->require_subcommand(1);
  auto* create = token->add_subcommand("create", "create a token (printed once; only a salted hash is stored)");
  struct TokOpts {
    std::string role, name = "unnamed";
    fs::path db = "medai.db";
  };
  auto t = std::make_shared<TokOpts>();
  create->add_option("--role", t->role, "clinician (predict, read) or admin (model management, audit export)")
      ->required();
  create->add_option("--name", t->name, "who or what holds it (no patient data)")->capture_default_str();
  create->add_option("--db", t->db)->capture_default_str();
  create->callback([&g, t] {
    core::init_runtime({g.threads, g.verbose, true});
    server::Store store(t->db);
    std::printf("%s\n", store.create_token(server::parse_role(t->role), t->name).c_str());
  });

  auto* audit = app.add_subcommand("audit", "the server's audit trail");
  audit->require_subcommand(1);
  auto* exp = audit->add_subcommand("export", "rows since a time as CSV or JSON");
  struct AudOpts {
    std::string since, format = "csv";
    fs::path db = "medai.db", out;
  };
  auto a = std::make_shared<AudOpts>();
  exp->add_option("--since", a->since, "ISO-8601 time or date (default: everything)");
  exp->add_option("--format", a->format)->check(CLI::IsMember({"csv", "json"}))->capture_default_str();
  exp->add_option("--db", a->db)->capture_default_str();
  exp->add_option("--out", a->out, "file to write (default: standard output)");
  exp->callback([&g, a] {
    core::init_runtime({g.threads, g.verbose, true});
    if (!fs::exists(a->db)) fail_not_found(a->db.string() + ": no such store");
    server::Store store(a->db);
    auto rows = store.audit_rows(a->since);
    const std::string text = a->format == "csv" ? server::audit_csv(rows) : server::audit_json(rows);
    if (a->out.empty()) std::fwrite(text.data(), 1, text.size(), stdout);
    else core::write_file_atomic(a->out, text);
  });
}

}  // namespace medai::app
