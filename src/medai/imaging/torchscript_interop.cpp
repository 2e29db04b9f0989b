#include "medai/imaging/torchscript_interop.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <map>
#include <set>
#include <sstream>

#include "medai/core/error.h"
#include "medai/nn/torchscript.h"

namespace medai::imaging {

namespace fs = std::filesystem;

namespace {

nn::EmitForward forward_of(nn::ClassifierNetImpl& net) {
  return [&net](nn::TorchScriptEmitter& e) { return net.emit_torchscript(e); };
}

}  // namespace

void export_torchscript(nn::ClassifierNetImpl& net, const fs::path& out) {
  nn::save_torchscript(net.architecture(), forward_of(net), out);
}

struct OptimizedClassifier::Impl {
  torch::jit::Module module;
  int64_t classes = 0;  // with features: the first `classes` columns are the logits
};

OptimizedClassifier::OptimizedClassifier(nn::ClassifierNetImpl& net, int64_t in_channels, int size, bool with_features)
    : impl_(std::make_unique<Impl>()) {
  // Through the serialised form, as a PyTorch user would: the loaded module is what
  // optimize_for_inference rewrites fully (every conv/batch-norm into prepacked oneDNN ops).
  std::stringstream buffer;
  nn::EmitForward emit = forward_of(net);
  if (with_features) {
    torch::NoGradGuard ng;
    net.eval();
    impl_->classes = net.forward(torch::zeros({1, in_channels, size, size})).size(1);
    emit = [&net](nn::TorchScriptEmitter& e) {
      std::string pooled;
      const std::string z = net.emit_torchscript(e, &pooled);
      return e.call("torch.cat([" + z + ", " + pooled + "], 1)");
    };
  }
  nn::save_torchscript(net.architecture(), emit, buffer);
  torch::jit::Module loaded = torch::jit::load(buffer);
  loaded.eval();
  // Freeze explicitly: the C++ optimize_for_inference only freezes modules whose class has a
  // 'training' attribute, and without freezing no weight is constant, so nothing gets rewritten.
  torch::jit::Module frozen = torch::jit::freeze(loaded);
  impl_->module = torch::jit::optimize_for_inference(frozen);
  torch::NoGradGuard ng;
  auto x = torch::zeros({1, in_channels, size, size});
  for (int i = 0; i < 4; ++i) impl_->module.forward({x});
}

OptimizedClassifier::~OptimizedClassifier() = default;

torch::Tensor OptimizedClassifier::forward(const torch::Tensor& batch) {
  torch::NoGradGuard ng;
  const torch::Tensor out = impl_->module.forward({batch.contiguous()}).toTensor();
  return impl_->classes ? out.slice(1, 0, impl_->classes) : out;
}

std::pair<torch::Tensor, torch::Tensor> OptimizedClassifier::forward_with_features(const torch::Tensor& batch) {
  if (!impl_->classes) throw Error(ErrorCode::Internal, "OptimizedClassifier: built without features");
  torch::NoGradGuard ng;
  const torch::Tensor out = impl_->module.forward({batch.contiguous()}).toTensor();
  return {out.slice(1, 0, impl_->classes), out.slice(1, impl_->classes)};
}

bool OptimizedClassifier::has_features() const { return impl_->classes > 0; }

void import_torchscript_weights(const fs::path& file, nn::ClassifierNetImpl& net) {
  if (!fs::exists(file)) fail_not_found(file.string() + ": no such file");
  torch::jit::Module jm;
  try {
    jm = torch::jit::load(file.string());
  } catch (const c10::Error& e) {
    fail_invalid(file.string() + ": not a TorchScript file (" + std::string(e.what_without_backtrace()).substr(0, 160) +
                 ")");
  }
  std::map<std::string, torch::Tensor> source;
  auto norm = [](std::string k) {
    for (size_t p; (p = k.find("__")) != std::string::npos;) k.replace(p, 2, ".");
    return k;
  };
  for (const auto& p : jm.named_parameters(true)) source[norm(p.name)] = p.value;
  for (const auto& b : jm.named_buffers(true)) source[norm(b.name)] = b.value;
  torch::NoGradGuard ng;
  std::set<std::string> used;
  auto copy_all = [&](auto items) {
    for (auto& item : items) {
      auto it = source.find(item.key());
      used.insert(item.key());
      if (it == source.end()) {
        // (C++17 spelling of ends_with: the fuzz preset builds libtorch code as C++17)
        static const std::string kTracked = "num_batches_tracked";
        const std::string& key = item.key();
        if (key.size() >= kTracked.size() && key.compare(key.size() - kTracked.size(), kTracked.size(), kTracked) == 0)
          continue;
        fail_invalid(file.string() + ": has no tensor '" + item.key() + "' (is it a " + net.architecture() +
                     " in torchvision's layout?)");
      }
      if (it->second.sizes() != item.value().sizes())
        fail_invalid(file.string() + ": '" + item.key() + "' has shape " + c10::str(it->second.sizes()) + ", " +
                     net.architecture() + " expects " + c10::str(item.value().sizes()));
      item.value().copy_(it->second.to(item.value().dtype()));
    }
  };
  copy_all(net.named_parameters(true));
  copy_all(net.named_buffers(true));
  // A deeper network of the same family has every key of the shallower one: reject extras.
  for (const auto& [key, value] : source)
    if (!used.count(key))
      fail_invalid(file.string() + ": holds tensor '" + key + "' that " + net.architecture() +
                   " does not have (a different architecture?)");
}

}  // namespace medai::imaging
