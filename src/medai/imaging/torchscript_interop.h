#pragma once
// Moving models between medai and PyTorch.
// Export: a TorchScript file (torch.jit.load in python3-torch runs it with the same outputs).
// Its parameters are named after torchvision's state_dict keys with '.' written as '__'.
// Import: copies the parameters of a TorchScript classifier made in PyTorch (torchvision
// layout, e.g. torch.jit.script(torchvision.models.resnet18(num_classes=2)) with a 1-channel
// conv1) into a medai network, by name and shape.
#include <torch/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "medai/nn/nets/classifier_net.h"

namespace medai::imaging {

void export_torchscript(nn::ClassifierNetImpl& net, const std::filesystem::path& out);

// The network compiled to TorchScript and optimised for CPU inference, in C++ (frozen, batch
// norms folded, prepacked oneDNN convolutions with fused ReLU/add): what
// torch.jit.optimize_for_inference does in PyTorch. Same outputs as the network in eval mode.
class OptimizedClassifier {
 public:
  // `net` must not be folded. Warms the graph up at `size` x `size`. With `with_features` the
  // graph also returns the pooled penultimate features (for the out-of-distribution guard).
  OptimizedClassifier(nn::ClassifierNetImpl& net, int64_t in_channels, int size, bool with_features = false);
  ~OptimizedClassifier();
  torch::Tensor forward(const torch::Tensor& batch);  // N x C x S x S -> logits
  // Logits and pooled features N x D from one run of the graph (only when built with_features).
  std::pair<torch::Tensor, torch::Tensor> forward_with_features(const torch::Tensor& batch);
  bool has_features() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Fills `net` from a TorchScript file; throws InvalidInput naming the first missing/mismatched key.
void import_torchscript_weights(const std::filesystem::path& file, nn::ClassifierNetImpl& net);

}  // namespace medai::imaging
