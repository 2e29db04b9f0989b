#include "medai/train/torch_helpers.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <mutex>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/runtime.h"

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

// A module or an optimiser (both save to and load from libtorch's archives).
template <class T>
void save_archive(const T& object, const fs::path& file) {
  core::write_atomic_with(file, [&](const fs::path& tmp) {
    torch::serialize::OutputArchive archive;
    object.save(archive);
    archive.save_to(tmp.string());
  });
}

template <class T>
void load_archive(T& object, const fs::path& file, const std::string& what) {
  load_or_fail(file, what, [&] {
    torch::serialize::InputArchive archive;
    archive.load_from(file.string());
    object.load(archive);
  });
}

}  // namespace

void update_average(torch::nn::Module& average, const torch::nn::Module& live, double decay, int64_t step) {
  torch::NoGradGuard no_grad;
  const double d = step == 0 ? 0.0 : std::min(decay, (1.0 + step) / (10.0 + step));
  auto blend = [d](std::vector<torch::Tensor> avg, std::vector<torch::Tensor> now) {
    if (avg.size() != now.size()) throw Error(ErrorCode::Internal, "update_average: the networks differ");
    for (size_t i = 0; i < avg.size(); ++i) {
      if (avg[i].is_floating_point() && d > 0) avg[i].mul_(d).add_(now[i].detach(), 1.0 - d);
      else avg[i].copy_(now[i].detach());
    }
  };
  blend(average.parameters(), live.parameters());
  blend(average.buffers(), live.buffers());
}

void apply_torch_threads() {
  static std::once_flag once;
  std::call_once(once, [] { torch::set_num_threads(core::runtime_threads()); });
}

void ParameterSnapshot::save(const fs::path& file) const {
  core::write_atomic_with(file, [&](const fs::path& tmp) { torch::save(saved_, tmp.string()); });
}

void ParameterSnapshot::load(const fs::path& file) {
  load_or_fail(file, "parameter snapshot", [&] { torch::load(saved_, file.string()); });
}

void save_tensor(const torch::Tensor& tensor, const fs::path& file) {
  core::write_atomic_with(file, [&](const fs::path& tmp) { torch::save(tensor, tmp.string()); });
}

torch::Tensor load_tensor(const fs::path& file, const std::string& what) {
  torch::Tensor t;
  load_or_fail(file, what, [&] { torch::load(t, file.string()); });
  return t;
}

void save_module(const torch::nn::Module& module, const fs::path& file) { save_archive(module, file); }
void load_module(torch::nn::Module& module, const fs::path& file) { load_archive(module, file, "network checkpoint"); }
void save_optimizer(const torch::optim::Optimizer& optimizer, const fs::path& file) { save_archive(optimizer, file); }
void load_optimizer(torch::optim::Optimizer& optimizer, const fs::path& file) {
  load_archive(optimizer, file, "optimizer checkpoint");
}

void save_rng_state(const fs::path& file) {
  auto gen = at::detail::getDefaultCPUGenerator();
  torch::Tensor state;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    state = gen.get_state();
  }
  save_tensor(state, file);
}

void load_rng_state(const fs::path& file) {
  const torch::Tensor state = load_tensor(file, "random-number state");
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  try {
    gen.set_state(state);
  } catch (const c10::Error&) {
    fail_invalid(file.string() + ": not a random-number state of this libtorch");
  }
}

std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<torch::Tensor>& params, double lr,
                                                double weight_decay) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& t : params) (t.dim() >= 2 ? decay : no_decay).push_back(t);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(
      decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(lr).weight_decay(weight_decay)));
  groups.emplace_back(no_decay,
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(lr).weight_decay(0.0)));
  return std::make_unique<torch::optim::AdamW>(std::move(groups), torch::optim::AdamWOptions(lr));
}

}  // namespace medai::train
