#pragma once
// Shared by the libFuzzer harnesses. Each harness defines LLVMFuzzerTestOneInput and exercises
// one reader exactly as medai uses it; a medai::Error is the expected answer to bad input, any
// other exception, crash or sanitizer report is a finding. Built two ways: with -fsanitize=fuzzer
// (preset `fuzz`, scripts/fuzz) and with replay_main.cpp into a normal test that replays the
// regression corpus (tests/fuzz/regressions/<harness>/).
#include <unistd.h>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "medai/core/error.h"

namespace medai::fuzz {

inline std::string bytes(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// Readers that take a path get the input through a private file in /dev/shm (or /tmp).
inline std::filesystem::path scratch_file(const std::string& name, const std::string& content) {
  static const std::filesystem::path dir = [] {
    std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    auto d = base / ("medai-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  const auto p = dir / name;
  std::ofstream(p, std::ios::binary | std::ios::trunc)
      .write(content.data(), static_cast<std::streamsize>(content.size()));
  return p;
}

// Runs `f`; medai::Error is an accepted refusal. Anything else escapes to libFuzzer (a finding).
template <typename F>
void expect_refusal_or_success(F&& f) {
  try {
    f();
  } catch (const medai::Error&) {}
}

}  // namespace medai::fuzz
