#include "medai/imaging/torchscript_interop.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <map>
#include <set>
#include <sstream>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/nn/nets/densenet.h"
#include "medai/nn/nets/resnet.h"

namespace medai::imaging {

namespace fs = std::filesystem;
namespace tnn = torch::nn;

namespace {

std::string attr_name(const std::string& key) {
  std::string s;
  for (char c : key) s += c == '.' ? std::string("__") : std::string(1, c);
  return s;
}

// Writes TorchScript source for the network, op by op, with every tensor as an attribute.
class Emitter {
 public:
  explicit Emitter(torch::jit::Module& m) : m_(m) {}
  std::string fresh() { return "t" + std::to_string(n_++); }
  void line(const std::string& s) { code_ << "        " << s << "\n"; }
  std::string tensor(const std::string& key, const torch::Tensor& t, bool buffer) {
    std::string a = attr_name(key);
    m_.register_parameter(a, t.detach().contiguous().clone(), buffer);
    return "self." + a;
  }
  std::string conv(const std::string& key, tnn::Conv2dImpl& c, const std::string& x) {
    int64_t k = (*c.options.kernel_size())[0], s = (*c.options.stride())[0], p = k / 2;
    std::string w = tensor(key + ".weight", c.weight, false), y = fresh();
    std::string b = c.options.bias() ? tensor(key + ".bias", c.bias, false) : "None";
    line(y + " = torch.conv2d(" + x + ", " + w + ", " + b + ", [" + std::to_string(s) + ", " + std::to_string(s) +
         "], [" + std::to_string(p) + ", " + std::to_string(p) + "], [1, 1], 1)");
    return y;
  }
  std::string bn(const std::string& key, tnn::BatchNorm2dImpl& b, const std::string& x) {
    std::string w = tensor(key + ".weight", b.weight, false), bias = tensor(key + ".bias", b.bias, false);
    std::string rm = tensor(key + ".running_mean", b.running_mean, true);
    std::string rv = tensor(key + ".running_var", b.running_var, true);
    std::string y = fresh();
    std::ostringstream eps;
    eps << b.options.eps();
    line(y + " = torch.batch_norm(" + x + ", " + w + ", " + bias + ", " + rm + ", " + rv + ", False, 0.1, " +
         eps.str() + ", False)");
    return y;
  }
  std::string call(const std::string& expr) {
    std::string y = fresh();
    line(y + " = " + expr);
    return y;
  }
  std::string linear(const std::string& key, tnn::LinearImpl& l, const std::string& x) {
    return call("torch.linear(" + x + ", " + tensor(key + ".weight", l.weight, false) + ", " +
                tensor(key + ".bias", l.bias, false) + ")");
  }
  void define(const std::string& result) {
    m_.define("def forward(self, x):\n" + code_.str() + "        return " + result + "\n");
  }

 private:
  torch::jit::Module& m_;
  std::ostringstream code_;
  int n_ = 0;
};

std::string emit_resnet(Emitter& e, nn::ResNetImpl& r) {
  std::string x = e.call("torch.relu(" + e.bn("bn1", *r.bn1, e.conv("conv1", *r.conv1, "x")) + ")");
  x = e.call("torch.max_pool2d(" + x + ", [3, 3], [2, 2], [1, 1], [1, 1], False)");
  tnn::Sequential layers[4] = {r.layer1, r.layer2, r.layer3, r.layer4};
  for (int l = 0; l < 4; ++l) {
    const auto& children = layers[l]->children();
    for (size_t b = 0; b < children.size(); ++b) {
      std::string key = "layer" + std::to_string(l + 1) + "." + std::to_string(b);
      std::string out, identity = x;
      tnn::Sequential ds{nullptr};
      if (auto* bb = children[b]->as<nn::BasicBlockImpl>()) {
        out = e.call("torch.relu(" + e.bn(key + ".bn1", *bb->bn1, e.conv(key + ".conv1", *bb->conv1, x)) + ")");
        out = e.bn(key + ".bn2", *bb->bn2, e.conv(key + ".conv2", *bb->conv2, out));
        ds = bb->downsample;
      } else if (auto* bt = children[b]->as<nn::BottleneckImpl>()) {
        out = e.call("torch.relu(" + e.bn(key + ".bn1", *bt->bn1, e.conv(key + ".conv1", *bt->conv1, x)) + ")");
        out = e.call("torch.relu(" + e.bn(key + ".bn2", *bt->bn2, e.conv(key + ".conv2", *bt->conv2, out)) + ")");
        out = e.bn(key + ".bn3", *bt->bn3, e.conv(key + ".conv3", *bt->conv3, out));
        ds = bt->downsample;
      }
      if (ds) {
        auto* c = ds[0]->as<tnn::Conv2dImpl>();
        auto* n = ds[1]->as<tnn::BatchNorm2dImpl>();
        identity = e.bn(key + ".downsample.1", *n, e.conv(key + ".downsample.0", *c, x));
      }
      x = e.call("torch.relu(" + out + " + " + identity + ")");
    }
  }
  x = e.call("torch.flatten(torch.adaptive_avg_pool2d(" + x + ", [1, 1]), 1)");
  return e.linear("fc", *r.fc, x);
}

std::string emit_densenet(Emitter& e, nn::DenseNetImpl& d) {
  auto& f = *d.features_;
  std::string x =
      e.call("torch.relu(" + e.bn("features.norm0", *f.norm0, e.conv("features.conv0", *f.conv0, "x")) + ")");
  x = e.call("torch.max_pool2d(" + x + ", [3, 3], [2, 2], [1, 1], [1, 1], False)");
  for (size_t bi = 0; bi < f.blocks.size(); ++bi) {
    std::string bkey = "features.denseblock" + std::to_string(bi + 1);
    std::vector<std::string> feats{x};
    for (size_t li = 0; li < f.blocks[bi]->layers.size(); ++li) {
      auto& L = *f.blocks[bi]->layers[li];
      std::string key = bkey + ".denselayer" + std::to_string(li + 1);
      std::string list;
      for (const auto& s : feats) list += (list.empty() ? "" : ", ") + s;
      std::string in = e.call("torch.cat([" + list + "], 1)");
      std::string y = e.call("torch.relu(" + e.bn(key + ".norm1", *L.norm1, in) + ")");
      y = e.call("torch.relu(" + e.bn(key + ".norm2", *L.norm2, e.conv(key + ".conv1", *L.conv1, y)) + ")");
      feats.push_back(e.conv(key + ".conv2", *L.conv2, y));
    }
    std::string list;
    for (const auto& s : feats) list += (list.empty() ? "" : ", ") + s;
    x = e.call("torch.cat([" + list + "], 1)");
    if (bi < f.transitions.size()) {
      auto& T = *f.transitions[bi];
      std::string tkey = "features.transition" + std::to_string(bi + 1);
      x = e.call("torch.relu(" + e.bn(tkey + ".norm", *T.norm, x) + ")");
      x = e.call("torch.avg_pool2d(" + e.conv(tkey + ".conv", *T.conv, x) + ", [2, 2], [2, 2])");
    }
  }
  x = e.call("torch.relu(" + e.bn("features.norm5", *f.norm5, x) + ")");
  x = e.call("torch.flatten(torch.adaptive_avg_pool2d(" + x + ", [1, 1]), 1)");
  return e.linear("classifier", *d.classifier, x);
}

torch::jit::Module to_torchscript(nn::ClassifierNetImpl& net) {
  torch::NoGradGuard ng;
  if (auto* r = dynamic_cast<nn::ResNetImpl*>(&net); r && r->folded)
    fail_invalid("internal: a network with folded batch norms cannot be converted to TorchScript");
  torch::jit::Module m("__torch__.medai." + net.architecture());
  Emitter e(m);
  std::string result;
  if (auto* r = dynamic_cast<nn::ResNetImpl*>(&net)) result = emit_resnet(e, *r);
  else if (auto* d = dynamic_cast<nn::DenseNetImpl*>(&net)) result = emit_densenet(e, *d);
  else fail_unsupported("TorchScript export of architecture '" + net.architecture() + "'");
  e.define(result);
  m.eval();
  return m;
}

}  // namespace

void export_torchscript(nn::ClassifierNetImpl& net, const fs::path& out) {
  torch::jit::Module m = to_torchscript(net);
  core::write_atomic_with(out, [&](const fs::path& tmp) { m.save(tmp.string()); });
}

struct OptimizedClassifier::Impl {
  torch::jit::Module module;
};

OptimizedClassifier::OptimizedClassifier(nn::ClassifierNetImpl& net, int64_t in_channels, int size)
    : impl_(std::make_unique<Impl>()) {
  // Through the serialised form, as a PyTorch user would: the loaded module is what
  // optimize_for_inference rewrites fully (every conv/batch-norm into prepacked oneDNN ops).
  std::stringstream buffer;
  to_torchscript(net).save(buffer);
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
  return impl_->module.forward({batch.contiguous()}).toTensor();
}

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
