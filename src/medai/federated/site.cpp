#include "medai/federated/site.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

#include "medai/bridges/crypto/crypto.h"
#include "medai/core/error.h"
#include "medai/core/sha256.h"
#include "medai/federated/coordinator.h"
#include "medai/federated/privacy_accountant.h"
#include "medai/federated/secure_aggregation.h"
#include "medai/federated/strategy.h"

namespace medai::federated {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fl = bridges::fl;

namespace {

bool transient(const Error& e) { return e.code() == ErrorCode::Unavailable || e.code() == ErrorCode::Timeout; }

// Calls `f` until it succeeds; transient failures are retried for up to give_up_s.
template <class F>
auto with_retry(const SiteOptions& o, F&& f) {
  const auto t0 = Clock::now();
  for (double wait = 0.2;; wait = std::min(wait * 2, 2.0)) {
    try {
      return f();
    } catch (const Error& e) {
      if (!transient(e) || std::chrono::duration<double>(Clock::now() - t0).count() > o.give_up_s) throw;
      spdlog::debug("site {}: {} (retrying)", o.site, e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(wait * 1000)));
    }
  }
}

// DP-SGD's noise multiplier, fixed at the first round so the whole run stays within epsilon.
struct PrivacyState {
  double sigma = 0, q = 1;
  long long steps = 0;
  double epsilon(double delta) const { return sigma > 0 ? privacy_spent(q, sigma, steps, delta).epsilon : 0; }
};

struct Round {
  fl::Update update;
  double validation_auroc = 0;
};

std::string encode_payload(const std::vector<float>& delta, double weight, const json& cfg, const fl::Task& t,
                           const std::string& site, const bridges::crypto::KeyPair& keys) {
  if (!cfg.value("secure_aggregation", false)) return to_bytes(delta);
  std::vector<MaskPeer> peers;
  for (const auto& p : t.peers) peers.push_back({p.site, p.public_key});
  const auto masked = mask_update(encode_fixed_point(delta, weight), site, keys.private_key, peers, t.round);
  std::string b(masked.size() * sizeof(uint64_t), '\0');
  std::memcpy(b.data(), masked.data(), b.size());
  return b;
}

Round handle(SiteModel& m, const fl::Task& t, const SiteOptions& o, const bridges::crypto::KeyPair& keys,
             PrivacyState& dp, json& preprocessing) {
  if (core::sha256_hex(t.parameters) != t.parameters_sha256)
    fail_invalid("the global model's checksum does not match (corrupted in transit)");
  const json cfg = json::parse(t.config);
  if (cfg.at("preprocessing") != preprocessing) {
    preprocessing = cfg.at("preprocessing");
    m.set_preprocessing(preprocessing);
  }
  const auto global = floats_from_bytes(t.parameters, "global model");
  m.set_parameters(global);
  Round r;
  r.validation_auroc = m.auroc(Part::Validation);
  auto& u = r.update;
  u.round = t.round;
  u.validation_auroc = r.validation_auroc;
  u.validation_examples = m.examples(Part::Validation);
  u.examples = m.examples(Part::Train);
  const double delta_dp = cfg.at("dp").at("delta").get<double>();
  if (t.kind == fl::TaskKind::Train) {
    LocalTrainOptions lo;
    lo.epochs = cfg.at("local_epochs").get<int>();
    lo.batch_size = cfg.at("batch_size").get<int>();
    lo.lr = cfg.at("lr").get<double>();
    lo.prox_mu = cfg.at("prox_mu").get<double>();
    lo.seed =
        cfg.at("seed").get<uint64_t>() * 1000003ULL + t.round * 7919ULL + std::hash<std::string>{}(o.site) % 65521;
    const double target = cfg.at("dp").at("epsilon").get<double>();
    if (target > 0) {
      const double n = static_cast<double>(u.examples);
      if (dp.sigma == 0) {
        dp.q = std::min(1.0, lo.batch_size / n);
        const long long total = static_cast<long long>(cfg.at("rounds").get<int>()) * lo.epochs *
                                static_cast<long long>(std::ceil(n / lo.batch_size));
        dp.sigma = noise_for_epsilon(dp.q, total, target, delta_dp);
        spdlog::info("site {}: DP-SGD noise multiplier {:.3f} for epsilon {} at delta {} ({} steps, q {:.4f})", o.site,
                     dp.sigma, target, delta_dp, total, dp.q);
      }
      lo.dp_noise = dp.sigma;
      lo.dp_clip = cfg.at("dp").at("clip").get<double>();
    }
    const auto res = m.train(lo);
    dp.steps += res.steps;
    u.train_loss = res.loss;
    auto local = m.parameters();
    for (size_t i = 0; i < local.size(); ++i) local[i] -= global[i];
    if (cfg.at("user_clip").get<double>() > 0) clip_l2(local, cfg.at("user_clip").get<double>());
    u.masked = cfg.value("secure_aggregation", false);
    u.payload = encode_payload(local, cfg.at("weighted").get<bool>() ? static_cast<double>(u.examples) : 1.0, cfg, t,
                               o.site, keys);
  }
  u.epsilon = dp.epsilon(delta_dp);
  u.payload_sha256 = core::sha256_hex(u.payload);
  u.nonce = bridges::crypto::random_hex(16);
  return r;
}

fl::JoinRequest join_request(const SiteModel& m, const SiteOptions& o, const std::string& public_key) {
  const auto stats = m.feature_stats();
  return {o.site,
          m.architecture().dump(),
          m.examples(Part::Train),
          m.examples(Part::Validation),
          stats.count,
          stats.sum,
          stats.sum_sq,
          public_key};
}

}  // namespace

json run_site(SiteModel& m, const SiteOptions& o) {
  fl::FederationClient client(o.server, o.token, o.tls);
  const auto keys = bridges::crypto::x25519_keypair();
  const auto request = join_request(m, o, keys.public_key);
  std::string session;
  SiteOptions named = o;  // the name the coordinator knows the site by (from its token)
  auto join = [&] {
    const auto reply = with_retry(o, [&] { return client.join(request); });
    session = reply.session;
    named.site = reply.site;
    spdlog::info("site {}: joined {}", named.site, o.server);
  };
  join();
  PrivacyState dp;
  json preprocessing, summary = {{"site", named.site}, {"rounds_trained", 0}};
  const auto t_idle = Clock::now();
  for (auto last_contact = t_idle;;) {
    fl::Task t;
    try {
      t = client.get_task(session);
      last_contact = Clock::now();
    } catch (const Error& e) {
      if (e.code() == ErrorCode::NotFound) {
        join();
        continue;
      }
      if (!transient(e) || std::chrono::duration<double>(Clock::now() - last_contact).count() > o.give_up_s) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    if (t.kind == fl::TaskKind::Done) break;
    if (t.kind == fl::TaskKind::Wait) {
      std::this_thread::sleep_for(
          std::chrono::milliseconds(static_cast<int>(std::clamp(t.retry_after_s, 0.05, 5.0) * 1000)));
      continue;
    }
    Round r = handle(m, t, named, keys, dp, preprocessing);
    r.update.session = session;
    try {
      const auto reply = with_retry(o, [&] { return client.submit(r.update); });
      if (t.kind == fl::TaskKind::Train) summary["rounds_trained"] = summary["rounds_trained"].get<int>() + 1;
      spdlog::info("site {}: round id {} {} (validation AUROC of the global model {:.4f}{})", named.site, t.round,
                   reply.accepted ? "sent" : "refused", r.validation_auroc,
                   dp.sigma > 0 ? fmt::format(", epsilon {:.2f}", r.update.epsilon) : "");
    } catch (const Error& e) {
      if (e.code() == ErrorCode::NotFound) {
        join();
        continue;
      }
      spdlog::warn("site {}: update refused: {}", named.site, e.what());
    }
    summary["validation_auroc"] = r.validation_auroc;
    summary["epsilon"] = r.update.epsilon;
  }
  summary["noise_multiplier"] = dp.sigma;
  return summary;
}

void announce_no_data(const SiteOptions& o, const std::string& task) {
  fl::FederationClient client(o.server, o.token, o.tls);
  fl::JoinRequest r;
  r.site = o.site;
  r.architecture = task_architecture(task).dump();
  with_retry(o, [&] { return client.join(r); });
}

}  // namespace medai::federated
