#include "medai/nn/nets/resnet.h"

#include "medai/core/error.h"
#include "medai/nn/torchscript.h"

namespace medai::nn {

namespace tnn = torch::nn;

namespace {
tnn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad) {
  return tnn::Conv2d(tnn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false));
}
tnn::Sequential make_downsample(int64_t in, int64_t out, int64_t stride) {
  return tnn::Sequential(conv(in, out, 1, stride, 0), tnn::BatchNorm2d(out));
}
// conv then batch norm, or the folded conv alone.
inline torch::Tensor cbn(tnn::Conv2d& c, tnn::BatchNorm2d& bn, const torch::Tensor& x, bool folded) {
  return folded ? c(x) : bn(c(x));
}
torch::Tensor shortcut(tnn::Sequential& ds, const torch::Tensor& x, bool folded) {
  if (!ds) return x;
  return folded ? ds[0]->as<tnn::Conv2dImpl>()->forward(x) : ds->forward(x);
}
void fold(tnn::Conv2dImpl& c, tnn::BatchNorm2dImpl& bn) {
  torch::NoGradGuard ng;
  auto scale = bn.weight / torch::sqrt(bn.running_var + bn.options.eps());
  auto w = c.weight * scale.reshape({-1, 1, 1, 1});
  c.weight.set_data(w.contiguous(c.weight.suggest_memory_format()));
  auto b = c.bias.defined() ? c.bias : torch::zeros_like(bn.running_mean);
  c.bias = (bn.bias + (b - bn.running_mean) * scale).detach();  // not registered: state_dict unchanged
}
}  // namespace

ResNetOptions ResNetOptions::for_architecture(const std::string& arch, int64_t in_channels, int64_t num_classes) {
  ResNetOptions o;
  o.in_channels = in_channels;
  o.num_classes = num_classes;
  o.name = arch;
  if (arch == "resnet18") o.layers = {2, 2, 2, 2};
  else if (arch == "resnet34") o.layers = {3, 4, 6, 3};
  else if (arch == "resnet50") {
    o.layers = {3, 4, 6, 3};
    o.block = ResNetBlock::Bottleneck;
  } else fail_invalid("unknown ResNet architecture '" + arch + "'");
  return o;
}

BasicBlockImpl::BasicBlockImpl(int64_t inplanes, int64_t planes, int64_t stride_, bool ds)
    : conv1(register_module("conv1", conv(inplanes, planes, 3, stride_, 1))),
      conv2(register_module("conv2", conv(planes, planes, 3, 1, 1))),
      bn1(register_module("bn1", tnn::BatchNorm2d(planes))),
      bn2(register_module("bn2", tnn::BatchNorm2d(planes))),
      stride(stride_) {
  if (ds) downsample = register_module("downsample", make_downsample(inplanes, planes, stride_));
}

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) {
  // In-place ReLU and add, as torchvision does: batch norm's backward needs its input, not its output.
  auto out = cbn(conv1, bn1, x, folded).relu_();
  out = cbn(conv2, bn2, out, folded);
  out += shortcut(downsample, x, folded);
  return out.relu_();
}

BottleneckImpl::BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride_, bool ds)
    : conv1(register_module("conv1", conv(inplanes, planes, 1, 1, 0))),
      conv2(register_module("conv2", conv(planes, planes, 3, stride_, 1))),
      conv3(register_module("conv3", conv(planes, planes * 4, 1, 1, 0))),
      bn1(register_module("bn1", tnn::BatchNorm2d(planes))),
      bn2(register_module("bn2", tnn::BatchNorm2d(planes))),
      bn3(register_module("bn3", tnn::BatchNorm2d(planes * 4))),
      stride(stride_) {
  if (ds) downsample = register_module("downsample", make_downsample(inplanes, planes * 4, stride_));
}

torch::Tensor BottleneckImpl::forward(torch::Tensor x) {
  auto out = cbn(conv1, bn1, x, folded).relu_();
  out = cbn(conv2, bn2, out, folded).relu_();
  out = cbn(conv3, bn3, out, folded);
  out += shortcut(downsample, x, folded);
  return out.relu_();
}

ResNetImpl::ResNetImpl(const ResNetOptions& o) : options(o) {
  conv1 = register_module("conv1", conv(o.in_channels, 64, 7, 2, 3));
  bn1 = register_module("bn1", tnn::BatchNorm2d(64));
  const int64_t expansion = o.block == ResNetBlock::Basic ? 1 : 4;
  int64_t inplanes = 64;
  tnn::Sequential* layers[4] = {&layer1, &layer2, &layer3, &layer4};
  for (int l = 0; l < 4; ++l) {
    int64_t planes = 64 << l, stride = l == 0 ? 1 : 2;
    tnn::Sequential seq;
    for (int64_t b = 0; b < o.layers[l]; ++b) {
      int64_t s = b == 0 ? stride : 1;
      bool ds = b == 0 && (s != 1 || inplanes != planes * expansion);
      if (o.block == ResNetBlock::Basic) seq->push_back(BasicBlock(inplanes, planes, s, ds));
      else seq->push_back(Bottleneck(inplanes, planes, s, ds));
      inplanes = planes * expansion;
    }
    *layers[l] = register_module("layer" + std::to_string(l + 1), seq);
  }
  fc = register_module("fc", tnn::Linear(512 * expansion, o.num_classes));
  // torchvision's initialisation.
  for (auto& m : modules(false)) {
    if (auto* c = m->as<tnn::Conv2d>()) {
      tnn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = m->as<tnn::BatchNorm2d>()) {
      tnn::init::ones_(bn->weight);
      tnn::init::zeros_(bn->bias);
    }
  }
}

torch::Tensor ResNetImpl::features(const torch::Tensor& x) {
  auto y = cbn(conv1, bn1, x, folded).relu_();
  y = torch::max_pool2d(y, 3, 2, 1);
  return layer4->forward(layer3->forward(layer2->forward(layer1->forward(y))));
}

torch::Tensor ResNetImpl::head(const torch::Tensor& f) {
  return fc(torch::flatten(torch::adaptive_avg_pool2d(f, {1, 1}), 1));
}

void fold_batchnorm(ResNetImpl& net) {
  if (net.folded) return;
  fold(*net.conv1, *net.bn1);
  for (auto* layer : {&net.layer1, &net.layer2, &net.layer3, &net.layer4})
    for (auto& child : (*layer)->children()) {
      auto fold_ds = [](tnn::Sequential& ds) {
        if (ds) fold(*ds[0]->as<tnn::Conv2dImpl>(), *ds[1]->as<tnn::BatchNorm2dImpl>());
      };
      if (auto* b = child->as<BasicBlockImpl>()) {
        fold(*b->conv1, *b->bn1);
        fold(*b->conv2, *b->bn2);
        fold_ds(b->downsample);
        b->folded = true;
      } else if (auto* b = child->as<BottleneckImpl>()) {
        fold(*b->conv1, *b->bn1);
        fold(*b->conv2, *b->bn2);
        fold(*b->conv3, *b->bn3);
        fold_ds(b->downsample);
        b->folded = true;
      }
    }
  net.folded = true;
}

namespace {
// A block's ops from `x`: conv-bn(-relu) stages, the shortcut, the residual sum and its ReLU.
std::string emit_block(TorchScriptEmitter& e, const std::string& key, const std::vector<tnn::Conv2dImpl*>& convs,
                       const std::vector<tnn::BatchNorm2dImpl*>& bns, tnn::Sequential& downsample,
                       const std::string& x) {
  std::string out = x;
  for (size_t i = 0; i < convs.size(); ++i) {
    const std::string n = std::to_string(i + 1);
    out = e.bn(key + ".bn" + n, *bns[i], e.conv(key + ".conv" + n, *convs[i], out));
    if (i + 1 < convs.size()) out = e.call("torch.relu(" + out + ")");
  }
  std::string identity = x;
  if (downsample)
    identity = e.bn(key + ".downsample.1", *downsample[1]->as<tnn::BatchNorm2dImpl>(),
                    e.conv(key + ".downsample.0", *downsample[0]->as<tnn::Conv2dImpl>(), x));
  return e.call("torch.relu(" + out + " + " + identity + ")");
}
}  // namespace

std::string ResNetImpl::emit_torchscript(TorchScriptEmitter& e, std::string* pooled) {
  if (folded) fail_invalid("internal: a network with folded batch norms cannot be converted to TorchScript");
  std::string x = e.call("torch.relu(" + e.bn("bn1", *bn1, e.conv("conv1", *conv1, "x")) + ")");
  x = e.call("torch.max_pool2d(" + x + ", [3, 3], [2, 2], [1, 1], [1, 1], False)");
  tnn::Sequential layers[4] = {layer1, layer2, layer3, layer4};
  for (int l = 0; l < 4; ++l) {
    const auto& children = layers[l]->children();
    for (size_t b = 0; b < children.size(); ++b) {
      const std::string key = "layer" + std::to_string(l + 1) + "." + std::to_string(b);
      if (auto* bb = children[b]->as<BasicBlockImpl>())
        x = emit_block(e, key, {bb->conv1.get(), bb->conv2.get()}, {bb->bn1.get(), bb->bn2.get()}, bb->downsample, x);
      else if (auto* bt = children[b]->as<BottleneckImpl>())
        x = emit_block(e, key, {bt->conv1.get(), bt->conv2.get(), bt->conv3.get()},
                       {bt->bn1.get(), bt->bn2.get(), bt->bn3.get()}, bt->downsample, x);
    }
  }
  x = e.call("torch.flatten(torch.adaptive_avg_pool2d(" + x + ", [1, 1]), 1)");
  if (pooled) *pooled = x;
  return e.linear("fc", *fc, x);
}

}  // namespace medai::nn
