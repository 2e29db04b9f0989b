// medai fl simulate: one whole federated experiment as real processes on loopback - the
// coordinator and one `medai fl join` per site over gRPC with TLS and per-site tokens - then the
// global model, the centralised baseline and local-only training measured on the same
// patient-level test splits.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands.h"
#include "medai/bridges/crypto/crypto.h"
#include "medai/core/atomic_file.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/federated/coordinator.h"
#include "medai/federated/site_model.h"

extern char** environ;

namespace medai::app {

namespace fs = std::filesystem;
using nlohmann::json;
namespace fed = medai::federated;

namespace {

struct SimOptions {
  std::string task = "icu", sites = "icutype", strategy = "fedavg";
  fs::path data, outcomes, out;
  int rounds = 0, local_epochs = 1, batch_size = 32, min_clients = 0;
  double lr = 1e-3, dp_epsilon = 0, deadline = 120, prox_mu = 0.01;
  bool kill_one_site = false, secure_aggregation = false, json = false, no_tls = false, no_baselines = false;
  uint64_t seed = 1;
};

// A child process running this executable with `args`, its output in `log`.
class Child {
 public:
  Child(const std::vector<std::string>& args, const fs::path& log) : args_(args), log_(log) { start(); }
  void start() {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    const std::string exe = fs::read_symlink("/proc/self/exe").string();
    std::vector<char*> argv{const_cast<char*>(exe.c_str())};
    for (const auto& a : args_) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, exe.c_str(), &fa, nullptr, argv.data(), environ) != 0)
      fail(ErrorCode::Internal, "cannot start " + exe);
    posix_spawn_file_actions_destroy(&fa);
    done_ = false;
  }
  void kill_now() {
    if (done_) return;
    ::kill(pid_, SIGKILL);
    wait();
  }
  // The exit status, or nothing while it runs (poll) / after `timeout_s`.
  std::optional<int> wait(double timeout_s = 1e9) {
    const auto t0 = std::chrono::steady_clock::now();
    while (!done_) {
      int st = 0;
      const pid_t r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_) done_ = true, status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      else if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > timeout_s) return {};
      else std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return status_;
  }
  ~Child() { kill_now(); }
  const fs::path& log() const { return log_; }

 private:
  std::vector<std::string> args_;
  fs::path log_;
  pid_t pid_ = 0;
  bool done_ = true;
  int status_ = 0;
};

struct SimSite {
  std::string name;
  fed::SiteSource source;
  std::string token;
};

std::vector<SimSite> plan_sites(const SimOptions& o) {
  std::vector<SimSite> s;
  if (o.sites == "icutype") {
    if (o.task != "icu") fail_invalid("--sites icutype is for --task icu (ICU types 1-4)");
    const char* names[] = {"coronary", "cardiac-surgery", "medical", "surgical"};
    for (int k = 1; k <= 4; ++k)
      s.push_back({names[k - 1], {o.task, o.data, o.outcomes, "icutype:" + std::to_string(k)}, ""});
  } else {
    int n = 0;
    try {
      n = std::stoi(o.sites);
    } catch (const std::exception&) {}
    if (n < 2 || n > 16) fail_invalid("--sites: icutype or a number of sites 2..16");
    // Chest X-rays: sites with different class ratios; ICU: patients spread at random.
    const std::string kind = o.task == "xray" ? "skew:" : "part:";
    for (int k = 1; k <= n; ++k)
      s.push_back({"site-" + std::to_string(k),
                   {o.task, o.data, o.outcomes, kind + std::to_string(k) + "/" + std::to_string(n)},
                   ""});
  }
  for (auto& x : s) {
    std::string t;
    for (unsigned char c : bridges::crypto::random_bytes(16))
      t += "0123456789abcdef"[c >> 4], t += "0123456789abcdef"[c & 15];
    x.token = t;
  }
  return s;
}

std::vector<std::string> serve_args(const SimOptions& o, const fs::path& run, size_t sites) {
  const int k = o.min_clients > 0 ? o.min_clients : static_cast<int>(sites) - (o.kill_one_site ? 1 : 0);
  std::vector<std::string> a{"--threads",
                             "1",
                             "fl",
                             "serve",
                             "--task",
                             o.task,
                             "--rounds",
                             std::to_string(o.rounds),
                             "--strategy",
                             o.strategy,
                             "--min-clients",
                             std::to_string(k),
                             "--expect-sites",
                             std::to_string(sites),
                             "--out",
                             (run / "coordinator").string(),
                             "--listen",
                             "127.0.0.1:0",
                             "--tokens",
                             (run / "tokens.csv").string(),
                             "--port-file",
                             (run / "port").string(),
                             "--deadline",
                             std::to_string(o.deadline),
                             "--local-epochs",
                             std::to_string(o.local_epochs),
                             "--batch-size",
                             std::to_string(o.batch_size),
                             "--lr",
                             std::to_string(o.lr),
                             "--prox-mu",
                             std::to_string(o.prox_mu),
                             "--dp-epsilon",
                             std::to_string(o.dp_epsilon),
                             "--seed",
                             std::to_string(o.seed)};
  if (o.secure_aggregation) a.push_back("--secure-aggregation");
  if (!o.no_tls)
    for (const std::string& s : {std::string("--tls-cert"), (run / "tls" / "cert.pem").string(),
                                 std::string("--tls-key"), (run / "tls" / "key.pem").string()})
      a.push_back(s);
  return a;
}

std::vector<std::string> join_args(const SimOptions& o, const fs::path& run, const SimSite& s, int port) {
  std::vector<std::string> a{"--threads",   "1",
                             "fl",          "join",
                             "--server",    "127.0.0.1:" + std::to_string(port),
                             "--token",     s.token,
                             "--task",      o.task,
                             "--data",      o.data.string(),
                             "--partition", s.source.partition,
                             "--seed",      std::to_string(o.seed)};
  if (!o.outcomes.empty()) a.insert(a.end(), {"--outcomes", o.outcomes.string()});
  if (!o.no_tls) a.insert(a.end(), {"--tls-ca", (run / "tls" / "cert.pem").string(), "--tls-server-name", "localhost"});
  return a;
}

int wait_for_port(const fs::path& file, Child& coordinator) {
  for (int i = 0; i < 1200; ++i) {
    if (fs::exists(file)) return std::stoi(core::read_file(file));
    if (coordinator.wait(0))
      fail(ErrorCode::Internal, "the coordinator stopped at start; see " + coordinator.log().string());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  fail(ErrorCode::Timeout, "the coordinator did not start listening; see " + coordinator.log().string());
}

// Kills the first site once round 1 is done (so mid-way through round 2) and starts it again.
void kill_and_restart(Child& site, const fs::path& coordinator_run, const std::atomic<bool>& finished) {
  while (!finished && !fs::exists(coordinator_run / "train_state.json"))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (finished) return;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  spdlog::info("simulate: killing {} mid-round", site.log().stem().string());
  site.kill_now();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  site.start();
  spdlog::info("simulate: restarted it");
}

// Trains `m` for `epochs` epochs, keeping the parameters of the best validation AUROC.
double train_with_selection(fed::SiteModel& m, int epochs, const SimOptions& o) {
  double best = -1;
  std::vector<float> kept;
  for (int e = 1; e <= epochs; ++e) {
    fed::LocalTrainOptions lo;
    lo.batch_size = o.batch_size, lo.lr = o.lr, lo.seed = o.seed * 1000003ULL + static_cast<uint64_t>(e);
    m.train(lo);
    const double v = m.auroc(fed::Part::Validation);
    if (v > best) best = v, kept = m.parameters();
  }
  m.set_parameters(kept);
  return best;
}

std::vector<fed::SiteSource> sources_of(const std::vector<SimSite>& sites) {
  std::vector<fed::SiteSource> s;
  for (const auto& x : sites) s.push_back(x.source);
  return s;
}

json measure(const SimOptions& o, const std::vector<SimSite>& sites, const fs::path& coordinator_run) {
  const auto model = fed::load_federated_model(coordinator_run, true);
  json r;
  auto pooled = fed::SiteModel::open(sources_of(sites), o.seed);
  pooled.set_preprocessing(model.preprocessing);
  pooled.set_parameters(model.parameters);
  r["auroc_federated"] = pooled.auroc(fed::Part::Test);
  r["n_test"] = pooled.examples(fed::Part::Test);
  const int epochs = o.rounds * o.local_epochs;
  json per_site = json::object(), local = json::object(), sizes = json::object();
  for (const auto& s : sites) {
    auto m = fed::SiteModel::open({s.source}, o.seed);
    m.set_preprocessing(model.preprocessing);
    m.set_parameters(model.parameters);
    per_site[s.name] = m.auroc(fed::Part::Test);
    sizes[s.name] = {
        {"train", m.examples(fed::Part::Train)},
        {"test", m.examples(fed::Part::Test)},
        {"train_positive_share", static_cast<double>(m.positives(fed::Part::Train)) / m.examples(fed::Part::Train)}};
    if (!o.no_baselines) {  // local-only: the site alone, its own normaliser, the same epochs
      m.set_parameters(fed::initial_parameters(o.task, o.seed));
      m.set_preprocessing(fed::SiteModel::preprocessing_from(o.task, m.feature_stats()));
      train_with_selection(m, epochs, o);
      local[s.name] = m.auroc(fed::Part::Test);
    }
  }
  r["auroc_per_site"] = per_site;
  r["site_sizes"] = sizes;
  if (!o.no_baselines) {
    pooled.set_parameters(fed::initial_parameters(o.task, o.seed));
    pooled.set_preprocessing(fed::SiteModel::preprocessing_from(o.task, pooled.feature_stats()));
    train_with_selection(pooled, epochs, o);
    r["auroc_centralised"] = pooled.auroc(fed::Part::Test);
    json cps = json::object();
    for (const auto& s : sites) {
      auto m = fed::SiteModel::open({s.source}, o.seed);
      m.set_preprocessing(fed::SiteModel::preprocessing_from(o.task, pooled.feature_stats()));
      m.set_parameters(pooled.parameters());
      cps[s.name] = m.auroc(fed::Part::Test);
    }
    r["auroc_centralised_per_site"] = cps;
    r["auroc_local_only"] = local;
  } else {
    r["auroc_centralised"] = nullptr;
  }
  return r;
}

// Round figures from the coordinator's history: bytes per round per site, seconds, privacy.
void round_figures(const fs::path& coordinator_run, json& r) {
  const json h = core::read_json_file(coordinator_run / "rounds.json");
  double bytes = 0, seconds = 0, n = 0, eps = 0;
  for (const auto& e : h) {
    if (e.value("evaluation_only", false)) {
      for (const auto& [k, v] : e["per_site"].items()) eps = std::max(eps, v.value("epsilon", 0.0));
      continue;
    }
    const double sites = std::max<double>(1, e["updates"].get<double>());
    bytes += e["bytes_down_per_site"].get<double>() + e["bytes_up"].get<double>() / sites;
    seconds += e["seconds"].get<double>();
    ++n;
  }
  r["bytes_per_round_per_site"] = n ? bytes / n : 0;
  r["round_seconds_mean"] = n ? seconds / n : 0;
  r["epsilon"] = eps;
}

void run_simulation(const SimOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  auto sites = plan_sites(o);
  const fs::path run = o.out;
  fs::create_directories(run / "logs");
  if (fs::exists(run / "coordinator"))
    fail_invalid(run.string() + ": already holds a simulation; choose another --out");
  std::string tokens = "token,site\n";
  for (const auto& s : sites) tokens += s.token + "," + s.name + "\n";
  core::write_file_atomic(run / "tokens.csv", tokens);
  if (!o.no_tls) {
    const auto pem = bridges::crypto::self_signed_certificate("localhost");
    fs::create_directories(run / "tls");
    core::write_file_atomic(run / "tls" / "cert.pem", pem.certificate);
    core::write_file_atomic(run / "tls" / "key.pem", pem.private_key);
  }
  Child coordinator(serve_args(o, run, sites.size()), run / "logs" / "coordinator.log");
  const int port = wait_for_port(run / "port", coordinator);
  std::vector<std::unique_ptr<Child>> children;
  for (const auto& s : sites)
    children.push_back(std::make_unique<Child>(join_args(o, run, s, port), run / "logs" / (s.name + ".log")));
  std::atomic<bool> finished{false};
  std::thread killer;
  if (o.kill_one_site) killer = std::thread([&] { kill_and_restart(*children[0], run / "coordinator", finished); });
  const int status = *coordinator.wait();
  finished = true;
  if (killer.joinable()) killer.join();
  for (auto& c : children)
    if (!c->wait(30)) c->kill_now();
  const bool completed = status == 0 && fs::exists(run / "coordinator" / "fl_model.json");
  json r = {{"task", o.task},
            {"strategy", o.strategy},
            {"rounds", o.rounds},
            {"completed", completed},
            {"secure_aggregation", o.secure_aggregation},
            {"dp_epsilon_target", o.dp_epsilon},
            {"dp_delta", 1e-5},
            {"killed_site", o.kill_one_site ? json(sites[0].name) : json(nullptr)},
            {"run", run.string()}};
  json names = json::array();
  for (const auto& s : sites) names.push_back(s.name);
  r["sites"] = names;
  if (!completed) {
    r["error"] = "the coordinator exited with status " + std::to_string(status) + "; see " + coordinator.log().string();
    print_json(r);
    fail(ErrorCode::Internal, r["error"].get<std::string>());
  }
  const json card = core::read_json_file(run / "coordinator" / "fl_model.json");
  r["best_round"] = card["best_round"];
  r["rounds"] = card["rounds"];
  round_figures(run / "coordinator", r);
  r["federation_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.update(measure(o, sites, run / "coordinator"));
  r["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  core::write_json_file(run / "simulation.json", r);
  if (o.json) print_json(r);
  else
    std::printf(
        "federated AUROC %.4f, centralised %s, epsilon %.2f (%s)\n", r["auroc_federated"].get<double>(),
        r["auroc_centralised"].is_null() ? "-" : fmt::format("{:.4f}", r["auroc_centralised"].get<double>()).c_str(),
        r["epsilon"].get<double>(), (run / "simulation.json").c_str());
}

}  // namespace

void add_fl_simulate_command(CLI::App* fl, GlobalOptions& g) {
  auto o = std::make_shared<SimOptions>();
  auto* cmd = fl->add_subcommand("simulate", "a whole federation as processes on loopback, with baselines");
  cmd->add_option("--task", o->task, "icu | xray")->check(CLI::IsMember(fed::task_names()))->required();
  cmd->add_option("--data", o->data, "icu: PhysioNet 2012 folder; xray: class folders or CSV index")->required();
  cmd->add_option("--outcomes", o->outcomes, "icu: the Outcomes file");
  cmd->add_option("--sites", o->sites, "icutype (ICU: the 4 ICU types) | N sites (xray: different class ratios)")
      ->capture_default_str();
  cmd->add_option("--strategy", o->strategy, "fedavg | fedprox | fedadam")
      ->check(CLI::IsMember(fed::strategy_names()))
      ->capture_default_str();
  cmd->add_option("--rounds", o->rounds, "rounds (default: icu 30, xray 15)");
  cmd->add_option("--local-epochs", o->local_epochs)->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size)->capture_default_str();
  cmd->add_option("--lr", o->lr)->capture_default_str();
  cmd->add_option("--prox-mu", o->prox_mu)->capture_default_str();
  cmd->add_option("--min-clients", o->min_clients, "default: every site (one fewer with --kill-one-site)");
  cmd->add_option("--dp-epsilon", o->dp_epsilon, "DP-SGD at every site within this epsilon (delta 1e-5)");
  cmd->add_flag("--secure-aggregation", o->secure_aggregation);
  cmd->add_flag("--kill-one-site", o->kill_one_site, "kill the first site mid-round 2 and restart it");
  cmd->add_option("--deadline", o->deadline, "round deadline, seconds")->capture_default_str();
  cmd->add_flag("--no-tls", o->no_tls, "plain gRPC on loopback (default: TLS with a generated certificate)");
  cmd->add_flag("--no-baselines", o->no_baselines, "skip the centralised and local-only baselines");
  cmd->add_option("--out", o->out, "folder for the run (default: a new temporary folder)");
  cmd->add_option("--seed", o->seed)->capture_default_str();
  cmd->add_flag("--json", o->json, "print the result as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    if (o->task == "icu" && o->outcomes.empty()) fail_invalid("--task icu needs --outcomes");
    if (o->rounds == 0) o->rounds = o->task == "icu" ? 30 : 15;
    if (o->out.empty()) o->out = fs::temp_directory_path() / ("medai-fl-" + std::to_string(::getpid()));
    run_simulation(*o);
  });
}

}  // namespace medai::app
