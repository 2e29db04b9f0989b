#pragma once
// The BLAS kernels medai runs on. Debian's OpenBLAS 0.3.21 does not know CPUs newer than it and
// falls back to its generic "Prescott" kernels there (fp32 GEMM 3-5x slower than SkylakeX or
// Cooperlake on an AVX-512 Xeon). At start-up, when OPENBLAS_CORETYPE is unset and OpenBLAS chose
// a kernel older than the CPU supports, medai selects the best supported one (Cooperlake with
// AVX512-BF16, SkylakeX with AVX-512, Haswell with AVX2+FMA). A value set in the environment is
// never overridden: set OPENBLAS_CORETYPE to hold the kernel fixed.
#include <string>

namespace medai::core {

struct BlasInfo {
  std::string library = "unknown";  // "OpenBLAS 0.3.21" or what libblas.so.3 is
  std::string kernel;               // OpenBLAS core name in use ("SkylakeX"); empty when not OpenBLAS
  std::string chosen_by;            // "environment", "medai (library chose Prescott)", "library"
};

// Call first in main(), before any BLAS work (it may restart the process with execv when the
// kernels cannot be switched in place).
void choose_blas_kernels(char** argv);
BlasInfo blas_info();
// The best OpenBLAS core for this CPU's flags (/proc/cpuinfo), or "" when none beats generic.
std::string best_openblas_core(const std::string& cpu_flags);
// This CPU's feature flags (the "flags" line of /proc/cpuinfo), space-separated.
std::string cpu_flags();
bool cpu_has(const std::string& flags, const std::string& flag);

}  // namespace medai::core
