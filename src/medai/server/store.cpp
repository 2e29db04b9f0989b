#include "medai/server/store.h"

#include <sqlite3.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/core/sha256.h"
#include "medai/io/csv.h"

namespace medai::server {

std::string role_name(Role r) { return r == Role::Admin ? "admin" : "clinician"; }

Role parse_role(const std::string& name) {
  if (name == "clinician") return Role::Clinician;
  if (name == "admin") return Role::Admin;
  fail_invalid("unknown role '" + name + "' (roles: clinician, admin)");
}

namespace {
std::string random_hex(size_t bytes) {
  std::random_device rd;  // the kernel's CSPRNG on Linux
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < bytes; ++i) {
    const unsigned v = rd() & 0xFF;
    s.push_back(kHex[v >> 4]);
    s.push_back(kHex[v & 15]);
  }
  return s;
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

struct Stmt {
  sqlite3_stmt* s = nullptr;
  Stmt(sqlite3* db, const char* sql, const std::filesystem::path& f) {
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) fail_io(f.string() + ": " + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s); }
  void text(int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void integer(int i, int64_t v) { sqlite3_bind_int64(s, i, v); }
  void real(int i, double v) { sqlite3_bind_double(s, i, v); }
  std::string col_text(int i) {
    const unsigned char* t = sqlite3_column_text(s, i);
    return t ? reinterpret_cast<const char*>(t) : "";
  }
};
}  // namespace

Store::Store(const std::filesystem::path& file) : file_(file) {
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  if (ec) fail_io(file.string() + ": cannot create its folder (" + ec.message() + ")");
  if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "cannot open";
    sqlite3_close(db_);
    db_ = nullptr;
    fail_io(file.string() + ": cannot open the store (" + msg + ")");
  }
  sqlite3_busy_timeout(db_, 5000);
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=FULL");  // an acknowledged audit row survives a crash
  exec(
      "CREATE TABLE IF NOT EXISTS tokens (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, role TEXT NOT NULL,"
      " salt TEXT NOT NULL, hash TEXT NOT NULL, created TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)");
  exec(
      "CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, token_id INTEGER,"
      " action TEXT NOT NULL, route TEXT, model TEXT, model_version TEXT, model_hash TEXT, input_sha256 TEXT,"
      " output TEXT, latency_ms REAL, status INTEGER)");
  exec("CREATE INDEX IF NOT EXISTS audit_time ON audit(time)");
}

Store::~Store() { sqlite3_close(db_); }

void Store::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "error";
    sqlite3_free(err);
    fail_io(file_.string() + ": " + msg);
  }
}

std::string Store::create_token(Role role, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string secret = random_hex(32), salt = random_hex(16);
  Stmt st(db_, "INSERT INTO tokens(name, role, salt, hash, created) VALUES (?, ?, ?, ?, ?)", file_);
  st.text(1, name);
  st.text(2, role_name(role));
  st.text(3, salt);
  st.text(4, core::sha256_hex(salt + secret));
  st.text(5, core::utc_timestamp());
  if (sqlite3_step(st.s) != SQLITE_DONE) fail_io(file_.string() + ": " + sqlite3_errmsg(db_));
  return "mdai_" + std::to_string(sqlite3_last_insert_rowid(db_)) + "_" + secret;
}

std::optional<TokenInfo> Store::verify(const std::string& token) {
  // mdai_<id>_<64 hex>
  if (token.size() < 8 || token.rfind("mdai_", 0) != 0) return std::nullopt;
  const size_t us = token.find('_', 5);
  if (us == std::string::npos || us == 5 || us > 5 + 18) return std::nullopt;  // <= 18 digits: no overflow
  int64_t id = 0;
  for (size_t i = 5; i < us; ++i) {
    if (token[i] < '0' || token[i] > '9') return std::nullopt;
    id = id * 10 + (token[i] - '0');
  }
  const std::string secret = token.substr(us + 1);
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "SELECT name, role, salt, hash, revoked FROM tokens WHERE id = ?", file_);
  st.integer(1, id);
  if (sqlite3_step(st.s) != SQLITE_ROW) return std::nullopt;
  const std::string hash = core::sha256_hex(st.col_text(2) + secret);
  if (!constant_time_equal(hash, st.col_text(3)) || sqlite3_column_int(st.s, 4) != 0) return std::nullopt;
  return TokenInfo{id, parse_role(st.col_text(1)), st.col_text(0)};
}

void Store::revoke(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "UPDATE tokens SET revoked = 1 WHERE id = ?", file_);
  st.integer(1, id);
  sqlite3_step(st.s);
}

std::vector<TokenInfo> Store::tokens() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "SELECT id, name, role FROM tokens WHERE revoked = 0 ORDER BY id", file_);
  std::vector<TokenInfo> out;
  while (sqlite3_step(st.s) == SQLITE_ROW)
    out.push_back({sqlite3_column_int64(st.s, 0), parse_role(st.col_text(2)), st.col_text(1)});
  return out;
}

void Store::audit(const AuditRow& r) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_,
          "INSERT INTO audit(time, token_id, action, route, model, model_version, model_hash, input_sha256, output,"
          " latency_ms, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          file_);
  st.text(1, r.time.empty() ? core::utc_timestamp() : r.time);
  st.integer(2, r.token_id);
  st.text(3, r.action);
  st.text(4, r.route);
  st.text(5, r.model);
  st.text(6, r.model_version);
  st.text(7, r.model_hash);
  st.text(8, r.input_sha256);
  st.text(9, r.output);
  st.real(10, r.latency_ms);
  st.integer(11, r.status);
  if (sqlite3_step(st.s) != SQLITE_DONE) fail_io(file_.string() + ": audit write failed: " + sqlite3_errmsg(db_));
}

std::vector<AuditRow> Store::audit_rows(const std::string& since) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_,
          "SELECT time, token_id, action, route, model, model_version, model_hash, input_sha256, output, latency_ms,"
          " status FROM audit WHERE time >= ? ORDER BY id",
          file_);
  st.text(1, since);
  std::vector<AuditRow> out;
  while (sqlite3_step(st.s) == SQLITE_ROW)
    out.push_back({st.col_text(0), sqlite3_column_int64(st.s, 1), st.col_text(2), st.col_text(3), st.col_text(4),
                   st.col_text(5), st.col_text(6), st.col_text(7), st.col_text(8), sqlite3_column_double(st.s, 9),
                   sqlite3_column_int(st.s, 10)});
  return out;
}

bool Store::ping() {
  std::lock_guard<std::mutex> lock(mu_);
  return sqlite3_exec(db_, "SELECT 1", nullptr, nullptr, nullptr) == SQLITE_OK;
}

std::string Store::integrity_check() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "PRAGMA integrity_check", file_);
  std::string out;
  while (sqlite3_step(st.s) == SQLITE_ROW) out += st.col_text(0);
  return out;
}

std::string audit_csv(const std::vector<AuditRow>& rows) {
  std::string csv = "time,token_id,action,route,model,model_version,model_hash,input_sha256,output,latency_ms,status\n";
  for (const auto& r : rows) {
    csv += io::csv_escape(r.time) + "," + std::to_string(r.token_id) + "," + io::csv_escape(r.action) + "," +
           io::csv_escape(r.route) + "," + io::csv_escape(r.model) + "," + io::csv_escape(r.model_version) + "," +
           io::csv_escape(r.model_hash) + "," + io::csv_escape(r.input_sha256) + "," + io::csv_escape(r.output) + "," +
           std::to_string(r.latency_ms) + "," + std::to_string(r.status) + "\n";
  }
  return csv;
}

std::string audit_json(const std::vector<AuditRow>& rows) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json out = r.output;
    try {
      out = nlohmann::json::parse(r.output);
    } catch (const nlohmann::json::exception&) {}
    j.push_back({{"time", r.time},
                 {"token_id", r.token_id},
                 {"action", r.action},
                 {"route", r.route},
                 {"model", r.model},
                 {"model_version", r.model_version},
                 {"model_hash", r.model_hash},
                 {"input_sha256", r.input_sha256},
                 {"output", out},
                 {"latency_ms", r.latency_ms},
                 {"status", r.status}});
  }
  return core::dump_json(j, 2) + "\n";
}

}  // namespace medai::server
