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

// JSON text (indent -1: one line). Strings that came from input (file names, labels, a client's
// field names) may hold invalid UTF-8: it becomes U+FFFD instead of an exception.
std::string dump_json(const nlohmann::json& value, int indent = -1);

// Typed fields of a JSON document by dotted path ("preprocessing.size"). A missing field, a wrong
// type or a value outside [lo, hi] is an InvalidInput error naming `where` and the path.
int json_int(const nlohmann::json& doc, const std::string& path, const std::string& where, int lo, int hi);
double json_number(const nlohmann::json& doc, const std::string& path, const std::string& where, double lo, double hi);
std::string json_string(const nlohmann::json& doc, const std::string& path, const std::string& where);
// An optional boolean: `fallback` when absent, an error when present but not a boolean.
bool json_bool(const nlohmann::json& doc, const std::string& path, const std::string& where, bool fallback);

// Reads RUN/model_card.json, with a clear error when the folder or card is missing/damaged.
nlohmann::json read_model_card(const std::filesystem::path& run_dir);

// Versions of the software that made a model, for its card.
nlohmann::json software_versions();

// ISO-8601 UTC timestamp, e.g. 2026-11-28T14:23:00Z.
std::string utc_timestamp();

}  // namespace medai::core
