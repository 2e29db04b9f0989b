#pragma once
// A run folder holds one trained model: weights, model_card.json, curves, plots. The card is
// JSON so both people and the server can read it; every write is atomic.
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace medai::core {

inline constexpr const char* kModelCardFile = "model_card.json";

nlohmann::json read_json_file(const std::filesystem::path& path);
void write_json_file(const std::filesystem::path& path, const nlohmann::json& value);

// Reads RUN/model_card.json, with a clear error when the folder or card is missing/damaged.
nlohmann::json read_model_card(const std::filesystem::path& run_dir);

// Versions of the software that made a model, for its card.
nlohmann::json software_versions();

// ISO-8601 UTC timestamp, e.g. 2026-11-28T14:23:00Z.
std::string utc_timestamp();

}  // namespace medai::core
