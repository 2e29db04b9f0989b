#include "medai/nn/nets/densenet.h"

#include "medai/core/error.h"
#include "medai/nn/torchscript.h"

namespace medai::nn {

namespace tnn = torch::nn;

DenseLayerImpl::DenseLayerImpl(int64_t in, int64_t growth, int64_t bn_size)
    : norm1(register_module("norm1", tnn::BatchNorm2d(in))),
      norm2(register_module("norm2", tnn::BatchNorm2d(bn_size * growth))),
      conv1(register_module("conv1", tnn::Conv2d(tnn::Conv2dOptions(in, bn_size * growth, 1).bias(false)))),
      conv2(register_module("conv2",
                            tnn::Conv2d(tnn::Conv2dOptions(bn_size * growth, growth, 3).padding(1).bias(false)))) {}

torch::Tensor DenseLayerImpl::forward(const torch::Tensor& x) {
  return conv2(torch::relu(norm2(conv1(torch::relu(norm1(x))))));
}

DenseBlockImpl::DenseBlockImpl(int64_t n, int64_t in, int64_t growth, int64_t bn_size) {
  for (int64_t i = 0; i < n; ++i)
    layers.push_back(
        register_module("denselayer" + std::to_string(i + 1), DenseLayer(in + i * growth, growth, bn_size)));
}

torch::Tensor DenseBlockImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> feats{x};
  for (auto& l : layers) feats.push_back(l->forward(torch::cat(feats, 1)));
  return torch::cat(feats, 1);
}

TransitionImpl::TransitionImpl(int64_t in, int64_t out)
    : norm(register_module("norm", tnn::BatchNorm2d(in))),
      conv(register_module("conv", tnn::Conv2d(tnn::Conv2dOptions(in, out, 1).bias(false)))) {}

torch::Tensor TransitionImpl::forward(const torch::Tensor& x) {
  return torch::avg_pool2d(conv(torch::relu(norm(x))), 2, 2);
}

DenseFeaturesImpl::DenseFeaturesImpl(int64_t in_channels, const std::vector<int64_t>& config, int64_t growth,
                                     int64_t init, int64_t bn_size) {
  conv0 =
      register_module("conv0", tnn::Conv2d(tnn::Conv2dOptions(in_channels, init, 7).stride(2).padding(3).bias(false)));
  norm0 = register_module("norm0", tnn::BatchNorm2d(init));
  int64_t c = init;
  for (size_t i = 0; i < config.size(); ++i) {
    blocks.push_back(register_module("denseblock" + std::to_string(i + 1), DenseBlock(config[i], c, growth, bn_size)));
    c += config[i] * growth;
    if (i + 1 != config.size()) {
      transitions.push_back(register_module("transition" + std::to_string(i + 1), Transition(c, c / 2)));
      c /= 2;
    }
  }
  norm5 = register_module("norm5", tnn::BatchNorm2d(c));
  out_channels = c;
}

torch::Tensor DenseFeaturesImpl::forward(const torch::Tensor& x) {
  auto y = torch::max_pool2d(torch::relu(norm0(conv0(x))), 3, 2, 1);
  for (size_t i = 0; i < blocks.size(); ++i) {
    y = blocks[i]->forward(y);
    if (i < transitions.size()) y = transitions[i]->forward(y);
  }
  return norm5(y);
}

DenseNetOptions DenseNetOptions::for_architecture(const std::string& arch, int64_t in_channels, int64_t num_classes) {
  if (arch != "densenet121") throw Error(ErrorCode::Unsupported, "unknown DenseNet '" + arch + "' (densenet121)");
  DenseNetOptions o;
  o.in_channels = in_channels;
  o.num_classes = num_classes;
  return o;
}

DenseNetImpl::DenseNetImpl(const DenseNetOptions& o) : options(o) {
  features_ = register_module("features",
                              DenseFeatures(o.in_channels, o.block_config, o.growth_rate, o.init_features, o.bn_size));
  classifier = register_module("classifier", tnn::Linear(features_->out_channels, o.num_classes));
  for (auto& m : modules(false)) {
    if (auto* c = m->as<tnn::Conv2d>()) tnn::init::kaiming_normal_(c->weight);
    else if (auto* bn = m->as<tnn::BatchNorm2d>()) {
      tnn::init::ones_(bn->weight);
      tnn::init::zeros_(bn->bias);
    } else if (auto* l = m->as<tnn::Linear>()) tnn::init::zeros_(l->bias);
  }
}

torch::Tensor DenseNetImpl::features(const torch::Tensor& x) { return torch::relu(features_->forward(x)); }

torch::Tensor DenseNetImpl::head(const torch::Tensor& f) {
  return classifier(torch::flatten(torch::adaptive_avg_pool2d(f, {1, 1}), 1));
}

std::string DenseNetImpl::emit_torchscript(TorchScriptEmitter& e, std::string* pooled) {
  auto& f = *features_;
  std::string x =
      e.call("torch.relu(" + e.bn("features.norm0", *f.norm0, e.conv("features.conv0", *f.conv0, "x")) + ")");
  x = e.call("torch.max_pool2d(" + x + ", [3, 3], [2, 2], [1, 1], [1, 1], False)");
  for (size_t bi = 0; bi < f.blocks.size(); ++bi) {
    const std::string bkey = "features.denseblock" + std::to_string(bi + 1);
    std::vector<std::string> feats{x};
    for (size_t li = 0; li < f.blocks[bi]->layers.size(); ++li) {
      auto& L = *f.blocks[bi]->layers[li];
      const std::string key = bkey + ".denselayer" + std::to_string(li + 1);
      const std::string in = e.call("torch.cat([" + TorchScriptEmitter::join(feats) + "], 1)");
      std::string y = e.call("torch.relu(" + e.bn(key + ".norm1", *L.norm1, in) + ")");
      y = e.call("torch.relu(" + e.bn(key + ".norm2", *L.norm2, e.conv(key + ".conv1", *L.conv1, y)) + ")");
      feats.push_back(e.conv(key + ".conv2", *L.conv2, y));
    }
    x = e.call("torch.cat([" + TorchScriptEmitter::join(feats) + "], 1)");
    if (bi < f.transitions.size()) {
      auto& T = *f.transitions[bi];
      const std::string tkey = "features.transition" + std::to_string(bi + 1);
      x = e.call("torch.relu(" + e.bn(tkey + ".norm", *T.norm, x) + ")");
      x = e.call("torch.avg_pool2d(" + e.conv(tkey + ".conv", *T.conv, x) + ", [2, 2], [2, 2])");
    }
  }
  x = e.call("torch.relu(" + e.bn("features.norm5", *f.norm5, x) + ")");
  x = e.call("torch.flatten(torch.adaptive_avg_pool2d(" + x + ", [1, 1]), 1)");
  if (pooled) *pooled = x;
  return e.linear("classifier", *classifier, x);
}

}  // namespace medai::nn
