#include "medai/core/run_folder.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"

namespace medai::core {

namespace fs = std::filesystem;

nlohmann::json read_json_file(const fs::path& path) {
  std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail_invalid(path.string() + ": not valid JSON (" + e.what() + ")");
  }
}

void write_json_file(const fs::path& path, const nlohmann::json& value) {
  write_file_atomic(path, value.dump(2) + "\n");
}

nlohmann::json read_model_card(const fs::path& run_dir) {
  if (!fs::is_directory(run_dir)) fail_not_found(run_dir.string() + ": model folder does not exist");
  fs::path card = run_dir / kModelCardFile;
  if (!fs::exists(card)) fail_not_found(card.string() + ": model card missing (is this a medai run folder?)");
  auto j = read_json_file(card);
  if (!j.is_object() || !j.contains("architecture"))
    fail_invalid(card.string() + ": model card has no 'architecture' field");
  return j;
}

nlohmann::json software_versions() {
  return {{"medai", "0.1.0"}, {"libtorch", "1.13.1"}, {"compiler", __VERSION__}};
}

std::string utc_timestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace medai::core
