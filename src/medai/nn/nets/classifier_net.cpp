#include "medai/nn/nets/classifier_net.h"

#include <torch/torch.h>

#include <algorithm>

#include "medai/core/error.h"
#include "medai/nn/nets/densenet.h"
#include "medai/nn/nets/resnet.h"

namespace medai::nn {

std::string ClassifierNetImpl::emit_torchscript(TorchScriptEmitter&, std::string*) {
  fail_unsupported("TorchScript export of architecture '" + architecture() + "'");
}

const std::vector<std::string>& known_architectures() {
  static const std::vector<std::string> k{"resnet18", "resnet34", "resnet50", "densenet121"};
  return k;
}

void check_architecture(const std::string& arch) { check_known("architecture", arch, known_architectures()); }

ClassifierNet make_classifier(const std::string& arch, int64_t in_channels, int64_t num_classes) {
  check_architecture(arch);
  if (arch == "densenet121")
    return std::make_shared<DenseNetImpl>(DenseNetOptions::for_architecture(arch, in_channels, num_classes));
  return std::make_shared<ResNetImpl>(ResNetOptions::for_architecture(arch, in_channels, num_classes));
}

void to_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard ng;
  for (auto& p : module.parameters())
    if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
}
}  // namespace medai::nn
