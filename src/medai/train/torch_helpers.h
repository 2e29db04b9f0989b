#pragma once
// The libtorch side of the training engine (include only from .cpp files that use libtorch).
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace medai::train {

// libtorch's intra-op threads = the runtime's thread count (--threads), once per process.
void apply_torch_threads();

inline void set_lr(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

// AdamW with weight decay on matrices only (no decay on biases and LayerNorm weights, as BERT
// and the transformer recipes since): two parameter groups.
std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<torch::Tensor>& params, double lr,
                                                double weight_decay);

// Backward, optional gradient-norm clipping (max_norm > 0), optimiser step; returns the loss.
inline double optimise(torch::optim::Optimizer& optimizer, const torch::Tensor& loss,
                       const std::vector<torch::Tensor>& clipped = {}, double max_norm = 0) {
  optimizer.zero_grad();
  loss.backward();
  if (max_norm > 0) torch::nn::utils::clip_grad_norm_(clipped, max_norm);
  optimizer.step();
  return loss.item<double>();
}

// Exponential moving average of a network's weights (Polyak averaging, as timm's ModelEma): after
// each optimiser step every floating-point parameter and buffer of `average` becomes
// d * average + (1 - d) * live, the others are copied; d = min(decay, (1 + step) / (10 + step)),
// so the early steps do not pin the average to the initialisation. `average` has `live`'s
// architecture; step 0 copies `live` outright.
void update_average(torch::nn::Module& average, const torch::nn::Module& live, double decay, int64_t step);

// bf16 autocast on the CPU (libtorch's CPU autocast, as torch.autocast("cpu") in Python) for the
// guard's lifetime: matrix products and convolutions run in bfloat16, weights and the optimiser
// stay fp32. `enabled` false is a no-op, so callers write one code path.
class AutocastGuard {
 public:
  explicit AutocastGuard(bool enabled) : enabled_(enabled && !at::autocast::is_cpu_enabled()) {
    if (!enabled_) return;
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
  ~AutocastGuard() {
    if (!enabled_) return;
    at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool enabled_;
};

// A copy of a module's parameters (the best state so far), restored in place.
class ParameterSnapshot {
 public:
  void capture(const std::vector<torch::Tensor>& params) {
    saved_.clear();
    for (const auto& p : params) saved_.push_back(p.detach().clone());
  }
  bool empty() const { return saved_.empty(); }
  // For checkpoints (an empty snapshot saves and loads as empty).
  void save(const std::filesystem::path& file) const;
  void load(const std::filesystem::path& file);
  void restore(const std::vector<torch::Tensor>& params) const {
    torch::NoGradGuard ng;
    for (size_t i = 0; i < params.size() && i < saved_.size(); ++i) params[i].copy_(saved_[i]);
  }

 private:
  std::vector<torch::Tensor> saved_;
};

// Checkpoint files, written atomically; loading names the damaged file in its error.
void save_tensor(const torch::Tensor& tensor, const std::filesystem::path& file);
torch::Tensor load_tensor(const std::filesystem::path& file, const std::string& what);
void save_module(const torch::nn::Module& module, const std::filesystem::path& file);
void load_module(torch::nn::Module& module, const std::filesystem::path& file);
void save_optimizer(const torch::optim::Optimizer& optimizer, const std::filesystem::path& file);
void load_optimizer(torch::optim::Optimizer& optimizer, const std::filesystem::path& file);
// libtorch's default CPU generator (shuffles, dropout, sampling): a resumed run continues the
// random stream where the checkpoint left it, so its numbers are those of an uninterrupted run.
void save_rng_state(const std::filesystem::path& file);
void load_rng_state(const std::filesystem::path& file);

}  // namespace medai::train
