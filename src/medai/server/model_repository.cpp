#include "medai/server/model_repository.h"

#include <spdlog/spdlog.h>

#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/core/sha256.h"
#include "medai/imaging/classifier_model.h"
#include "medai/segmentation/segmenter.h"
#include "medai/server/batcher.h"
#include "medai/server/metrics.h"

namespace medai::server {

namespace fs = std::filesystem;

LoadedModel::LoadedModel(std::string n, std::string v, fs::path d, nlohmann::json c,
                         std::shared_ptr<imaging::ClassifierModel> m, std::string sha, const BatchingOptions& b,
                         std::function<void(int)> on_batch)
    : name(std::move(n)),
      version(std::move(v)),
      dir(std::move(d)),
      card(std::move(c)),
      model(std::move(m)),
      sha256(std::move(sha)),
      batcher(std::make_unique<Batcher>(model, b.max_batch, b.max_delay_ms, b.queue_capacity, std::move(on_batch))) {}

LoadedModel::LoadedModel(std::string n, std::string v, fs::path d, nlohmann::json c,
                         std::shared_ptr<segmentation::Segmenter> seg, std::string sha)
    : name(std::move(n)),
      version(std::move(v)),
      dir(std::move(d)),
      card(std::move(c)),
      segmenter(std::move(seg)),
      sha256(std::move(sha)) {}

LoadedModel::~LoadedModel() = default;  // the batcher finishes the requests it queued, then stops

bool version_less(const std::string& a, const std::string& b) {
  const bool na = !a.empty() && a.find_first_not_of("0123456789") == std::string::npos;
  const bool nb = !b.empty() && b.find_first_not_of("0123456789") == std::string::npos;
  if (na && nb) return a.size() != b.size() ? a.size() < b.size() : a < b;
  return a < b;
}

ModelRepository::ModelRepository(fs::path root, BatchingOptions batching, Metrics* metrics)
    : root_(std::move(root)), batching_(batching), metrics_(metrics) {}

ModelRepository::~ModelRepository() = default;

void ModelRepository::scan() {
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
      continue;
    }
    for (const auto& v : fs::directory_iterator(e.path()))
      if (v.is_directory() && fs::exists(v.path() / core::kModelCardFile))
        add(name, v.path().filename().string(), v.path());
  }
}

void ModelRepository::add(const std::string& name, const std::string& version, const fs::path& dir) {
  Entry e;
  e.name = name;
  e.version = version;
  e.dir = dir;
  try {
    e.card = core::read_model_card(dir);
    e.task = e.card.value("task", "classification");
    if (e.task.rfind("glucose", 0) == 0 || !fs::exists(dir / imaging::kWeightsFile))
      e.state = "listed";  // served through the glucose routes, not /predict
  } catch (const std::exception& ex) {
    e.state = std::string("failed: ") + ex.what();
  }
  models_[name][version] = std::move(e);
}

void ModelRepository::load_all() {
  std::vector<std::pair<std::string, std::string>> todo;
  {
    std::shared_lock lock(mu_);
    for (auto& [n, vs] : models_)
      for (auto& [v, e] : vs)
        if (e.state == "unloaded") todo.emplace_back(n, v);
  }
  for (auto& [n, v] : todo) {
    try {
      load(n, v);
    } catch (const std::exception&) {  // logged and recorded in the state by load()
    }
  }
}

ModelRepository::Entry& ModelRepository::find(const std::string& name, const std::string& version) {
  auto it = models_.find(name);
  if (it == models_.end()) throw Error(ErrorCode::NotFound, "no model '" + name + "'");
  Versions& vs = it->second;
  if (!version.empty()) {
    auto jt = vs.find(version);
    if (jt == vs.end()) throw Error(ErrorCode::NotFound, "model '" + name + "' has no version '" + version + "'");
    return jt->second;
  }
  // Default: the highest loaded version, else the highest listed one.
  Entry* best = nullptr;
  for (auto& [v, e] : vs)
    if (e.loaded && (!best || version_less(best->version, v))) best = &e;
  if (!best)
    for (auto& [v, e] : vs)
      if (!best || version_less(best->version, v)) best = &e;
  return *best;
}

VersionInfo ModelRepository::info_of(const Entry& e) {
  return {e.name, e.version, e.task, e.state, e.loaded ? e.loaded->sha256 : "", e.dir, e.card};
}

std::shared_ptr<LoadedModel> ModelRepository::acquire(const std::string& name, const std::string& version) {
  std::shared_lock lock(mu_);
  Entry& e = find(name, version);
  if (!e.loaded)
    throw Error(ErrorCode::Unavailable,
                "model '" + name + "' version " + e.version + " is " + e.state + "; retry shortly");
  return e.loaded;
}

VersionInfo ModelRepository::info(const std::string& name, const std::string& version) {
  std::shared_lock lock(mu_);
  return info_of(find(name, version));
}

nlohmann::json ModelRepository::list() {
  std::shared_lock lock(mu_);
  nlohmann::json out = nlohmann::json::array();
  for (auto& [n, vs] : models_) {
    nlohmann::json versions = nlohmann::json::array();
    for (auto& [v, e] : vs)
      versions.push_back(
          {{"version", v}, {"state", e.state}, {"task", e.task}, {"sha256", e.loaded ? e.loaded->sha256 : ""}});
    out.push_back({{"name", n}, {"default_version", find(n, "").version}, {"versions", versions}});
  }
  return out;
}

void ModelRepository::set_state_metric(const Entry& e) {
  if (metrics_) metrics_->set_model_state(e.name + ":" + e.version, e.loaded ? 1 : 0);
}

VersionInfo ModelRepository::load(const std::string& name, const std::string& version) {
  std::lock_guard admin(admin_mu_);
  std::string v;
  fs::path dir;
  nlohmann::json card;
  std::shared_ptr<LoadedModel> current;
  {
    std::shared_lock lock(mu_);
    Entry& e = find(name, version);
    if (e.state == "listed") return info_of(e);
    v = e.version;
    dir = e.dir;
    current = e.loaded;
  }
  std::shared_ptr<LoadedModel> fresh;
  try {  // the slow part, with no repository lock held
    card = core::read_model_card(dir);
    const std::string sha = core::sha256_file(dir / imaging::kWeightsFile);
    if (current && current->sha256 == sha && current->card == card) {  // nothing changed on disk
      std::shared_lock lock(mu_);
      spdlog::info("model {} version {} unchanged on disk: kept as loaded", name, v);
      return info_of(find(name, v));
    }
    current.reset();
    if (card.value("task", "") == segmentation::kSegmenterTask) {
      auto seg = std::make_shared<segmentation::Segmenter>(segmentation::Segmenter::load(dir));
      fresh = std::make_shared<LoadedModel>(name, v, dir, card, std::move(seg), sha);
    } else {
      auto model = std::make_shared<imaging::ClassifierModel>(imaging::ClassifierModel::load(dir));
      Metrics* m = metrics_;
      fresh = std::make_shared<LoadedModel>(name, v, dir, card, std::move(model), sha, batching_, [m](int n) {
        if (m) m->observe_batch(n);
      });
    }
  } catch (const std::exception& ex) {
    spdlog::error("model {} version {}: {}", name, v, ex.what());
    std::unique_lock lock(mu_);
    Entry& e = find(name, v);
    if (!e.loaded) e.state = std::string("failed: ") + ex.what();
    throw Error(ErrorCode::Conflict, "model '" + name + "' version " + v + " could not be loaded: " + ex.what());
  }
  std::shared_ptr<LoadedModel> old;  // released after the lock: its batcher drains outside it
  VersionInfo out;
  {
    std::unique_lock lock(mu_);
    Entry& e = find(name, v);
    old = std::move(e.loaded);
    e.loaded = std::move(fresh);
    e.card = std::move(card);
    e.state = "loaded";
    set_state_metric(e);
    out = info_of(e);
  }
  old.reset();  // the previous version goes once the last request holding it answers
  core::release_free_memory();
  spdlog::info("model {} version {} loaded", name, v);
  return out;
}

VersionInfo ModelRepository::unload(const std::string& name, const std::string& version) {
  std::lock_guard admin(admin_mu_);
  std::shared_ptr<LoadedModel> old;
  VersionInfo out;
  {
    std::unique_lock lock(mu_);
    Entry& e = find(name, version);
    if (e.state == "listed") return info_of(e);
    old = std::move(e.loaded);
    e.loaded.reset();
    e.state = "unloaded";
    set_state_metric(e);
    out = info_of(e);
  }
  old.reset();
  core::release_free_memory();
  spdlog::info("model {} version {} unloaded", name, out.version);
  return out;
}

int ModelRepository::queue_depth() {
  std::shared_lock lock(mu_);
  int d = 0;
  for (auto& [n, vs] : models_)
    for (auto& [v, e] : vs)
      if (e.loaded && e.loaded->batcher) d += e.loaded->batcher->depth();
  return d;
}

bool ModelRepository::any_loaded() {
  std::shared_lock lock(mu_);
  for (auto& [n, vs] : models_)
    for (auto& [v, e] : vs)
      if (e.loaded) return true;
  return false;
}

std::optional<fs::path> ModelRepository::first_of_task(const std::string& task) {
  std::shared_lock lock(mu_);
  for (auto& [n, vs] : models_)
    for (auto& [v, e] : vs)
      if (e.task == task) return e.dir;
  return std::nullopt;
}

}  // namespace medai::server
