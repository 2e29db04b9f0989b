#pragma once
// The interface of an image classifier network: features() gives the last convolutional
// feature map (what Grad-CAM looks at), head() turns it into class logits.
#include <torch/nn/module.h>
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

namespace medai::nn {

class TorchScriptEmitter;

struct ClassifierNetImpl : torch::nn::Module {
  virtual torch::Tensor features(const torch::Tensor& x) = 0;     // N x C x h x w
  virtual torch::Tensor head(const torch::Tensor& features) = 0;  // N x num_classes
  torch::Tensor forward(const torch::Tensor& x) { return head(features(x)); }
  virtual std::string architecture() const = 0;
  // The forward pass of `x` as TorchScript (nn/torchscript.h); returns the logits' variable, and
  // sets `*pooled` (when given) to the variable of the pooled penultimate features, the mean of
  // features() over space. The default refuses (a network without an export).
  virtual std::string emit_torchscript(TorchScriptEmitter& e, std::string* pooled = nullptr);
};
using ClassifierNet = std::shared_ptr<ClassifierNetImpl>;

// resnet18 | resnet34 | resnet50 | densenet121.
ClassifierNet make_classifier(const std::string& architecture, int64_t in_channels, int64_t num_classes);
const std::vector<std::string>& known_architectures();
// Throws InvalidInput listing the known names when `architecture` is not one of them.
void check_architecture(const std::string& architecture);
// Converts 4-D weights to channels-last (libtorch C++ has no Module::to(memory_format)).
void to_channels_last(torch::nn::Module& module);
// Smallest input side the architecture accepts (five stride-2 stages).
inline constexpr int kMinInputSize = 32;

}  // namespace medai::nn
