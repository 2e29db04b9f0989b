// medai doctor and the BLAS kernel choice, checked numerically on the machine that runs the tests.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "medai/core/blas.h"
#include "support/test_support.h"

namespace medai {
namespace {

using nlohmann::json;

json doctor(const std::string& env = "") {
  auto r = test::run_command(env + " " + test::medai_bin() + " doctor --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out);
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

TEST(Doctor, TheBlasKernelInUseMultipliesCorrectlyAndIsTheBestThisCpuSupports) {
  const json j = doctor("env -u OPENBLAS_CORETYPE");
  EXPECT_TRUE(j["sgemm_check"]["ok"].get<bool>()) << j.dump(2);
  EXPECT_LT(j["sgemm_check"]["max_relative_error"].get<double>(), 1e-5);
  EXPECT_GT(j["sgemm_gflops_1024"].get<double>(), 0);
  const std::string lib = j["blas"]["library"], chosen = j["blas"]["chosen_by"], best = j["blas"]["best_for_cpu"];
  if (!starts_with(lib, "OpenBLAS")) GTEST_SKIP() << "BLAS is " << lib;
  if (starts_with(chosen, "medai")) EXPECT_EQ(j["blas"]["kernel"], best) << j.dump(2);
  else EXPECT_EQ(chosen, "library");
}

TEST(Doctor, AKernelSetInTheEnvironmentIsNeverOverridden) {
  const json j = doctor("OPENBLAS_CORETYPE=Prescott");
  if (!starts_with(j["blas"]["library"].get<std::string>(), "OpenBLAS")) GTEST_SKIP();
  EXPECT_EQ(j["blas"]["kernel"], "Prescott");
  EXPECT_TRUE(starts_with(j["blas"]["chosen_by"], "environment")) << j.dump(2);
  EXPECT_TRUE(j["sgemm_check"]["ok"].get<bool>());  // the generic kernels are the reference
}

TEST(Doctor, TheRestartPathChoosesTheSameKernel) {
  const json in_place = doctor("env -u OPENBLAS_CORETYPE");
  if (!starts_with(in_place["blas"]["chosen_by"].get<std::string>(), "medai")) GTEST_SKIP() << "no switch needed here";
  const json restarted = doctor("env -u OPENBLAS_CORETYPE MEDAI_BLAS_SWITCH=restart");
  EXPECT_EQ(restarted["blas"]["kernel"], in_place["blas"]["kernel"]);
  EXPECT_NE(restarted["blas"]["chosen_by"].get<std::string>().find("restarted"), std::string::npos);
  EXPECT_TRUE(restarted["sgemm_check"]["ok"].get<bool>());
}

TEST(Blas, TheBestCoreFollowsTheCpuFlags) {
  EXPECT_EQ(core::best_openblas_core("fpu sse2 avx avx2 fma"), "Haswell");
  EXPECT_EQ(core::best_openblas_core("avx2 fma avx512f avx512bw avx512vl avx512dq avx512cd"), "SkylakeX");
  EXPECT_EQ(core::best_openblas_core("avx2 fma avx512f avx512bw avx512vl avx512dq avx512cd avx512_bf16"), "Cooperlake");
  EXPECT_EQ(core::best_openblas_core("fpu sse2 avx"), "");
  EXPECT_FALSE(core::cpu_has("avx512f avx2", "avx512"));
}

}  // namespace
}  // namespace medai
