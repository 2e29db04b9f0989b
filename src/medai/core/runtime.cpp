#include "medai/core/runtime.h"

#include "medai/core/blas.h"

#include <malloc.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace medai::core {

namespace {
int g_threads = 1;
bool g_malloc_tuned = false;
}  // namespace

void init_runtime(const RuntimeSettings& settings) {
  auto logger = spdlog::stderr_color_mt("medai");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("[%H:%M:%S] [%^%l%$] %v");
  spdlog::set_level(settings.quiet ? spdlog::level::warn
                                   : (settings.verbose ? spdlog::level::debug : spdlog::level::info));

  // glibc would otherwise unmap/remap big tensor buffers every step (up to 3.6x slower).
  g_malloc_tuned = mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;

  int threads = settings.threads;
  if (threads <= 0) {
    if (const char* env = std::getenv("MEDAI_THREADS")) threads = std::atoi(env);
  }
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  g_threads = threads > 0 ? threads : 1;
  spdlog::debug("runtime: {}", runtime_summary());
}

int runtime_threads() { return g_threads; }

void parallel_for(size_t n, const std::function<void(size_t)>& fn, size_t grain) {
  const size_t threads = std::max<size_t>(
      1, std::min<size_t>(static_cast<size_t>(std::max(1, g_threads)), n / std::max<size_t>(1, grain)));
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (size_t i = t; i < n; i += threads) fn(i);
    });
  for (auto& th : pool) th.join();
}

std::string runtime_summary() {
  const BlasInfo blas = blas_info();
  return "threads=" + std::to_string(g_threads) +
         " malloc_mmap_threshold=" + (g_malloc_tuned ? std::string("1GiB") : std::string("default")) +
         " blas=" + (blas.kernel.empty() ? blas.library : blas.kernel + " (" + blas.chosen_by + ")");
}

void release_free_memory() { malloc_trim(0); }

}  // namespace medai::core
