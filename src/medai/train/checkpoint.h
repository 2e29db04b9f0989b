#pragma once
// Atomic checkpoints of a run folder, kill -9 safe: RUN/checkpoints/<name>/ is filled first, then
// RUN/train_state.json (written atomically) points at it, then older checkpoint folders go. A
// crash at any moment leaves either the previous checkpoint or this one, each with its state.
// The trainer (trainer.h) and PPO (rl/ppo.h) both checkpoint through this.
#include <filesystem>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace medai::train {

inline constexpr const char* kTrainStateFile = "train_state.json";

// `save` writes the checkpoint's files into the folder it is given; `state` is stored with
// "checkpoint": <name> added.
void write_checkpoint(const std::filesystem::path& run_dir, const std::string& name,
                      const std::function<void(const std::filesystem::path& folder)>& save,
                      const nlohmann::json& state);

// The state of the last checkpoint of `run_dir`, and its folder; a clear error naming the file
// when there is none or it is damaged (the folder it points at must exist).
nlohmann::json read_checkpoint(const std::filesystem::path& run_dir, std::filesystem::path& folder);

}  // namespace medai::train
