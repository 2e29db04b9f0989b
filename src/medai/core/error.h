#pragma once
// One error type for every failure that aborts an operation. The code decides the CLI exit
// status and the HTTP status (one table, error.cpp); the message names the file/field and why.
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace medai {

enum class ErrorCode {
  InvalidInput,
  NotFound,
  Io,
  Dicom,
  Unsupported,
  Internal,
  Unauthorized,     // no or an unknown credential
  Forbidden,        // a known credential without the needed role
  Conflict,         // the request contradicts the current state
  Unavailable,      // temporarily unable (queue full, model not loaded, draining): retry later
  Timeout,          // did not finish in the allowed time
  PayloadTooLarge,  // a body or file above the configured limit
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

std::string_view error_code_name(ErrorCode code);
// Process exit status for the CLI (never 0, never 1 which is left to crashes/unknown).
int exit_status(ErrorCode code);
// HTTP status for the server.
int http_status(ErrorCode code);

// Shorthands that read as sentences at the call site.
[[noreturn]] void fail_invalid(const std::string& message);
[[noreturn]] void fail_not_found(const std::string& message);
[[noreturn]] void fail_io(const std::string& message);
[[noreturn]] void fail_unsupported(const std::string& message);
[[noreturn]] void fail(ErrorCode code, const std::string& message);
// Fails (InvalidInput) unless `name` is one of `known`: "unknown WHAT 'NAME' (known: a, b, ...)".
void check_known(const std::string& what, const std::string& name, const std::vector<std::string>& known);

}  // namespace medai
