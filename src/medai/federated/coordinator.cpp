#include "medai/federated/coordinator.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <set>

#include "medai/bridges/crypto/crypto.h"
#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/core/sha256.h"
#include "medai/federated/secure_aggregation.h"
#include "medai/federated/site_model.h"
#include "medai/io/csv.h"
#include "medai/train/checkpoint.h"

namespace medai::federated {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fl = bridges::fl;

std::string to_bytes(const std::vector<float>& v) {
  std::string b(v.size() * sizeof(float), '\0');
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::vector<float> floats_from_bytes(const std::string& b, const std::string& what) {
  if (b.size() % sizeof(float)) fail_invalid(what + ": not a float32 vector (" + std::to_string(b.size()) + " bytes)");
  std::vector<float> v(b.size() / sizeof(float));
  if (!v.empty()) std::memcpy(v.data(), b.data(), b.size());
  return v;
}

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string iso_now() {
  const auto t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace

std::map<std::string, std::string> read_tokens(const fs::path& file) {
  std::ifstream in(file);
  if (!in) fail_not_found(file.string() + ": cannot read the site tokens");
  std::map<std::string, std::string> t;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#' || (n == 1 && line == "token,site")) continue;
    const auto comma = line.find(',');
    if (comma == std::string::npos || comma == 0 || comma + 1 == line.size())
      fail_invalid(file.string() + " line " + std::to_string(n) + ": expected token,site");
    if (!t.emplace(line.substr(0, comma), line.substr(comma + 1)).second)
      fail_invalid(file.string() + " line " + std::to_string(n) + ": a token given twice");
  }
  if (t.empty()) fail_invalid(file.string() + ": no site tokens");
  return t;
}

struct Coordinator::State {
  CoordinatorOptions o;
  Strategy strategy;
  std::string architecture_hash, run_id;
  std::mutex mu;
  std::condition_variable cv;
  std::ofstream audit;

  struct Site {
    std::string session, public_key;
    uint64_t train = 0, validation = 0;
    FeatureStats stats;
    Clock::time_point seen;
  };
  std::map<std::string, Site> sites;            // by name
  std::map<std::string, std::string> sessions;  // session -> site
  std::set<std::string> nonces;

  enum class Phase { Joining, Training, Evaluating, Done } phase = Phase::Joining;
  std::vector<float> global, best;
  std::string global_bytes, global_sha;
  json preprocessing;
  int round = 0;          // the last completed round
  uint32_t round_id = 0;  // per attempt: the id on the wire
  std::vector<std::string> selected;
  std::vector<fl::Peer> peers;
  struct Received {
    std::string payload;
    uint64_t examples = 0, validation_examples = 0;
    double validation_auroc = 0, loss = 0, epsilon = 0;
  };
  std::map<std::string, Received> received;
  bool abort_round = false;
  json history = json::array();
  double best_auroc = -1;
  int best_round = 0;
  std::vector<float> strategy_state;

  State(CoordinatorOptions opt, std::vector<float> init)
      : o(std::move(opt)), strategy(o.strategy), global(std::move(init)) {}

  void log_audit(const std::string& event, const std::string& site, const std::string& reason) {
    json e = {{"time", iso_now()}, {"event", event}, {"site", site}, {"round", round + 1}};
    if (!reason.empty()) e["reason"] = reason;
    audit << e.dump() << "\n" << std::flush;
    if (event.rfind("refused", 0) == 0 || event == "discarded" || event == "round_aborted")
      spdlog::warn("federation: {} {}: {}", event, site.empty() ? "-" : site, reason);
  }
  [[noreturn]] void refuse(ErrorCode code, const std::string& event, const std::string& site, const std::string& why) {
    log_audit(event, site, why);
    fail(code, why);
  }
  void publish_global() {
    global_bytes = to_bytes(global);
    global_sha = core::sha256_hex(global_bytes);
  }
  std::string site_of_session(const fl::CallContext& call, const std::string& session) {
    const auto it = sessions.find(session);
    if (it == sessions.end()) fail_not_found("unknown session (the coordinator restarted?): join again");
    const auto tok = o.tokens.find(call.token);
    if (tok == o.tokens.end() || tok->second != it->second)
      refuse(ErrorCode::Unauthorized, "refused_token", it->second, "the token does not belong to this session's site");
    sites[it->second].seen = Clock::now();
    return it->second;
  }
  json task_config(const std::string& site) const {
    return {{"task", o.task},
            {"round", round + 1},
            {"rounds", o.rounds},
            {"local_epochs", o.local_epochs},
            {"batch_size", o.batch_size},
            {"lr", o.lr},
            {"prox_mu", o.strategy.name == "fedprox" ? o.strategy.prox_mu : 0.0},
            {"user_clip", o.strategy.user_clip},
            {"weighted", o.strategy.user_clip <= 0},
            {"dp", {{"epsilon", o.dp_epsilon}, {"delta", o.dp_delta}, {"clip", o.dp_clip}}},
            {"secure_aggregation", o.secure_aggregation},
            {"preprocessing", preprocessing},
            {"seed", o.seed}};
  }

  void save_checkpoint();
  void load_checkpoint();
  void wait_for_sites();
  enum class Attempt { Aggregated, Aborted, TooFewSites };
  Attempt run_round(int r);
  void aggregate(int r, double seconds);
  void evaluate_final();
  json finish();
};

Coordinator::Coordinator(CoordinatorOptions options, std::vector<float> initial)
    : s_(std::make_unique<State>(std::move(options), std::move(initial))) {
  auto& s = *s_;
  if (s.o.tokens.empty()) fail_invalid("federation: no site tokens (--tokens FILE)");
  if (s.o.min_clients < 1 || s.o.rounds < 1) fail_invalid("federation: --rounds and --min-clients must be >= 1");
  s.architecture_hash = core::sha256_hex(task_architecture(s.o.task).dump());
  fs::create_directories(s.o.out);
  s.audit.open(s.o.out / "audit.jsonl", std::ios::app);
  s.run_id = bridges::crypto::random_hex(8);
  if (s.o.resume) s.load_checkpoint();
  s.publish_global();
}

Coordinator::~Coordinator() = default;

fl::JoinReply Coordinator::join(const fl::CallContext& call, const fl::JoinRequest& request) {
  auto& s = *s_;
  std::lock_guard lk(s.mu);
  const auto tok = s.o.tokens.find(call.token);
  if (tok == s.o.tokens.end()) s.refuse(ErrorCode::Unauthorized, "refused_token", request.site, "unknown token");
  fl::JoinRequest r = request;
  if (r.site.empty()) r.site = tok->second;
  if (tok->second != r.site)
    s.refuse(ErrorCode::Unauthorized, "refused_token", r.site, "the token belongs to another site");
  if (core::sha256_hex(r.architecture) != s.architecture_hash)
    s.refuse(
        ErrorCode::Conflict, "refused_architecture", r.site,
        "the site's model architecture differs from the federation's (" + task_architecture(s.o.task).dump() + ")");
  if (r.train_examples == 0 || r.validation_examples == 0)
    s.refuse(ErrorCode::InvalidInput, "refused_no_data", r.site, "the site has no training or validation data");
  if (s.o.secure_aggregation && r.public_key.size() != 32)
    s.refuse(ErrorCode::InvalidInput, "refused_key", r.site, "secure aggregation needs a 32-byte X25519 public key");
  auto& site = s.sites[r.site];
  if (!site.session.empty()) {
    s.sessions.erase(site.session);
    s.log_audit("rejoined", r.site, "");
    // Under secure aggregation the round's masks used the old key: that round cannot complete.
    if (s.o.secure_aggregation && s.phase == State::Phase::Training &&
        std::find(s.selected.begin(), s.selected.end(), r.site) != s.selected.end() && !s.received.count(r.site))
      s.abort_round = true;
  } else {
    s.log_audit("joined", r.site, "");
  }
  site.session = bridges::crypto::random_hex(16);
  site.public_key = r.public_key;
  site.train = r.train_examples;
  site.validation = r.validation_examples;
  site.stats = {r.feature_count, r.feature_sum, r.feature_sum_sq};
  site.seen = Clock::now();
  s.sessions[site.session] = r.site;
  spdlog::info("federation: site {} joined ({} training, {} validation examples)", r.site, r.train_examples,
               r.validation_examples);
  s.cv.notify_all();
  return {site.session, s.run_id, r.site};
}

fl::Task Coordinator::get_task(const fl::CallContext& call, const std::string& session) {
  auto& s = *s_;
  std::lock_guard lk(s.mu);
  const std::string site = s.site_of_session(call, session);
  fl::Task t;
  t.round = s.round_id;
  const bool chosen = std::find(s.selected.begin(), s.selected.end(), site) != s.selected.end();
  if (s.phase == State::Phase::Done) {
    t.kind = fl::TaskKind::Done;
  } else if ((s.phase == State::Phase::Training && chosen) || s.phase == State::Phase::Evaluating) {
    if (s.received.count(site)) return t;  // already answered: wait
    t.kind = s.phase == State::Phase::Training ? fl::TaskKind::Train : fl::TaskKind::Evaluate;
    t.parameters = s.global_bytes;
    t.parameters_sha256 = s.global_sha;
    t.config = s.task_config(site).dump();
    if (s.phase == State::Phase::Training && s.o.secure_aggregation) t.peers = s.peers;
  }
  return t;
}

fl::UpdateReply Coordinator::submit(const fl::CallContext& call, const fl::Update& u) {
  auto& s = *s_;
  std::lock_guard lk(s.mu);
  const std::string site = s.site_of_session(call, u.session);
  if (u.nonce.empty() || !s.nonces.insert(u.nonce).second)
    s.refuse(ErrorCode::Conflict, "refused_replay", site, "a replayed update (its nonce was seen before)");
  const bool training = s.phase == State::Phase::Training, evaluating = s.phase == State::Phase::Evaluating;
  if (u.round != s.round_id || !(training || evaluating))
    s.refuse(ErrorCode::Conflict, "discarded", site,
             "late or misplaced update for round id " + std::to_string(u.round) + " (the open round is " +
                 std::to_string(s.round_id) + ")");
  if (training && std::find(s.selected.begin(), s.selected.end(), site) == s.selected.end())
    s.refuse(ErrorCode::Forbidden, "refused_unselected", site, "the site was not selected for this round");
  if (s.received.count(site))
    s.refuse(ErrorCode::Conflict, "refused_duplicate", site, "this round's update was already received");
  if (core::sha256_hex(u.payload) != u.payload_sha256)
    s.refuse(ErrorCode::InvalidInput, "refused_corrupted", site, "the update's checksum does not match its payload");
  if (training) {
    if (u.masked != s.o.secure_aggregation)
      s.refuse(ErrorCode::InvalidInput, "refused_format", site,
               s.o.secure_aggregation ? "secure aggregation needs a masked update"
                                      : "a masked update without secure aggregation");
    const size_t expected = s.global.size() * (u.masked ? sizeof(uint64_t) : sizeof(float));
    if (u.payload.size() != expected)
      s.refuse(ErrorCode::InvalidInput, "refused_size", site,
               "an update of " + std::to_string(u.payload.size()) + " bytes for a model of " +
                   std::to_string(expected) + " bytes (another architecture?)");
    if (!u.masked) {
      for (float v : floats_from_bytes(u.payload, "update"))
        if (!std::isfinite(v))
          s.refuse(ErrorCode::InvalidInput, "refused_values", site, "the update holds NaN or infinity");
    }
    if (u.examples == 0 || u.examples > s.sites[site].train)
      s.refuse(ErrorCode::InvalidInput, "refused_examples", site,
               "the update's example count does not match the site's data");
  }
  s.received[site] = {u.payload, u.examples, u.validation_examples, u.validation_auroc, u.train_loss, u.epsilon};
  s.log_audit(training ? "update" : "evaluation", site, "");
  s.cv.notify_all();
  return {true, ""};
}

void Coordinator::State::wait_for_sites() {
  std::unique_lock lk(mu);
  const size_t want = static_cast<size_t>(std::max(o.min_clients, o.expect_sites));
  const auto t0 = Clock::now();
  while (sites.size() < want) {
    if (seconds_since(t0) > o.join_timeout_s)
      fail(ErrorCode::Timeout, "federation: only " + std::to_string(sites.size()) + " of " + std::to_string(want) +
                                   " sites joined within " + std::to_string(static_cast<int>(o.join_timeout_s)) + " s");
    cv.wait_for(lk, std::chrono::milliseconds(200));
  }
  if (preprocessing.is_null()) {  // fixed once, from the statistics of the sites present at the start
    FeatureStats pooled;
    for (const auto& [name, site] : sites) pooled.merge(site.stats);
    preprocessing = SiteModel::preprocessing_from(o.task, pooled);
  }
}

// One attempt at round r: select, wait, aggregate.
Coordinator::State::Attempt Coordinator::State::run_round(int r) {
  std::unique_lock lk(mu);
  const auto t0 = Clock::now();
  std::vector<std::string> live;
  for (const auto& [name, site] : sites)
    if (!site.session.empty() && seconds_since(site.seen) < 30) live.push_back(name);
  if (static_cast<int>(live.size()) < o.min_clients) {
    lk.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    return Attempt::TooFewSites;
  }
  std::mt19937_64 rng(o.seed * 1000003ULL + round_id);
  std::shuffle(live.begin(), live.end(), rng);
  const size_t take =
      o.clients_per_round > 0
          ? std::min<size_t>(live.size(), static_cast<size_t>(std::max(o.clients_per_round, o.min_clients)))
          : live.size();
  selected.assign(live.begin(), live.begin() + static_cast<long>(take));
  std::sort(selected.begin(), selected.end());
  peers.clear();
  for (const auto& n : selected) peers.push_back({n, sites[n].public_key});
  ++round_id;
  received.clear();
  abort_round = false;
  phase = Phase::Training;
  spdlog::info("federation: round {}/{} (id {}) with {} site(s)", r, o.rounds, round_id, selected.size());
  while (received.size() < selected.size() && !abort_round && seconds_since(t0) < o.round_deadline_s)
    cv.wait_for(lk, std::chrono::milliseconds(100));
  phase = Phase::Joining;
  const bool enough = static_cast<int>(received.size()) >= o.min_clients &&
                      (!o.secure_aggregation || received.size() == selected.size());
  if (!enough || abort_round) {
    std::string missing;
    for (const auto& n : selected)
      if (!received.count(n)) missing += (missing.empty() ? "" : ", ") + n;
    log_audit("round_aborted", "",
              std::to_string(received.size()) + " of " + std::to_string(selected.size()) + " updates (missing: " +
                  missing + ")" + (o.secure_aggregation ? "; secure aggregation needs every masked update" : ""));
    return Attempt::Aborted;
  }
  for (const auto& n : selected)
    if (!received.count(n))
      log_audit("straggler", n, "no update before the round deadline; the round went on without it");
  aggregate(r, seconds_since(t0));
  return Attempt::Aggregated;
}

void Coordinator::State::aggregate(int r, double seconds) {
  const bool weighted = o.strategy.user_clip <= 0;
  double total_w = 0, val_w = 0, val_sum = 0;
  std::vector<double> mean(global.size(), 0.0);
  std::vector<uint64_t> masked_sum;
  json per_site = json::object();
  size_t bytes_up = 0;
  for (const auto& [name, u] : received) {
    const double w = weighted ? static_cast<double>(u.examples) : 1.0;
    total_w += w;
    bytes_up += u.payload.size();
    if (o.secure_aggregation) {
      std::vector<uint64_t> m(u.payload.size() / sizeof(uint64_t));
      std::memcpy(m.data(), u.payload.data(), u.payload.size());
      add_masked(masked_sum, m);
    } else {
      const auto d = floats_from_bytes(u.payload, "update");
      for (size_t i = 0; i < d.size(); ++i) mean[i] += w * d[i];
    }
    val_sum += u.validation_auroc * static_cast<double>(u.validation_examples);
    val_w += static_cast<double>(u.validation_examples);
    per_site[name] = {{"validation_auroc", u.validation_auroc},
                      {"train_loss", u.loss},
                      {"examples", u.examples},
                      {"epsilon", u.epsilon}};
  }
  if (o.secure_aggregation) mean = decode_fixed_point(masked_sum);  // the sites sent w * delta
  for (double& m : mean) m /= total_w;
  // The validation AUROC the sites measured is that of the global model they received (round r - 1's).
  const double val = val_w > 0 ? val_sum / val_w : 0;
  if (r > 1 && val > best_auroc) best_auroc = val, best_round = r - 1, best = global;
  global = strategy.apply(global, mean, received.size(), o.seed * 7919ULL + static_cast<uint64_t>(r));
  publish_global();
  round = r;
  history.push_back({{"round", r},
                     {"round_id", round_id},
                     {"sites", selected},
                     {"updates", received.size()},
                     {"validation_auroc_of_previous", val},
                     {"per_site", per_site},
                     {"bytes_down_per_site", global_bytes.size()},
                     {"bytes_up", bytes_up},
                     {"seconds", seconds}});
  spdlog::info("federation: round {} aggregated ({} updates, validation AUROC of the previous global {:.4f}, {:.1f} s)",
               r, received.size(), val, seconds);
  save_checkpoint();
}

void Coordinator::State::save_checkpoint() {
  strategy_state = strategy.state();
  const json state = {{"format", "medai.fl_coordinator/1"},
                      {"round", round},
                      {"round_id", round_id},
                      {"history", history},
                      {"best_auroc", best_auroc},
                      {"best_round", best_round},
                      {"preprocessing", preprocessing},
                      {"task", o.task}};
  train::write_checkpoint(
      o.out, "round-" + std::to_string(round),
      [&](const fs::path& dir) {
        core::write_file_atomic(dir / "global.f32", to_bytes(global));
        core::write_file_atomic(dir / "best.f32", to_bytes(best));
        core::write_file_atomic(dir / "strategy.f32", to_bytes(strategy_state));
      },
      state);
}

void Coordinator::State::load_checkpoint() {
  fs::path dir;
  const json st = train::read_checkpoint(o.out, dir);
  const std::string where = (o.out / train::kTrainStateFile).string();
  if (st.value("format", "") != "medai.fl_coordinator/1" || st.value("task", "") != o.task)
    fail_invalid(where + ": not a federated run of task " + o.task);
  round = st.at("round").get<int>();
  round_id = st.at("round_id").get<uint32_t>();
  history = st.at("history");
  best_auroc = st.at("best_auroc").get<double>();
  best_round = st.at("best_round").get<int>();
  preprocessing = st.at("preprocessing");
  const auto g = floats_from_bytes(core::read_file(dir / "global.f32"), (dir / "global.f32").string());
  if (g.size() != global.size()) fail_invalid((dir / "global.f32").string() + ": another architecture");
  global = g;
  best = floats_from_bytes(core::read_file(dir / "best.f32"), (dir / "best.f32").string());
  strategy.restore(floats_from_bytes(core::read_file(dir / "strategy.f32"), (dir / "strategy.f32").string()));
  log_audit("resumed", "", "after round " + std::to_string(round));
  spdlog::info("federation: resuming {} after round {}", o.out.string(), round);
}

void Coordinator::State::evaluate_final() {
  std::unique_lock lk(mu);
  ++round_id;
  received.clear();
  phase = Phase::Evaluating;
  const auto t0 = Clock::now();
  auto live = [&] {
    size_t n = 0;
    for (const auto& [name, site] : sites) n += seconds_since(site.seen) < 30;
    return n;
  };
  while (received.size() < live() && seconds_since(t0) < o.round_deadline_s)
    cv.wait_for(lk, std::chrono::milliseconds(100));
  double val_sum = 0, val_w = 0;
  json per_site = json::object();
  for (const auto& [name, u] : received) {
    val_sum += u.validation_auroc * static_cast<double>(u.validation_examples);
    val_w += static_cast<double>(u.validation_examples);
    per_site[name] = {{"validation_auroc", u.validation_auroc}, {"epsilon", u.epsilon}};
  }
  const double val = val_w > 0 ? val_sum / val_w : 0;
  if (val > best_auroc || best.empty()) best_auroc = val, best_round = round, best = global;
  history.push_back(
      {{"round", round + 1}, {"evaluation_only", true}, {"validation_auroc_of_previous", val}, {"per_site", per_site}});
  phase = Phase::Done;
}

json Coordinator::State::finish() {
  const json card = {{"format", "medai.fl_run/1"},
                     {"task", o.task},
                     {"architecture", task_architecture(o.task)},
                     {"preprocessing", preprocessing},
                     {"strategy", o.strategy.name},
                     {"rounds", round},
                     {"best_round", best_round},
                     {"best_validation_auroc", best_auroc},
                     {"secure_aggregation", o.secure_aggregation},
                     {"dp_epsilon_target", o.dp_epsilon},
                     {"dp_delta", o.dp_delta},
                     {"sites",
                      [&] {
                        json a = json::array();
                        for (const auto& [n, s] : sites)
                          a.push_back({{"site", n}, {"train", s.train}, {"validation", s.validation}});
                        return a;
                      }()},
                     {"intended_use",
                      "A model trained across sites that kept their data; research and validation before any clinical "
                      "use. Its figures are those the sites measured on their own validation splits."},
                     {"limitations",
                      "The sites' populations differ (non-IID): check the model at each site before use. Without "
                      "dp_epsilon_target the model carries no privacy guarantee; secure aggregation assumes a "
                      "coordinator that follows the protocol (semi-honest) and hides updates, not the model."}};
  core::write_file_atomic(o.out / "global.f32", to_bytes(global));
  core::write_file_atomic(o.out / "best.f32", to_bytes(best));
  core::write_json_file(o.out / "fl_model.json", card);
  core::write_json_file(o.out / "rounds.json", history);
  json summary = card;
  summary["history"] = history;
  summary["completed"] = round >= o.rounds;
  return summary;
}

json Coordinator::run() {
  auto& s = *s_;
  s.wait_for_sites();
  for (int r = s.round + 1; r <= s.o.rounds; ++r) {
    int attempts = 0;
    const auto t0 = Clock::now();
    for (State::Attempt a; (a = s.run_round(r)) != State::Attempt::Aggregated;) {
      if (a == State::Attempt::Aborted && ++attempts >= s.o.max_attempts)
        fail(ErrorCode::Unavailable, "federation: round " + std::to_string(r) + " failed " + std::to_string(attempts) +
                                         " times (too few sites answered; see " + (s.o.out / "audit.jsonl").string() +
                                         ")");
      if (a == State::Attempt::TooFewSites && seconds_since(t0) > s.o.join_timeout_s)
        fail(ErrorCode::Timeout, "federation: fewer than --min-clients sites are live for round " + std::to_string(r));
    }
  }
  s.evaluate_final();
  json summary = s.finish();
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the sites' next poll sees Done
  return summary;
}

FederatedModel load_federated_model(const fs::path& run_dir, bool best) {
  const fs::path card = run_dir / "fl_model.json";
  FederatedModel m;
  m.card = core::read_json_file(card);
  if (m.card.value("format", "") != "medai.fl_run/1") fail_invalid(card.string() + ": not a medai federated run");
  m.architecture = m.card.at("architecture");
  m.preprocessing = m.card.at("preprocessing");
  const fs::path f = run_dir / (best ? "best.f32" : "global.f32");
  m.parameters = floats_from_bytes(core::read_file(f), f.string());
  return m;
}

}  // namespace medai::federated
