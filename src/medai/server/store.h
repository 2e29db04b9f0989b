#pragma once
// The server's embedded store (SQLite, WAL): API tokens kept only as salted SHA-256 hashes, and
// the audit trail - one row per prediction and per admin action, never a patient identifier.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace medai::server {

enum class Role { Clinician, Admin };
std::string role_name(Role r);
Role parse_role(const std::string& name);  // InvalidInput for anything but clinician/admin

struct TokenInfo {
  int64_t id = 0;
  Role role = Role::Clinician;
  std::string name;
};

struct AuditRow {
  std::string time;  // ISO-8601 UTC
  int64_t token_id = 0;
  std::string action;  // predict, recommend, simulate, model.load, model.unload, audit.export, ...
  std::string route;
  std::string model, model_version, model_hash;
  std::string input_sha256;
  std::string output;  // JSON text
  double latency_ms = 0;
  int status = 200;
};

class Store {
 public:
  // Opens (creating when absent) the database file; errors name the file.
  explicit Store(const std::filesystem::path& file);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Returns the secret token (shown once): "mdai_<id>_<64 hex>". Only a salted hash is stored.
  std::string create_token(Role role, const std::string& name);
  // Checks a presented token in constant time; nothing when unknown, malformed or revoked.
  std::optional<TokenInfo> verify(const std::string& token);
  void revoke(int64_t id);
  std::vector<TokenInfo> tokens();

  // Appends synchronously (committed before it returns).
  void audit(const AuditRow& row);
  // Rows at or after `since` (ISO-8601 prefix, e.g. 2026-11-28 or 2026-11-28T10:00:00Z; empty = all).
  std::vector<AuditRow> audit_rows(const std::string& since);
  bool ping();  // the database answers
  // "PRAGMA integrity_check" result ("ok" when sound).
  std::string integrity_check();
  const std::filesystem::path& file() const { return file_; }

 private:
  void exec(const std::string& sql);
  std::filesystem::path file_;
  sqlite3* db_ = nullptr;
  std::mutex mu_;
};

std::string audit_csv(const std::vector<AuditRow>& rows);
std::string audit_json(const std::vector<AuditRow>& rows);

}  // namespace medai::server
