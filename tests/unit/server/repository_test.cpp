// The server's pieces in-process: batcher, model repository, metrics, the middleware and routes
// (called without a socket), and a stress test of predictions racing admin reloads.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <regex>
#include <thread>

#include "medai/core/error.h"
#include "medai/imaging/classifier_model.h"
#include "medai/server/api.h"
#include "medai/server/batcher.h"
#include "medai/server/metrics.h"
#include "medai/server/model_repository.h"
#include "medai/server/store.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using namespace medai;
using namespace medai::server;
using nlohmann::json;

namespace {

// Two tiny detectors (versions 1 and 2 of "cxr", different seeds) trained once per binary on
// synthetic images: a bright square top-left (A) or bottom-right (B).
const fs::path& repository() {
  static test::TempDir* dir = nullptr;
  static fs::path root;
  if (dir) return root;
  dir = new test::TempDir();  // kept for the binary's life
  root = dir->path() / "models";
  for (const char* cls : {"A", "B"}) {
    fs::create_directories(dir->path() / "data" / cls);
    for (int i = 0; i < 24; ++i) {
      cv::Mat img;
      test::quadrant_image(48, cls[0] == 'A' ? 0 : 3, 100 + i).convertTo(img, CV_8U, 255);
      cv::imwrite((dir->path() / "data" / cls / ("img" + std::to_string(i) + ".png")).string(), img);
    }
  }
  for (int v = 1; v <= 2; ++v) {
    auto r = test::run_medai("image train --data " + test::quote(dir->path() / "data") + " --out " +
                             test::quote(root / "cxr" / std::to_string(v)) +
                             " --size 32 --epochs 1 --batch 8 --val-fraction 0.25 --seed " + std::to_string(v));
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  return root;
}

// A repository of its own (model "x", version 1 = a copy of cxr/1), loaded; tests may change its files.
std::unique_ptr<ModelRepository> own_copy_of_version_1(const test::TempDir& dir) {
  fs::create_directories(dir / "m" / "x");
  fs::copy(repository() / "cxr" / "1", dir / "m" / "x" / "1", fs::copy_options::recursive);
  auto repo = std::make_unique<ModelRepository>(dir / "m", BatchingOptions{});
  repo->scan();
  repo->load_all();
  return repo;
}

std::string png_bytes(int quadrant, uint64_t seed) {
  cv::Mat img;
  test::quadrant_image(48, quadrant, seed).convertTo(img, CV_8U, 255);
  std::vector<unsigned char> buf;
  cv::imencode(".png", img, buf);
  return std::string(buf.begin(), buf.end());
}

// A server without a socket: the routes, the middleware, a store with two tokens.
struct InProcess {
  ServerOptions options;
  test::TempDir dir;
  Store store{dir / "m.db"};
  Metrics metrics;
  ModelRepository repo;
  ServerContext ctx;
  std::vector<Route> routes;
  std::string clinician, admin;

  explicit InProcess(const fs::path& models, int max_batch = 8)
      : repo(models, {max_batch, 5, 64}, &metrics), ctx{options, store, metrics, repo, {}, "test-secret-123"} {
    repo.scan();
    repo.load_all();
    routes = all_routes(ctx);
    clinician = store.create_token(Role::Clinician, "c");
    admin = store.create_token(Role::Admin, "a");
  }
  // Dispatches like the bridge: the first route whose method and pattern match the path.
  Response call(const std::string& method, const std::string& target, const std::string& token = "",
                const std::string& body = "", const std::string& type = "") {
    Request req;
    req.method = method;
    const auto q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) {
      std::string qs = target.substr(q + 1);
      for (size_t s = 0; s <= qs.size();) {
        size_t e = qs.find('&', s);
        if (e == std::string::npos) e = qs.size();
        const std::string kv = qs.substr(s, e - s);
        const auto eq = kv.find('=');
        if (!kv.empty()) req.params[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
        s = e + 1;
      }
    }
    if (!token.empty()) req.headers["authorization"] = "Bearer " + token;
    if (!type.empty()) req.headers["content-type"] = type;
    req.body = body;
    Response res;
    for (const Route& r : routes) {
      std::smatch m;
      if (r.method != method || !std::regex_match(req.path, m, std::regex(r.pattern))) continue;
      for (const auto& g : m) req.matches.push_back(g.str());
      handle(ctx, r, req, res);
      return res;
    }
    res.status = 404;
    return res;
  }
};

std::string history_json(int n, int first_mgdl = 150) {
  std::string hist = "{\"history\": \"timestamp,cgm_mgdl\\n";
  for (int i = 0; i < n; ++i) {
    char row[64];
    std::snprintf(row, sizeof row, "2026-01-01 %02d:%02d:00,%d\\n", 6 + i * 5 / 60, i * 5 % 60, first_mgdl + i);
    hist += row;
  }
  return hist + "\", \"settings\": {\"basal_u_per_h\": 1, \"cr\": 10, \"cf\": 40, \"tdi\": 40}}";
}

}  // namespace

TEST(Batcher, GroupsConcurrentRequestsAndAnswersEachWithItsOwnPrediction) {
  const fs::path root = repository();
  auto model = std::make_shared<imaging::ClassifierModel>(imaging::ClassifierModel::load(root / "cxr" / "1"));
  std::vector<int> sizes;
  std::mutex mu;
  Batcher b(model, 4, 200, 16, [&](int n) {
    std::lock_guard l(mu);
    sizes.push_back(n);
  });
  std::vector<torch::Tensor> inputs;
  std::vector<double> alone;
  for (int i = 0; i < 4; ++i) {
    cv::Mat img;
    test::quadrant_image(48, i % 2 ? 0 : 3, 7 + i).convertTo(img, CV_32F);
    inputs.push_back(model->input_tensor(img));
    alone.push_back(model->predictions(model->logits(inputs.back()))[0].probability);
  }
  std::vector<std::future<imaging::Prediction>> f;
  for (auto& t : inputs) f.push_back(b.submit(t));
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(f[i].get().probability, alone[i], 1e-5) << i;
  std::lock_guard l(mu);
  int total = 0;
  for (int n : sizes) total += n;
  EXPECT_EQ(total, 4);
  EXPECT_LT(sizes.size(), 4u);  // some requests ran together
}

TEST(Batcher, RefusesWorkBeyondItsCapacity) {
  auto model = std::make_shared<imaging::ClassifierModel>(imaging::ClassifierModel::load(repository() / "cxr" / "1"));
  Batcher b(model, 64, 1000, 2);  // waits up to 1 s for companions: the queue fills
  cv::Mat img;
  test::quadrant_image(48, 0, 1).convertTo(img, CV_32F);
  auto t = model->input_tensor(img);
  auto f1 = b.submit(t);
  auto f2 = b.submit(t);
  EXPECT_THROW(b.submit(t), QueueFull);
  EXPECT_GE(b.depth(), 1);
  f1.get();
  f2.get();
}

TEST(ModelRepository, DefaultIsTheHighestLoadedVersionAndUnloadIsA503) {
  ModelRepository repo(repository(), {});
  repo.scan();
  EXPECT_THROW(repo.acquire("cxr"), Error);  // listed, not loaded yet
  repo.load_all();
  EXPECT_EQ(repo.acquire("cxr")->version, "2");
  EXPECT_EQ(repo.list()[0]["default_version"], "2");
  repo.unload("cxr", "2");
  EXPECT_EQ(repo.acquire("cxr")->version, "1");  // the default falls back to a loaded version
  try {
    repo.acquire("cxr", "2");
    ADD_FAILURE() << "an unloaded version must not be served";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unavailable);
    EXPECT_EQ(http_status(e.code()), 503);
  }
  try {
    repo.acquire("nope");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::NotFound);
  }
  EXPECT_EQ(repo.load("cxr", "2").state, "loaded");
  EXPECT_TRUE(version_less("9", "10"));
  EXPECT_FALSE(version_less("10", "9"));
}

TEST(ModelRepository, ARequestKeepsItsVersionAliveAcrossAReload) {
  test::TempDir dir;
  auto owned = own_copy_of_version_1(dir);
  ModelRepository& repo = *owned;
  cv::Mat img;
  test::quadrant_image(48, 0, 3).convertTo(img, CV_32F);
  auto predict = [&](const std::shared_ptr<LoadedModel>& lm) {
    return lm->batcher->submit(lm->model->input_tensor(img)).get().probability;
  };
  // Unchanged files: the loaded version is kept (nothing to rebuild).
  auto held = repo.acquire("x");
  EXPECT_EQ(repo.reload("x").state, "loaded");
  auto same = repo.acquire("x");
  EXPECT_EQ(same.get(), held.get());
  // New weights on disk: a new network; a request holding the old version still gets its answers.
  fs::copy_file(repository() / "cxr" / "2" / "model.pt", dir / "m" / "x" / "1" / "model.pt",
                fs::copy_options::overwrite_existing);
  repo.reload("x");
  auto now = repo.acquire("x");
  EXPECT_NE(now->model.get(), held->model.get());
  EXPECT_NE(now->sha256, held->sha256);
  const double p_old = predict(held), p_new = predict(now);
  EXPECT_GT(std::abs(p_old - p_new), 1e-7);
  // Once the last request lets go, the old version (network, batcher thread) is gone.
  std::weak_ptr<LoadedModel> old = held;
  std::weak_ptr<imaging::ClassifierModel> old_net = held->model;
  held.reset();
  same.reset();
  EXPECT_TRUE(old.expired());
  EXPECT_TRUE(old_net.expired());
}

TEST(ModelRepository, AFailedLoadKeepsTheServingVersionAndSaysWhy) {
  test::TempDir dir;
  auto owned = own_copy_of_version_1(dir);
  ModelRepository& repo = *owned;
  ASSERT_EQ(repo.acquire("x")->version, "1");
  test::write_text(dir / "m" / "x" / "1" / "model.pt", "not weights");
  try {
    repo.reload("x", "1");
    ADD_FAILURE() << "a damaged weights file must fail to load";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Conflict);
    EXPECT_NE(std::string(e.what()).find("model.pt"), std::string::npos) << e.what();
  }
  EXPECT_EQ(repo.info("x", "1").state, "loaded");  // still serving the good one
  EXPECT_NO_THROW(repo.acquire("x", "1"));
}

TEST(Metrics, CountsRequestsLatencyBucketsBatchesAndModelState) {
  Metrics m;
  m.observe_request("predict", 200, 3);
  m.observe_request("predict", 200, 30);
  m.observe_request("predict", 503, 1);
  m.observe_batch(4);
  m.set_queue_depth(2);
  m.set_model_state("cxr:1", 1);
  const std::string p = m.prometheus();
  EXPECT_NE(p.find("medai_requests_total{route=\"predict\",status=\"200\"} 2"), std::string::npos) << p;
  EXPECT_NE(p.find("medai_requests_total{route=\"predict\",status=\"503\"} 1"), std::string::npos) << p;
  EXPECT_NE(p.find("le=\"5\"} 2"), std::string::npos) << p;   // 3 ms and 1 ms
  EXPECT_NE(p.find("le=\"50\"} 3"), std::string::npos) << p;  // cumulative
  EXPECT_NE(p.find("medai_queue_depth 2"), std::string::npos) << p;
  EXPECT_NE(p.find("cxr:1"), std::string::npos) << p;
}

TEST(Routes, ErrorsComeFromTheOneTableAndJsonBodiesAreChecked) {
  InProcess s(repository());
  EXPECT_EQ(s.call("GET", "/healthz").status, 200);
  EXPECT_EQ(s.call("GET", "/v1/models").status, 401);
  EXPECT_EQ(s.call("GET", "/v1/models", "mdai_99999999999999999999_" + std::string(64, '0')).status, 401);
  EXPECT_EQ(s.call("GET", "/v1/admin/audit", s.clinician).status, 403);
  EXPECT_EQ(s.call("POST", "/v1/admin/models/cxr/reload", s.admin).status, 200);
  auto ok = s.call("POST", "/v1/models/cxr/predict", s.clinician, png_bytes(0, 1), "image/png");
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto j = json::parse(ok.body);
  EXPECT_EQ(j["model"]["version"], "2");
  EXPECT_TRUE(j["warnings"].is_array());
  struct Case {
    std::string body;
    int status;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"{\"history\": ", 400, "not valid JSON"},
           {"[1, 2]", 400, "JSON object"},
           {"{\"settings\": {\"basal_u_per_h\": \"one\", \"cr\": 10, \"cf\": 40, \"tdi\": 40}, \"history\": \"\"}", 400,
            "basal_u_per_h"},
           {"{\"settings\": {\"basal_u_per_h\": 1, \"cr\": 10, \"cf\": 40, \"tdi\": 40, \"target\": 20}, \"history\": "
            "\"\"}",
            400, "target"},
           {"{\"settings\": {\"basal_u_per_h\": 1, \"cr\": 10, \"cf\": 40, \"tdi\": 40}, \"history\": 5}", 400,
            "history"},
       }) {
    auto r = s.call("POST", "/v1/glucose/recommend", s.clinician, c.body, "application/json");
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
    EXPECT_NE(r.body.find(c.says), std::string::npos) << r.body;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "invalid_input");
  }
  auto rec = s.call("POST", "/v1/glucose/recommend", s.clinician, history_json(12), "application/json");
  EXPECT_EQ(rec.status, 200) << rec.body;
  auto sim = s.call("POST", "/v1/glucose/simulate", s.clinician, "{\"minutes\": \"ten\"}", "application/json");
  EXPECT_EQ(sim.status, 400) << sim.body;
  EXPECT_EQ(s.call("POST", "/v1/admin/models/cxr/unload?version=2", s.admin).status, 200);
  auto gone = s.call("POST", "/v1/models/cxr/predict?version=2", s.clinician, png_bytes(0, 1), "image/png");
  EXPECT_EQ(gone.status, 503);
  EXPECT_EQ(json::parse(gone.body)["error"]["code"], "unavailable");
  bool retry = false;
  for (auto& [k, v] : gone.headers) retry |= k == "Retry-After";
  EXPECT_TRUE(retry);
}

// 8 clients predict and recommend for 20 s while an admin reloads version 2 (unchanged: kept) and unloads/loads
// version 1 every 200 ms: no crash, no 5xx but the documented 503 for an unloaded version, and
// every 200 carries the version whose weights produced its probability.
TEST(ServerStress, PredictionsRacingReloadsAlwaysAnswerWithTheVersionThatProducedThem) {
  InProcess s(repository());
  const int kImages = 4;
  std::vector<std::string> images;
  std::map<std::string, std::vector<double>> expected;  // version -> probability per image
  for (int i = 0; i < kImages; ++i) images.push_back(png_bytes(i % 2 ? 0 : 3, 50 + i));
  for (const std::string v : {"1", "2"})
    for (int i = 0; i < kImages; ++i) {
      auto r = s.call("POST", "/v1/models/cxr/predict?version=" + v, s.clinician, images[i], "image/png");
      ASSERT_EQ(r.status, 200) << r.body;
      expected[v].push_back(json::parse(r.body)["probability"].get<double>());
    }
  ASSERT_GT(std::abs(expected["1"][0] - expected["2"][0]), 1e-6) << "the two versions must differ to tell them apart";
  const double seconds = std::getenv("MEDAI_STRESS_SECONDS") ? std::atof(std::getenv("MEDAI_STRESS_SECONDS")) : 20;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  std::atomic<int> ok{0}, unavailable{0}, wrong{0}, other{0}, admin_calls{0};
  std::mutex fail_mu;
  std::string first_failure;
  auto note = [&](const std::string& what) {
    std::lock_guard l(fail_mu);
    if (first_failure.empty()) first_failure = what;
  };
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c)
    clients.emplace_back([&, c] {
      for (int k = 0; std::chrono::steady_clock::now() < until; ++k) {
        if (k % 5 == 4) {
          auto r = s.call("POST", "/v1/glucose/recommend", s.clinician, history_json(12), "application/json");
          if (r.status != 200) ++other, note(r.body);
          continue;
        }
        const int i = (c + k) % kImages;
        const std::string target = k % 2 ? "/v1/models/cxr/predict" : "/v1/models/cxr/predict?version=1";
        auto r = s.call("POST", target, s.clinician, images[i], "image/png");
        if (r.status == 503) {
          ++unavailable;
        } else if (r.status == 200) {
          auto j = json::parse(r.body);
          const std::string v = j["model"]["version"];
          if (!expected.count(v) || std::abs(j["probability"].get<double>() - expected[v][i]) > 1e-5)
            ++wrong, note("version " + v + " answered " + j["probability"].dump());
          else ++ok;
        } else {
          ++other, note(std::to_string(r.status) + " " + r.body);
        }
      }
    });
  std::thread admin([&] {
    for (int k = 0; std::chrono::steady_clock::now() < until; ++k) {
      const std::string path = k % 3 == 0   ? "/v1/admin/models/cxr/reload?version=2"
                               : k % 3 == 1 ? "/v1/admin/models/cxr/unload?version=1"
                                            : "/v1/admin/models/cxr/load?version=1";
      auto r = s.call("POST", path, s.admin);
      if (r.status != 200) ++other, note(path + ": " + r.body);
      ++admin_calls;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  for (auto& t : clients) t.join();
  admin.join();
  EXPECT_EQ(other.load(), 0) << first_failure;
  EXPECT_EQ(wrong.load(), 0) << first_failure;
  EXPECT_GT(ok.load(), 50);
  // At least two full reload/unload/load cycles (a load compiles the graph: ~0.8 s in a release
  // build, ~8 s under ThreadSanitizer).
  EXPECT_GE(admin_calls.load(), 6);
  std::printf("stress: %d ok, %d unavailable (unloaded version), %d admin calls in %.0f s\n", ok.load(),
              unavailable.load(), admin_calls.load(), seconds);
}
