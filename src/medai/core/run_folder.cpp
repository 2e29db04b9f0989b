#include "medai/core/run_folder.h"

#include "medai/core/blas.h"
#include "medai/core/version.h"

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
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number beyond a double
    fail_invalid(path.string() + ": not valid JSON (" + e.what() + ")");
  }
}

void write_json_file(const fs::path& path, const nlohmann::json& value) {
  write_file_atomic(path, dump_json(value, 2) + "\n");
}

std::string dump_json(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

// The field at a dotted path, or nullptr when a step is missing (or not an object).
const nlohmann::json* find_path(const nlohmann::json& doc, const std::string& path) {
  const nlohmann::json* at = &doc;
  size_t from = 0;
  while (true) {
    const size_t dot = path.find('.', from);
    const std::string key = path.substr(from, dot == std::string::npos ? std::string::npos : dot - from);
    if (!at->is_object()) return nullptr;
    auto it = at->find(key);
    if (it == at->end()) return nullptr;
    at = &*it;
    if (dot == std::string::npos) return at;
    from = dot + 1;
  }
}

const nlohmann::json& require(const nlohmann::json& doc, const std::string& path, const std::string& where) {
  const nlohmann::json* v = find_path(doc, path);
  if (!v) fail_invalid(where + ": '" + path + "' is missing");
  return *v;
}

}  // namespace

double json_number(const nlohmann::json& doc, const std::string& path, const std::string& where, double lo, double hi) {
  const auto& v = require(doc, path, where);
  if (!v.is_number()) fail_invalid(where + ": '" + path + "' must be a number");
  const double x = v.get<double>();
  if (!(x >= lo && x <= hi))  // NaN fails too
    fail_invalid(where + ": '" + path + "' is " + dump_json(v) + ", outside " + dump_json(lo) + ".." + dump_json(hi));
  return x;
}

int json_int(const nlohmann::json& doc, const std::string& path, const std::string& where, int lo, int hi) {
  const auto& v = require(doc, path, where);
  if (!v.is_number_integer()) fail_invalid(where + ": '" + path + "' must be an integer");
  const auto x = v.get<int64_t>();
  if (x < lo || x > hi)
    fail_invalid(where + ": '" + path + "' is " + std::to_string(x) + ", outside " + std::to_string(lo) + ".." +
                 std::to_string(hi));
  return static_cast<int>(x);
}

std::string json_string(const nlohmann::json& doc, const std::string& path, const std::string& where) {
  const auto& v = require(doc, path, where);
  if (!v.is_string()) fail_invalid(where + ": '" + path + "' must be a string");
  return v.get<std::string>();
}

bool json_bool(const nlohmann::json& doc, const std::string& path, const std::string& where, bool fallback) {
  const nlohmann::json* v = find_path(doc, path);
  if (!v) return fallback;
  if (!v->is_boolean()) fail_invalid(where + ": '" + path + "' must be true or false");
  return v->get<bool>();
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
  const BlasInfo blas = blas_info();
  return {{"medai", kVersion},
          {"libtorch", "1.13.1"},
          {"compiler", __VERSION__},
          {"blas", blas.kernel.empty() ? blas.library : blas.library + " " + blas.kernel}};
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
