#pragma once
// Moving models between medai and PyTorch.
// Export: a TorchScript file (torch.jit.load in python3-torch runs it with the same outputs).
// Its parameters are named after torchvision's state_dict keys with '.' written as '__'.
// Import: copies the parameters of a TorchScript classifier made in PyTorch (torchvision
// layout, e.g. torch.jit.script(torchvision.models.resnet18(num_classes=2)) with a 1-channel
// conv1) into a medai network, by name and shape.
#include <filesystem>
#include <string>
#include <vector>

#include "medai/nn/nets/classifier_net.h"

namespace medai::imaging {

void export_torchscript(nn::ClassifierNetImpl& net, const std::filesystem::path& out);


// Fills `net` from a TorchScript file; throws InvalidInput naming the first missing/mismatched key.
void import_torchscript_weights(const std::filesystem::path& file, nn::ClassifierNetImpl& net);

}  // namespace medai::imaging
