// Federated learning: the RDP accountant against closed forms and a published value, secure
// aggregation (exact sums, masks independent of the update), the strategies, and the coordinator
// over real gRPC refusing bad sites and updates while the federation goes on.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <thread>

#include "medai/bridges/crypto/crypto.h"
#include "medai/bridges/grpc/federation_transport.h"
#include "medai/core/error.h"
#include "medai/core/sha256.h"
#include "medai/federated/coordinator.h"
#include "medai/federated/privacy_accountant.h"
#include "medai/federated/secure_aggregation.h"
#include "medai/federated/site_model.h"
#include "medai/federated/strategy.h"
#include "support/test_support.h"

namespace medai::federated {
namespace {

namespace fl = bridges::fl;

TEST(Accountant, GaussianMechanismIsAlphaOverTwoSigmaSquared) {
  for (double sigma : {0.5, 1.0, 3.0})
    for (double a : {1.5, 2.0, 7.0, 32.0})
      EXPECT_DOUBLE_EQ(rdp_sampled_gaussian(1.0, sigma, a), a / (2 * sigma * sigma));
}

TEST(Accountant, ComposedGaussianMatchesTheClosedFormOptimum) {
  // T compositions of the Gaussian mechanism: min over alpha of T alpha / (2 sigma^2) + log(1/delta) / (alpha - 1)
  // is T / (2 sigma^2) + sqrt(2 T log(1/delta)) / sigma at alpha* = 1 + sigma sqrt(2 log(1/delta) / T).
  const double sigma = 20, delta = 1e-5;
  const long long t = 50;
  std::vector<double> orders;
  for (double a = 1.01; a < 200; a += 0.01) orders.push_back(a);
  const double closed = t / (2 * sigma * sigma) + std::sqrt(2 * t * std::log(1 / delta)) / sigma;
  const auto got = privacy_spent(1.0, sigma, t, delta, orders, true);
  EXPECT_NEAR(got.epsilon, closed, 1e-4 * closed);
  EXPECT_NEAR(got.order, 1 + sigma * std::sqrt(2 * std::log(1 / delta) / t), 0.02);
}

TEST(Accountant, SubsampledValueMatchesThePublishedExample) {
  // Opacus' compute_dp_sgd_privacy documentation: 60,000 examples, batch 256, noise 1.12, 60
  // epochs, delta 1e-5, orders 10, 20, 100 -> epsilon 2.95 (Mironov's conversion; 60 x ceil(60000 /
  // 256) = 14,100 steps gives 2.946, int(60 / q) = 14,062 steps 2.941).
  const double q = 256.0 / 60000;
  const auto p = privacy_spent(q, 1.12, 60 * 235, 1e-5, {10, 20, 100}, true);
  EXPECT_NEAR(p.epsilon, 2.95, 0.005);
  EXPECT_EQ(p.order, 10);
  // The tighter conversion and more orders can only lower it.
  EXPECT_LT(privacy_spent(q, 1.12, 60 * 235, 1e-5).epsilon, p.epsilon);
}

TEST(Accountant, FractionalOrdersSitBetweenTheirIntegerNeighbours) {
  for (double q : {0.01, 0.1}) {
    const double r2 = rdp_sampled_gaussian(q, 1.0, 2), r25 = rdp_sampled_gaussian(q, 1.0, 2.5),
                 r3 = rdp_sampled_gaussian(q, 1.0, 3);
    EXPECT_LT(r2, r25);
    EXPECT_LT(r25, r3);
  }
  // Subsampling amplifies privacy: far below the unsampled mechanism.
  EXPECT_LT(rdp_sampled_gaussian(0.01, 1.0, 8), 0.01 * rdp_sampled_gaussian(1.0, 1.0, 8));
}

TEST(Accountant, NoiseForEpsilonInvertsTheAccountant) {
  const double q = 0.05, delta = 1e-5;
  for (double eps : {1.0, 3.0, 8.0}) {
    const double sigma = noise_for_epsilon(q, 400, eps, delta);
    EXPECT_LE(privacy_spent(q, sigma, 400, delta).epsilon, eps);
    EXPECT_GT(privacy_spent(q, sigma * 0.99, 400, delta).epsilon, eps * 0.97);
  }
  EXPECT_THROW(noise_for_epsilon(q, 400, 0, delta), Error);
  EXPECT_THROW(privacy_spent(q, 1, 10, 0), Error);
}

struct Sites {
  std::vector<std::string> names{"a", "b", "c"};
  std::vector<bridges::crypto::KeyPair> keys;
  std::vector<MaskPeer> peers;
  Sites() {
    for (const auto& n : names) {
      keys.push_back(bridges::crypto::x25519_keypair());
      peers.push_back({n, keys.back().public_key});
    }
  }
};

TEST(SecureAggregation, MaskedSumIsExact) {
  Sites s;
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0, 0.05f);
  std::vector<uint64_t> masked_sum, plain_sum;
  std::vector<double> real(5000, 0.0);
  for (size_t i = 0; i < 3; ++i) {
    std::vector<float> u(5000);
    for (auto& v : u) v = n(rng);
    const double w = 100.0 * (i + 1);
    const auto enc = encode_fixed_point(u, w);
    add_masked(plain_sum, enc);
    add_masked(masked_sum, mask_update(enc, s.names[i], s.keys[i].private_key, s.peers, 7));
    for (size_t k = 0; k < u.size(); ++k) real[k] += w * u[k];
  }
  EXPECT_EQ(masked_sum, plain_sum);  // bit for bit
  const auto decoded = decode_fixed_point(masked_sum);
  for (size_t k = 0; k < real.size(); ++k)
    EXPECT_NEAR(decoded[k], real[k], 3 / kFixedPointScale + 1e-9 * std::fabs(real[k]));
}

TEST(SecureAggregation, OneMaskedUpdateLooksUniformWhateverTheUpdate) {
  Sites s;
  const size_t n = 20000;
  std::vector<float> big(n), zero(n, 0.0f);
  for (size_t k = 0; k < n; ++k) big[k] = static_cast<float>(k % 97) * 0.01f;
  for (const auto* u : {&big, &zero}) {
    const auto m = mask_update(encode_fixed_point(*u, 1.0), "a", s.keys[0].private_key, s.peers, 1);
    std::vector<double> hist(256, 0), x, y;
    for (size_t k = 0; k < n; ++k) {
      hist[m[k] >> 56] += 1;
      x.push_back(static_cast<double>(m[k] >> 11));
      y.push_back((*u)[k]);
    }
    double chi2 = 0;
    for (double h : hist) chi2 += (h - n / 256.0) * (h - n / 256.0) / (n / 256.0);
    EXPECT_LT(chi2, 340) << "top byte not uniform (255 degrees of freedom)";  // p ~ 0.0003
    if (u == &big) {  // no linear trace of the update in the masked values
      double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
      for (size_t k = 0; k < n; ++k) mx += x[k] / n, my += y[k] / n;
      for (size_t k = 0; k < n; ++k)
        sxy += (x[k] - mx) * (y[k] - my), sxx += (x[k] - mx) * (x[k] - mx), syy += (y[k] - my) * (y[k] - my);
      EXPECT_LT(std::fabs(sxy / std::sqrt(sxx * syy)), 0.03);
    }
  }
}

TEST(SecureAggregation, ADroppedSiteLeavesTheSumMeaningless) {
  Sites s;
  const std::vector<float> u(100, 0.5f);
  std::vector<uint64_t> two;
  for (size_t i = 0; i < 2; ++i)
    add_masked(two, mask_update(encode_fixed_point(u, 1), s.names[i], s.keys[i].private_key, s.peers, 2));
  const auto d = decode_fixed_point(two);
  size_t close = 0;
  for (double v : d) close += std::fabs(v - 1.0) < 0.01;
  EXPECT_LT(close, 5u);  // hence the coordinator aborts such a round
  EXPECT_THROW(bridges::crypto::x25519_shared(s.keys[0].private_key, "short"), Error);
}

TEST(Strategy, FedAvgFedAdamAndClipping) {
  Strategy avg({"fedavg"});
  const auto g = avg.apply({1.0f, 2.0f}, {0.5, -1.0}, 2, 1);
  EXPECT_FLOAT_EQ(g[0], 1.5f);
  EXPECT_FLOAT_EQ(g[1], 1.0f);
  StrategyOptions ao;
  ao.name = "fedadam";
  Strategy adam(ao);
  const auto a = adam.apply({0.0f}, {0.2}, 1, 1);  // m = 0.02, v = 0.0004: 0.01 * 0.02 / (0.02 + 0.001)
  EXPECT_NEAR(a[0], 0.01 * 0.02 / (0.02 + 1e-3), 1e-7);
  Strategy restored(ao);
  restored.restore(adam.state());
  EXPECT_EQ(restored.state(), adam.state());
  std::vector<float> d{3, 4};
  EXPECT_DOUBLE_EQ(clip_l2(d, 1.0), 5.0);
  EXPECT_NEAR(d[0], 0.6, 1e-6);
  EXPECT_THROW(Strategy({"fedsgd"}), Error);
}

// A coordinator on loopback and hand-made sites: every refusal is answered and audited, and the
// round still completes with the good updates.
TEST(Coordinator, RefusesBadSitesAndUpdatesAndCompletes) {
  test::TempDir dir;
  CoordinatorOptions o;
  o.task = "icu";
  o.rounds = 1;
  o.min_clients = 2;
  o.expect_sites = 2;
  o.round_deadline_s = 20;
  o.tokens = {{"tok-a", "a"}, {"tok-b", "b"}};
  o.out = dir / "run";
  const auto init = initial_parameters("icu", 1);
  Coordinator c(o, init);
  fl::FederationServer server(c, "127.0.0.1:0", {});
  const std::string addr = "127.0.0.1:" + std::to_string(server.port());
  nlohmann::json summary;
  std::thread runner([&] { summary = c.run(); });

  fl::JoinRequest good;
  good.architecture = task_architecture("icu").dump();
  good.train_examples = 100, good.validation_examples = 20;
  fl::FederationClient wrong(addr, "nope", {}), a(addr, "tok-a", {}), b(addr, "tok-b", {});
  auto expect_code = [](auto&& f, ErrorCode code) {
    try {
      f();
      ADD_FAILURE() << "not refused";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
    }
  };
  expect_code([&] { wrong.join(good); }, ErrorCode::Unauthorized);
  auto other = good;
  other.architecture = R"({"task":"icu","layers":"bigger"})";
  expect_code([&] { a.join(other); }, ErrorCode::Conflict);
  auto empty = good;
  empty.train_examples = 0;
  expect_code([&] { a.join(empty); }, ErrorCode::InvalidInput);
  const auto ja = a.join(good), jb = b.join(good);
  EXPECT_EQ(ja.site, "a");
  expect_code([&] { b.get_task(ja.session); }, ErrorCode::Unauthorized);  // b's token, a's session

  auto task_for = [](fl::FederationClient& cl, const std::string& session) {
    for (int i = 0; i < 200; ++i) {
      auto t = cl.get_task(session);
      if (t.kind != fl::TaskKind::Wait) return t;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("no task");
  };
  const auto ta = task_for(a, ja.session), tb = task_for(b, jb.session);
  ASSERT_EQ(ta.kind, fl::TaskKind::Train);
  EXPECT_EQ(core::sha256_hex(ta.parameters), ta.parameters_sha256);
  auto update = [&](const fl::Task& t, const std::string& session, float value, const std::string& nonce) {
    fl::Update u;
    u.session = session;
    u.round = t.round;
    u.payload = to_bytes(std::vector<float>(init.size(), value));
    u.payload_sha256 = core::sha256_hex(u.payload);
    u.examples = 100, u.validation_examples = 20, u.validation_auroc = 0.5;
    u.nonce = nonce;
    return u;
  };
  auto corrupted = update(ta, ja.session, 0.1f, "n1");
  corrupted.payload[3] ^= 1;
  expect_code([&] { a.submit(corrupted); }, ErrorCode::InvalidInput);
  auto small = update(ta, ja.session, 0.1f, "n2");
  small.payload.resize(40);
  small.payload_sha256 = core::sha256_hex(small.payload);
  expect_code([&] { a.submit(small); }, ErrorCode::InvalidInput);
  auto wrong_round = update(ta, ja.session, 0.1f, "n3");
  wrong_round.round += 5;
  expect_code([&] { a.submit(wrong_round); }, ErrorCode::Conflict);
  EXPECT_TRUE(a.submit(update(ta, ja.session, 0.1f, "n4")).accepted);
  expect_code([&] { a.submit(update(ta, ja.session, 0.1f, "n4")); }, ErrorCode::Conflict);  // replay
  expect_code([&] { a.submit(update(ta, ja.session, 0.1f, "n5")); }, ErrorCode::Conflict);  // duplicate
  EXPECT_TRUE(b.submit(update(tb, jb.session, 0.3f, "n6")).accepted);
  // The final evaluation round, then done.
  for (auto* cl : {&a, &b}) {
    const auto& s = cl == &a ? ja.session : jb.session;
    const auto t = task_for(*cl, s);
    ASSERT_EQ(t.kind, fl::TaskKind::Evaluate);
    const auto g = floats_from_bytes(t.parameters, "global");
    EXPECT_NEAR(g[0], init[0] + 0.2f, 1e-6);  // the example-weighted mean of 0.1 and 0.3
    fl::Update e;
    e.session = s, e.round = t.round, e.payload_sha256 = core::sha256_hex(""), e.nonce = s;
    e.validation_auroc = 0.6, e.validation_examples = 20;
    cl->submit(e);
  }
  runner.join();
  EXPECT_TRUE(summary["completed"].get<bool>());
  std::ifstream audit(o.out / "audit.jsonl");
  std::string all((std::istreambuf_iterator<char>(audit)), {});
  for (const char* e : {"refused_token", "refused_architecture", "refused_no_data", "refused_corrupted", "refused_size",
                        "discarded", "refused_replay", "refused_duplicate"})
    EXPECT_NE(all.find(e), std::string::npos) << e;
  const auto m = load_federated_model(o.out, false);
  EXPECT_EQ(m.parameters.size(), init.size());
}

TEST(Coordinator, TokensFileErrorsNameTheLine) {
  test::TempDir dir;
  std::ofstream(dir / "t.csv") << "token,site\nabc,site-1\nbroken\n";
  try {
    read_tokens(dir / "t.csv");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos);
  }
}

TEST(Transport, TlsWithAGeneratedCertificate) {
  test::TempDir dir;
  const auto pem = bridges::crypto::self_signed_certificate("localhost");
  std::ofstream(dir / "cert.pem") << pem.certificate;
  std::ofstream(dir / "key.pem") << pem.private_key;
  CoordinatorOptions o;
  o.tokens = {{"t", "a"}};
  o.out = dir / "run";
  Coordinator c(o, initial_parameters("icu", 1));
  fl::FederationServer server(c, "127.0.0.1:0", {dir / "cert.pem", dir / "key.pem", {}, {}});
  const std::string addr = "127.0.0.1:" + std::to_string(server.port());
  fl::JoinRequest r;
  r.architecture = task_architecture("icu").dump();
  r.train_examples = r.validation_examples = 1;
  fl::FederationClient secure(addr, "t", {{}, {}, dir / "cert.pem", "localhost"}, 10);
  EXPECT_EQ(secure.join(r).site, "a");
  fl::FederationClient plain(addr, "t", {}, 3);  // plaintext to a TLS port fails
  EXPECT_THROW(plain.join(r), Error);
}

}  // namespace
}  // namespace medai::federated
