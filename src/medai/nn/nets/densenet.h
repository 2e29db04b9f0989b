#pragma once
// DenseNet-121 (Huang et al. 2017) in torchvision's layout: features.conv0, features.norm0,
// features.denseblockN.denselayerM.{norm1,conv1,norm2,conv2}, features.transitionN.{norm,conv},
// features.norm5, classifier.
#include <torch/nn.h>

#include "medai/nn/nets/classifier_net.h"

namespace medai::nn {

struct DenseNetOptions {
  std::vector<int64_t> block_config{6, 12, 24, 16};  // dense layers per block (DenseNet-121)
  int64_t growth_rate = 32, init_features = 64, bn_size = 4;
  int64_t in_channels = 1;
  int64_t num_classes = 2;
  std::string name = "densenet121";
  static DenseNetOptions for_architecture(const std::string& arch, int64_t in_channels, int64_t num_classes);
};

struct DenseLayerImpl : torch::nn::Module {
  DenseLayerImpl(int64_t in, int64_t growth, int64_t bn_size);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::BatchNorm2d norm1{nullptr}, norm2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
};
TORCH_MODULE(DenseLayer);

struct DenseBlockImpl : torch::nn::Module {
  DenseBlockImpl(int64_t layers, int64_t in, int64_t growth, int64_t bn_size);
  torch::Tensor forward(const torch::Tensor& x);
  std::vector<DenseLayer> layers;
};
TORCH_MODULE(DenseBlock);

struct TransitionImpl : torch::nn::Module {
  TransitionImpl(int64_t in, int64_t out);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::BatchNorm2d norm{nullptr};
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Transition);

struct DenseFeaturesImpl : torch::nn::Module {
  DenseFeaturesImpl(int64_t in_channels, const std::vector<int64_t>& block_config, int64_t growth,
                    int64_t init_features, int64_t bn_size);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv0{nullptr};
  torch::nn::BatchNorm2d norm0{nullptr}, norm5{nullptr};
  std::vector<DenseBlock> blocks;
  std::vector<Transition> transitions;
  int64_t out_channels = 0;
};
TORCH_MODULE(DenseFeatures);

struct DenseNetImpl : ClassifierNetImpl {
  explicit DenseNetImpl(const DenseNetOptions& options);
  torch::Tensor features(const torch::Tensor& x) override;
  torch::Tensor head(const torch::Tensor& f) override;
  std::string architecture() const override { return options.name; }
  std::string emit_torchscript(TorchScriptEmitter& e, std::string* pooled = nullptr) override;
  DenseNetOptions options;
  DenseFeatures features_{nullptr};
  torch::nn::Linear classifier{nullptr};
};
TORCH_MODULE(DenseNet);

}  // namespace medai::nn
