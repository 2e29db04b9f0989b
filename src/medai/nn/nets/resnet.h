#pragma once
// ResNet-18/34/50 (He et al. 2016) in torchvision's module layout, so state_dict keys match
// torchvision.models.resnet* (conv1, bn1, layer1.0.conv1, ..., fc).
#include <torch/nn.h>

#include "medai/nn/nets/classifier_net.h"

namespace medai::nn {

enum class ResNetBlock { Basic, Bottleneck };

struct ResNetOptions {
  ResNetBlock block = ResNetBlock::Basic;
  std::vector<int64_t> layers{2, 2, 2, 2};
  int64_t in_channels = 1;
  int64_t num_classes = 2;
  std::string name = "resnet18";
  static ResNetOptions for_architecture(const std::string& arch, int64_t in_channels, int64_t num_classes);
};

struct BasicBlockImpl : torch::nn::Module {
  BasicBlockImpl(int64_t inplanes, int64_t planes, int64_t stride, bool downsample);
  torch::Tensor forward(torch::Tensor x);
  bool folded = false;  // batch norms folded into the convolutions (inference only)
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential downsample{nullptr};
  int64_t stride;
};
TORCH_MODULE(BasicBlock);

struct BottleneckImpl : torch::nn::Module {
  BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride, bool downsample);
  torch::Tensor forward(torch::Tensor x);
  bool folded = false;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};
  int64_t stride;
};
TORCH_MODULE(Bottleneck);

struct ResNetImpl : ClassifierNetImpl {
  explicit ResNetImpl(const ResNetOptions& options);
  torch::Tensor features(const torch::Tensor& x) override;
  torch::Tensor head(const torch::Tensor& f) override;
  std::string architecture() const override { return options.name; }
  std::string emit_torchscript(TorchScriptEmitter& e, std::string* pooled = nullptr) override;
  ResNetOptions options;
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  torch::nn::Linear fc{nullptr};
  bool folded = false;
};
TORCH_MODULE(ResNet);

// Folds every batch norm into the convolution before it (w' = w * g / sqrt(v + eps),
// b' = beta - mean * g / sqrt(v + eps)): the same function in eval mode with 20 fewer ops for
// ResNet-18. For inference only: a folded network must not be trained, saved or exported.
void fold_batchnorm(ResNetImpl& net);

}  // namespace medai::nn
