#include "medai/core/blas.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace medai::core {

namespace {

BlasInfo g_info;

using CharFn = char* (*)();
using VoidFn = void (*)();

template <typename F>
F symbol(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}

std::string openblas_core() {
  auto f = symbol<CharFn>("openblas_get_corename");
  return f ? std::string(f()) : std::string();
}

std::string openblas_version() {
  auto f = symbol<CharFn>("openblas_get_config");  // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..."
  if (!f) return "";
  std::istringstream in(f());
  std::string name, version;
  in >> name >> version;
  return name + " " + version;
}

// OpenBLAS cores without AVX: what it falls back to on a CPU it does not recognise.
bool generic_core(const std::string& core) {
  static const std::set<std::string> kGeneric{"Prescott", "Core2",      "Penryn",    "Dunnington", "Nehalem",
                                              "Katmai",   "Coppermine", "Northwood", "Banias",     "Atom"};
  return kGeneric.count(core) > 0;
}

}  // namespace

std::string cpu_flags() {
  static const std::string flags = [] {  // read once: precision checks ask on every resolve
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("flags", 0) == 0) {
        auto colon = line.find(':');
        return colon == std::string::npos ? std::string() : line.substr(colon + 1) + " ";
      }
    return std::string();
  }();
  return flags;
}

bool cpu_has(const std::string& flags, const std::string& flag) {
  return (" " + flags + " ").find(" " + flag + " ") != std::string::npos;
}

std::string best_openblas_core(const std::string& f) {
  const bool avx512 = cpu_has(f, "avx512f") && cpu_has(f, "avx512bw") && cpu_has(f, "avx512vl") &&
                      cpu_has(f, "avx512dq") && cpu_has(f, "avx512cd");
  if (avx512 && cpu_has(f, "avx512_bf16")) return "Cooperlake";
  if (avx512) return "SkylakeX";
  if (cpu_has(f, "avx2") && cpu_has(f, "fma")) return "Haswell";
  return "";
}

void choose_blas_kernels(char** argv) {
  g_info.library = openblas_version();
  g_info.kernel = openblas_core();
  if (g_info.kernel.empty()) {  // another BLAS (BLIS, reference) behind libblas.so.3
    g_info.library = "libblas.so.3 (not OpenBLAS)";
    g_info.chosen_by = "library";
    return;
  }
  if (const char* env = std::getenv("OPENBLAS_CORETYPE")) {
    g_info.chosen_by = std::getenv("MEDAI_BLAS_RESTARTED")
                           ? "medai (restarted; library chose " + std::string(std::getenv("MEDAI_BLAS_RESTARTED")) + ")"
                           : "environment (OPENBLAS_CORETYPE=" + std::string(env) + ")";
    return;
  }
  g_info.chosen_by = "library";
  const std::string best = best_openblas_core(cpu_flags());
  if (!generic_core(g_info.kernel) || best.empty()) return;
  const std::string generic = g_info.kernel;
  ::setenv("OPENBLAS_CORETYPE", best.c_str(), 1);
  // OpenBLAS picks its kernel table when it loads; gotoblas_dynamic_init() picks again from the
  // environment. Nothing has called BLAS yet, so switching now is the same as starting with it set.
  auto quit = symbol<VoidFn>("gotoblas_dynamic_quit");
  auto init = symbol<VoidFn>("gotoblas_dynamic_init");
  const char* mode = std::getenv("MEDAI_BLAS_SWITCH");  // "restart" forces the execv path (tests)
  if (quit && init && !(mode && std::string(mode) == "restart")) {
    quit();
    init();
    if (openblas_core() == best) {
      g_info.kernel = best;
      g_info.chosen_by = "medai (library chose " + generic + ")";
      return;
    }
  }
  ::setenv("MEDAI_BLAS_RESTARTED", generic.c_str(), 1);
  ::execv("/proc/self/exe", argv);
  // execv failed: carry on with the library's choice.
  ::unsetenv("OPENBLAS_CORETYPE");
  ::unsetenv("MEDAI_BLAS_RESTARTED");
}

BlasInfo blas_info() { return g_info; }

}  // namespace medai::core
