#pragma once
// The model repository: ROOT/NAME/ (one run folder = version "1") or ROOT/NAME/VERSION/.
// Each loaded version is one immutable LoadedModel (network, batcher, card, hash) behind a
// shared_ptr: a request copies the pointer and keeps the version alive until it answers, while
// load/unload/reload swap the pointer atomically. Loading (reading weights, compiling the graph)
// happens outside the repository lock, so requests never wait for a load.
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

namespace medai::imaging {
class ClassifierModel;
}
namespace medai::segmentation {
class Segmenter;
}

namespace medai::server {

class Batcher;
class Metrics;

struct BatchingOptions {
  int max_batch = 8, max_delay_ms = 5, queue_capacity = 64;
};

// One loaded version: an image classifier (with its batcher) or a segmenter (one forward at a
// time, inside Segmenter); the other pointer is null.
struct LoadedModel {
  LoadedModel(std::string name, std::string version, std::filesystem::path dir, nlohmann::json card,
              std::shared_ptr<imaging::ClassifierModel> model, std::string sha256, const BatchingOptions& batching,
              std::function<void(int)> on_batch);
  LoadedModel(std::string name, std::string version, std::filesystem::path dir, nlohmann::json card,
              std::shared_ptr<segmentation::Segmenter> segmenter, std::string sha256);
  ~LoadedModel();
  const std::string name, version;
  const std::filesystem::path dir;
  const nlohmann::json card;
  const std::shared_ptr<imaging::ClassifierModel> model;
  const std::shared_ptr<segmentation::Segmenter> segmenter;
  const std::string sha256;                // of the weights file
  const std::unique_ptr<Batcher> batcher;  // classifiers only
  std::mutex explain_mu;                   // Grad-CAM runs the native network with autograd: one at a time
};

// What the repository says about one version (a copy: safe to read without a lock).
struct VersionInfo {
  std::string name, version, task, state, sha256;  // state: loaded, unloaded, listed, failed: <reason>
  std::filesystem::path dir;
  nlohmann::json card;
};

class ModelRepository {
 public:
  ModelRepository(std::filesystem::path root, BatchingOptions batching, Metrics* metrics = nullptr);
  ~ModelRepository();

  void scan();      // lists every version found under the root (none loaded)
  void load_all();  // loads every image model version listed

  // The loaded version to predict with (empty version: the highest loaded one). NotFound for an
  // unknown name/version, Unavailable (503, retry) when it is not loaded now.
  std::shared_ptr<LoadedModel> acquire(const std::string& name, const std::string& version = "");
  VersionInfo info(const std::string& name, const std::string& version = "");
  nlohmann::json list();

  // Load builds the new version outside the lock and swaps it in; a failed load leaves the
  // previous state untouched and throws. Reload = load over a loaded version (no gap). When the
  // weights and the card on disk are unchanged, a reload keeps the loaded version as it is:
  // building one costs seconds and libtorch keeps memory (~1-3 MB) per network built.
  VersionInfo load(const std::string& name, const std::string& version = "");
  VersionInfo unload(const std::string& name, const std::string& version = "");
  VersionInfo reload(const std::string& name, const std::string& version = "") { return load(name, version); }

  int queue_depth();
  bool any_loaded();
  std::optional<std::filesystem::path> first_of_task(const std::string& task);

 private:
  struct Entry {
    std::string name, version, task, state = "unloaded";
    std::filesystem::path dir;
    nlohmann::json card;
    std::shared_ptr<LoadedModel> loaded;
  };
  using Versions = std::map<std::string, Entry>;
  void add(const std::string& name, const std::string& version, const std::filesystem::path& dir);
  Entry& find(const std::string& name, const std::string& version);  // caller holds mu_
  static VersionInfo info_of(const Entry& e);
  void set_state_metric(const Entry& e);

  std::filesystem::path root_;
  BatchingOptions batching_;
  Metrics* metrics_;
  std::shared_mutex mu_;  // guards models_ (held briefly: never while loading)
  std::mutex admin_mu_;   // one load/unload at a time
  std::map<std::string, Versions> models_;
};

// Orders version names as numbers when both are numbers ("10" after "9"), else as text.
bool version_less(const std::string& a, const std::string& b);

}  // namespace medai::server
