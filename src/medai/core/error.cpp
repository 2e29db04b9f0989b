#include "medai/core/error.h"

namespace medai {

namespace {
struct Row {
  ErrorCode code;
  std::string_view name;
  int exit_status;
  int http_status;
};
// The one table: code -> name, CLI exit status, HTTP status.
constexpr Row kTable[] = {
    {ErrorCode::InvalidInput, "invalid_input", 2, 400},
    {ErrorCode::NotFound, "not_found", 3, 404},
    {ErrorCode::Io, "io_error", 4, 500},
    {ErrorCode::Dicom, "dicom_error", 5, 422},
    {ErrorCode::Unsupported, "unsupported", 6, 415},
    {ErrorCode::Internal, "internal", 70, 500},
    {ErrorCode::Unauthorized, "unauthorized", 7, 401},
    {ErrorCode::Forbidden, "forbidden", 8, 403},
    {ErrorCode::Conflict, "conflict", 9, 409},
    {ErrorCode::Unavailable, "unavailable", 10, 503},
    {ErrorCode::Timeout, "timeout", 11, 504},
    {ErrorCode::PayloadTooLarge, "payload_too_large", 12, 413},
};
const Row& row(ErrorCode code) {
  for (const auto& r : kTable)
    if (r.code == code) return r;
  return kTable[5];  // Internal
}
}  // namespace

std::string_view error_code_name(ErrorCode code) { return row(code).name; }
int exit_status(ErrorCode code) { return row(code).exit_status; }
int http_status(ErrorCode code) { return row(code).http_status; }

void fail_invalid(const std::string& message) { throw Error(ErrorCode::InvalidInput, message); }
void fail_not_found(const std::string& message) { throw Error(ErrorCode::NotFound, message); }
void fail_io(const std::string& message) { throw Error(ErrorCode::Io, message); }
void fail_unsupported(const std::string& message) { throw Error(ErrorCode::Unsupported, message); }
void fail(ErrorCode code, const std::string& message) { throw Error(code, message); }

void check_known(const std::string& what, const std::string& name, const std::vector<std::string>& known) {
  std::string list;
  for (const auto& k : known) {
    if (k == name) return;
    list += (list.empty() ? "" : ", ") + k;
  }
  fail_invalid("unknown " + what + " '" + name + "' (known: " + list + ")");
}

}  // namespace medai
