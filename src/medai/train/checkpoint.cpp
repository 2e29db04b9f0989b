#include "medai/train/checkpoint.h"

#include <nlohmann/json.hpp>

#include "medai/core/error.h"
#include "medai/core/run_folder.h"

namespace medai::train {

namespace fs = std::filesystem;

void write_checkpoint(const fs::path& run_dir, const std::string& name,
                      const std::function<void(const fs::path&)>& save, const nlohmann::json& state_in) {
  nlohmann::json state = state_in;
  const std::string rel = "checkpoints/" + name;
  const fs::path folder = run_dir / rel;
  fs::remove_all(folder);  // a half-written one from a crash during this very checkpoint
  fs::create_directories(folder);
  save(folder);
  state["checkpoint"] = rel;
  core::write_json_file(run_dir / kTrainStateFile, state);
  for (const auto& e : fs::directory_iterator(run_dir / "checkpoints"))
    if (e.path().filename() != folder.filename()) fs::remove_all(e.path());
}

nlohmann::json read_checkpoint(const fs::path& run_dir, fs::path& folder) {
  const fs::path path = run_dir / kTrainStateFile;
  if (!fs::exists(path)) fail_not_found(path.string() + ": nothing to resume (no training state)");
  nlohmann::json state = core::read_json_file(path);
  folder = run_dir / core::json_string(state, "checkpoint", path.string());
  if (!fs::is_directory(folder))
    fail_invalid(path.string() + ": field 'checkpoint' names " + folder.string() + ", which does not exist");
  return state;
}

}  // namespace medai::train
