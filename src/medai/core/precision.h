#pragma once
// Numeric precision of training and inference: fp32 (the reference) or bf16 autocast (matrix
// products and convolutions in bfloat16, weights and optimiser state in fp32).
//
// `auto` resolves to fp32. Measured on this project's AVX512-BF16 Xeon without AMX (bench/
// run_precision_bench.sh), bf16 autocast trains ResNet-18 at 0.8x the fp32 speed in medai and in
// python3-torch alike, so it is not the default there; on AMX-BF16 CPUs the reported prize (about
// 2x) is not yet validated by a medai run, so it is not the default there either. Ask for bf16
// explicitly to use it; it is refused on CPUs without AVX512-BF16 or AMX-BF16.
#include <string>

namespace medai::core {

enum class Precision { Fp32, Bf16 };

// "auto" | "fp32" | "bf16"; `field` names the setting in errors.
Precision resolve_precision(const std::string& requested, const std::string& field = "precision");
std::string precision_name(Precision p);
bool cpu_supports_bf16();
// AMX-BF16 tile units (Sapphire Rapids and later): where bf16 autocast measurably pays for
// transformers (text pretrain: 1.6x the fp32 step rate at the same loss, session 10).
bool cpu_has_amx_bf16();

// The precision inference runs at in this process (set once by the program; default fp32).
void set_inference_precision(Precision p);
Precision inference_precision();

}  // namespace medai::core
