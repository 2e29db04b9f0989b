#include "medai/core/precision.h"

#include <atomic>

#include "medai/core/blas.h"
#include "medai/core/error.h"

namespace medai::core {

namespace {
std::atomic<Precision> g_inference{Precision::Fp32};
}  // namespace

bool cpu_supports_bf16() {
  const std::string f = cpu_flags();
  return cpu_has(f, "avx512_bf16") || cpu_has(f, "amx_bf16");
}

bool cpu_has_amx_bf16() { return cpu_has(cpu_flags(), "amx_bf16"); }

Precision resolve_precision(const std::string& requested, const std::string& field) {
  if (requested == "auto" || requested == "fp32") return Precision::Fp32;
  if (requested == "bf16") {
    if (!cpu_supports_bf16())
      fail_unsupported(field +
                       " bf16: this CPU has neither AVX512-BF16 nor AMX-BF16 (bfloat16 would be emulated, "
                       "slower than fp32)");
    return Precision::Bf16;
  }
  fail_invalid(field + ": '" + requested + "' is not auto, fp32 or bf16");
}

std::string precision_name(Precision p) { return p == Precision::Bf16 ? "bf16" : "fp32"; }

void set_inference_precision(Precision p) { g_inference = p; }
Precision inference_precision() { return g_inference; }

}  // namespace medai::core
