// medai fl serve | join | simulate: federated learning across sites over gRPC (src/medai/federated).
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "medai/bridges/grpc/federation_transport.h"
#include "medai/core/atomic_file.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/federated/coordinator.h"
#include "medai/federated/site.h"
#include "medai/federated/site_model.h"

namespace medai::app {

namespace fs = std::filesystem;
using nlohmann::json;
namespace fed = medai::federated;

namespace {

struct ServeOptions {
  fed::CoordinatorOptions c;
  std::string listen = "0.0.0.0:50051";
  fs::path tokens, port_file;
  bridges::fl::TlsFiles tls;
  bool json = false;
};

void add_coordinator_options(CLI::App* cmd, ServeOptions& o) {
  auto& c = o.c;
  cmd->add_option("--task", c.task, "icu (PhysioNet 2012 mortality) | xray (pneumonia)")
      ->check(CLI::IsMember(fed::task_names()))
      ->capture_default_str();
  cmd->add_option("--rounds", c.rounds, "federated rounds")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--strategy", c.strategy.name, "fedavg | fedprox | fedadam")
      ->check(CLI::IsMember(fed::strategy_names()))
      ->capture_default_str();
  cmd->add_option("--min-clients", c.min_clients, "updates a round needs to be aggregated")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--clients-per-round", c.clients_per_round, "sites sampled per round (0: every live site)")
      ->capture_default_str();
  cmd->add_option("--expect-sites", c.expect_sites, "round 1 waits for this many sites (0: --min-clients)");
  cmd->add_option("--deadline", c.round_deadline_s, "seconds a round waits for its updates")->capture_default_str();
  cmd->add_option("--local-epochs", c.local_epochs, "epochs each site trains per round")->capture_default_str();
  cmd->add_option("--batch-size", c.batch_size)->capture_default_str();
  cmd->add_option("--lr", c.lr, "the sites' Adam learning rate")->capture_default_str();
  cmd->add_option("--prox-mu", c.strategy.prox_mu, "FedProx's proximal weight")->capture_default_str();
  cmd->add_option("--server-lr", c.strategy.server_lr, "FedAdam's server learning rate")->capture_default_str();
  cmd->add_option("--dp-epsilon", c.dp_epsilon, "DP-SGD at every site within this epsilon over the run (0: off)")
      ->capture_default_str();
  cmd->add_option("--dp-delta", c.dp_delta)->capture_default_str();
  cmd->add_option("--dp-clip", c.dp_clip, "DP-SGD per-sample gradient L2 clip")->capture_default_str();
  cmd->add_option("--user-dp-clip", c.strategy.user_clip, "DP-FedAvg: clip each site's update to this L2 norm");
  cmd->add_option("--user-dp-noise", c.strategy.user_noise, "DP-FedAvg: noise multiplier at the coordinator");
  cmd->add_flag("--secure-aggregation", c.secure_aggregation,
                "pairwise-masked updates (X25519 + ChaCha20): the coordinator sees only their sum");
  cmd->add_option("--seed", c.seed)->capture_default_str();
}

void add_tls_options(CLI::App* cmd, bridges::fl::TlsFiles& t, bool server) {
  if (server) {
    cmd->add_option("--tls-cert", t.cert, "PEM certificate (TLS on; with --tls-key)");
    cmd->add_option("--tls-key", t.key, "PEM private key");
  } else {
    cmd->add_option("--tls-ca", t.ca, "PEM certificate of the CA that signed the coordinator's (TLS on)");
    cmd->add_option("--tls-server-name", t.server_name, "the name in the coordinator's certificate, if not the host");
  }
}

void add_serve_command(CLI::App* fl, GlobalOptions& g) {
  auto o = std::make_shared<ServeOptions>();
  auto* cmd = fl->add_subcommand("serve", "coordinate a federation: rounds, aggregation, checkpoints, audit");
  add_coordinator_options(cmd, *o);
  cmd->add_option("--out", o->c.out, "run folder (checkpoint per round, audit.jsonl, the global model)")->required();
  cmd->add_option("--listen", o->listen, "address:port to listen on")->capture_default_str();
  cmd->add_option("--tokens", o->tokens, "CSV token,site: each site's bearer token")->required();
  cmd->add_option("--port-file", o->port_file, "write the port listened on to this file (for scripts)");
  add_tls_options(cmd, o->tls, true);
  cmd->add_flag("--resume", o->c.resume, "continue the run in --out after a restart");
  cmd->add_flag("--json", o->json, "print the summary");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    if (!o->c.resume && fs::exists(o->c.out / "fl_model.json"))
      fail_invalid(o->c.out.string() + ": already holds a finished federated run; choose another --out");
    if (!o->c.resume) check_fresh_out(o->c.out, false);
    o->c.tokens = fed::read_tokens(o->tokens);
    fed::Coordinator coordinator(o->c, fed::initial_parameters(o->c.task, o->c.seed));
    bridges::fl::FederationServer server(coordinator, o->listen, o->tls);
    spdlog::info("federation coordinator listening on port {} ({}), task {}, {} rounds of {}", server.port(),
                 o->tls.enabled() ? "TLS" : "no TLS", o->c.task, o->c.rounds, o->c.strategy.name);
    if (!o->port_file.empty()) core::write_file_atomic(o->port_file, std::to_string(server.port()));
    const json summary = coordinator.run();
    server.shutdown();
    if (o->json) print_json(summary);
    else
      std::printf("federated model written to %s (best round %d)\n", o->c.out.string().c_str(),
                  summary["best_round"].get<int>());
  });
}

struct JoinOptions {
  fed::SiteOptions site;
  fed::SiteSource source;
  uint64_t seed = 1;
  bool json = false;
};

void add_join_command(CLI::App* fl, GlobalOptions& g) {
  auto o = std::make_shared<JoinOptions>();
  auto* cmd = fl->add_subcommand("join", "take part in a federation as a site: train on local data, send updates");
  cmd->add_option("--server", o->site.server, "coordinator HOST:PORT")->required();
  cmd->add_option("--token", o->site.token, "this site's bearer token")->required();
  cmd->add_option("--data", o->source.data, "the site's data (icu: PhysioNet folder; xray: class folders or CSV)")
      ->required();
  cmd->add_option("--task", o->source.task, "icu | xray")->check(CLI::IsMember(fed::task_names()))->required();
  cmd->add_option("--outcomes", o->source.outcomes, "icu: the Outcomes file");
  cmd->add_option("--site", o->site.site, "the site's name (default: the one its token is registered for)");
  cmd->add_option("--partition", o->source.partition,
                  "keep a share of a shared collection (simulations): icutype:K, part:K/N, skew:K/N");
  cmd->add_option("--give-up", o->site.give_up_s, "seconds without the coordinator before stopping")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed)->capture_default_str();
  add_tls_options(cmd, o->site.tls, false);
  cmd->add_flag("--json", o->json, "print what the site did");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    std::optional<fed::SiteModel> model;
    try {
      model.emplace(fed::SiteModel::open({o->source}, o->seed));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::InvalidInput) throw;
      spdlog::error("site data unusable: {}", e.what());
      fed::announce_no_data(o->site, o->source.task);  // refused and audited by the coordinator
      throw;
    }
    const json summary = fed::run_site(*model, o->site);
    if (o->json) print_json(summary);
    else
      std::printf("site %s: %d rounds trained\n", summary["site"].get<std::string>().c_str(),
                  summary["rounds_trained"].get<int>());
  });
}

}  // namespace

void add_fl_simulate_command(CLI::App* fl, GlobalOptions& g);

void add_fl_commands(CLI::App& app, GlobalOptions& g) {
  auto* fl = app.add_subcommand("fl", "federated learning across hospitals (gRPC, DP, secure aggregation)");
  fl->require_subcommand(1);
  add_serve_command(fl, g);
  add_join_command(fl, g);
  add_fl_simulate_command(fl, g);
}

}  // namespace medai::app
