#pragma once
// Process start-up settings that decide CPU speed (see TOOLCHAIN.md): allocator thresholds,
// libtorch intra-op threads. Call once at program start, before any tensor work.
#include <cstddef>
#include <functional>
#include <string>

namespace medai::core {

struct RuntimeSettings {
  int threads = 0;  // 0 = all hardware threads (or MEDAI_THREADS when set)
  bool verbose = false;
  bool quiet = false;  // only warnings and errors on stderr
};

// Configures spdlog (stderr), mallopt thresholds, and records the thread count that
// torch-using code should apply through apply_torch_threads(). Logs what it set.
void init_runtime(const RuntimeSettings& settings);
// Thread count chosen by init_runtime (>= 1).
int runtime_threads();
// A short description of the settings applied, for logs and model cards.
std::string runtime_summary();
// Hands freed heap memory back to the system (every malloc arena). init_runtime raises glibc's
// trim threshold so training keeps its buffers; a long-running server calls this after dropping
// something large (a model version) so its resident memory does not ratchet up.
void release_free_memory();
// Calls fn(i) for i in [0, n) on up to runtime_threads() threads (strided; fn must be safe to run
// concurrently for different i). Below `grain` items per thread it uses fewer threads.
void parallel_for(size_t n, const std::function<void(size_t)>& fn, size_t grain = 64);

}  // namespace medai::core
