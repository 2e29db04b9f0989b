// medai doctor: what this machine gives medai (CPU features, BLAS kernels, threads) and a
// numerical check of the BLAS kernel in use against a plain double-precision product.
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "medai/core/blas.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"

namespace medai::app {

namespace {

// Max |C - A B| / (|A| |B|) over the entries, C from torch::mm (BLAS sgemm), A B in double.
double gemm_error(int n) {
  torch::manual_seed(7);
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  auto c = torch::mm(a, b).to(torch::kDouble).contiguous();
  auto ad = a.to(torch::kDouble).contiguous(), bd = b.to(torch::kDouble).t().contiguous();
  const double *pa = ad.data_ptr<double>(), *pb = bd.data_ptr<double>(), *pc = c.data_ptr<double>();
  double worst = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      double s = 0, scale = 0;
      for (int k = 0; k < n; ++k) {
        s += pa[i * n + k] * pb[j * n + k];
        scale += std::abs(pa[i * n + k] * pb[j * n + k]);
      }
      worst = std::max(worst, std::abs(pc[i * n + j] - s) / std::max(scale, 1e-30));
    }
  return worst;
}

double gemm_gflops(int n, int reps) {
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  torch::mm(a, b);  // warm-up
  auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) torch::mm(a, b);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return 2.0 * n * n * n * reps / s / 1e9;
}

}  // namespace

void add_system_commands(CLI::App& app, GlobalOptions& g) {
  auto* doctor =
      app.add_subcommand("doctor", "this machine as medai sees it: CPU features, BLAS kernels (checked), threads");
  auto json_out = std::make_shared<bool>(false);
  doctor->add_flag("--json", *json_out, "one JSON object on stdout");
  doctor->callback([&g, json_out] {
    core::init_runtime({g.threads, g.verbose, g.quiet || *json_out});
    torch::set_num_threads(core::runtime_threads());
    const auto blas = core::blas_info();
    const std::string flags = core::cpu_flags();
    nlohmann::json cpu = nlohmann::json::object();
    for (const char* f : {"avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16"})
      cpu[f] = core::cpu_has(flags, f);
    const double err = gemm_error(256);
    const bool ok = err < 1e-5;  // fp32 accumulation over 256 terms: ~1e-7 when correct
    nlohmann::json j = {{"cpu", cpu},
                        {"blas",
                         {{"library", blas.library},
                          {"kernel", blas.kernel},
                          {"chosen_by", blas.chosen_by},
                          {"best_for_cpu", core::best_openblas_core(flags)}}},
                        {"sgemm_check", {{"n", 256}, {"max_relative_error", err}, {"ok", ok}}},
                        {"sgemm_gflops_1024", gemm_gflops(1024, 5)},
                        {"threads", core::runtime_threads()},
                        {"software", core::software_versions()}};
    if (*json_out) {
      std::cout << core::dump_json(j, 2) << "\n";
    } else {
      std::cout << "BLAS: " << blas.library << ", kernel " << blas.kernel << " (chosen by " << blas.chosen_by << ")\n"
                << "sgemm check: max relative error " << err << (ok ? " (ok)" : " (WRONG RESULTS)") << "\n"
                << "sgemm 1024: " << j["sgemm_gflops_1024"].get<double>() << " GFLOP/s on " << core::runtime_threads()
                << " threads\n";
    }
    if (!ok) std::exit(1);
  });
}

}  // namespace medai::app
