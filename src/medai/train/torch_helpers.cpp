#include "medai/train/torch_helpers.h"

#include <ATen/CPUGeneratorImpl.h>

#include <mutex>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"

namespace medai::train {

namespace fs = std::filesystem;

namespace {

template <class Load>
void load_or_fail(const fs::path& file, const std::string& what, Load&& load) {
  if (!fs::exists(file)) fail_not_found(file.string() + ": missing " + what);
  try {
    load();
  } catch (const c10::Error&) {
    fail_invalid(file.string() + ": damaged " + what);
  }
}

}  // namespace

void ParameterSnapshot::save(const fs::path& file) const {
  core::write_atomic_with(file, [&](const fs::path& tmp) { torch::save(saved_, tmp.string()); });
}

void ParameterSnapshot::load(const fs::path& file) {
  load_or_fail(file, "parameter snapshot", [&] { torch::load(saved_, file.string()); });
}

void save_module(const torch::nn::Module& module, const fs::path& file) {
  core::write_atomic_with(file, [&](const fs::path& tmp) {
    torch::serialize::OutputArchive archive;
    module.save(archive);
    archive.save_to(tmp.string());
  });
}

void load_module(torch::nn::Module& module, const fs::path& file) {
  load_or_fail(file, "network checkpoint", [&] {
    torch::serialize::InputArchive archive;
    archive.load_from(file.string());
    module.load(archive);
  });
}

void save_optimizer(const torch::optim::Optimizer& optimizer, const fs::path& file) {
  core::write_atomic_with(file, [&](const fs::path& tmp) {
    torch::serialize::OutputArchive archive;
    optimizer.save(archive);
    archive.save_to(tmp.string());
  });
}

void load_optimizer(torch::optim::Optimizer& optimizer, const fs::path& file) {
  load_or_fail(file, "optimizer checkpoint", [&] {
    torch::serialize::InputArchive archive;
    archive.load_from(file.string());
    optimizer.load(archive);
  });
}

void save_rng_state(const fs::path& file) {
  auto gen = at::detail::getDefaultCPUGenerator();
  torch::Tensor state;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    state = gen.get_state();
  }
  core::write_atomic_with(file, [&](const fs::path& tmp) { torch::save(state, tmp.string()); });
}

void load_rng_state(const fs::path& file) {
  torch::Tensor state;
  load_or_fail(file, "random-number state", [&] { torch::load(state, file.string()); });
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  try {
    gen.set_state(state);
  } catch (const c10::Error&) {
    fail_invalid(file.string() + ": not a random-number state of this libtorch");
  }
}

}  // namespace medai::train
