#include "medai/nn/torchscript.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <fstream>
#include <sstream>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"

namespace medai::nn {

namespace fs = std::filesystem;

struct TorchScriptEmitter::Impl {
  explicit Impl(const std::string& name) : module("__torch__.medai." + name) {}
  torch::jit::Module module;
  std::ostringstream code;
  int next = 0;
};

TorchScriptEmitter::TorchScriptEmitter(const std::string& module_name) : impl_(std::make_unique<Impl>(module_name)) {}
TorchScriptEmitter::~TorchScriptEmitter() = default;

std::string TorchScriptEmitter::fresh() { return "t" + std::to_string(impl_->next++); }
void TorchScriptEmitter::line(const std::string& s) { impl_->code << "        " << s << "\n"; }

std::string TorchScriptEmitter::join(const std::vector<std::string>& names) {
  std::string list;
  for (const auto& s : names) list += (list.empty() ? "" : ", ") + s;
  return list;
}

std::string TorchScriptEmitter::call(const std::string& expression) {
  std::string y = fresh();
  line(y + " = " + expression);
  return y;
}

std::string TorchScriptEmitter::tensor(const std::string& key, const torch::Tensor& t, bool buffer) {
  std::string a;
  for (char c : key) a += c == '.' ? std::string("__") : std::string(1, c);
  impl_->module.register_parameter(a, t.detach().contiguous().clone(), buffer);
  return "self." + a;
}

std::string TorchScriptEmitter::conv(const std::string& key, torch::nn::Conv2dImpl& c, const std::string& x) {
  const int64_t k = (*c.options.kernel_size())[0], s = (*c.options.stride())[0], p = k / 2;
  const std::string w = tensor(key + ".weight", c.weight, false);
  const std::string b = c.options.bias() ? tensor(key + ".bias", c.bias, false) : "None";
  const std::string stride = std::to_string(s), pad = std::to_string(p);
  return call("torch.conv2d(" + x + ", " + w + ", " + b + ", [" + stride + ", " + stride + "], [" + pad + ", " + pad +
              "], [1, 1], 1)");
}

std::string TorchScriptEmitter::bn(const std::string& key, torch::nn::BatchNorm2dImpl& b, const std::string& x) {
  const std::string w = tensor(key + ".weight", b.weight, false), bias = tensor(key + ".bias", b.bias, false);
  const std::string rm = tensor(key + ".running_mean", b.running_mean, true);
  const std::string rv = tensor(key + ".running_var", b.running_var, true);
  std::ostringstream eps;
  eps << b.options.eps();
  return call("torch.batch_norm(" + x + ", " + w + ", " + bias + ", " + rm + ", " + rv + ", False, 0.1, " + eps.str() +
              ", False)");
}

std::string TorchScriptEmitter::linear(const std::string& key, torch::nn::LinearImpl& l, const std::string& x) {
  return call("torch.linear(" + x + ", " + tensor(key + ".weight", l.weight, false) + ", " +
              tensor(key + ".bias", l.bias, false) + ")");
}

std::string TorchScriptEmitter::lstm(const std::string& key, torch::nn::LSTMImpl& l, const std::string& x) {
  const auto& o = l.options;
  if (!o.batch_first() || o.bidirectional() || o.proj_size() != 0 || !o.bias())
    fail_unsupported("TorchScript export of an LSTM: only a batch-first, one-directional LSTM with biases");
  const auto params = l.named_parameters(false);
  std::vector<std::string> weights;
  for (int64_t layer = 0; layer < o.num_layers(); ++layer)
    for (const char* kind : {"weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l"}) {
      const std::string name = kind + std::to_string(layer);
      weights.push_back(tensor(key + "." + name, params[name], false));
    }
  const std::string shape =
      "[" + std::to_string(o.num_layers()) + ", " + x + ".size(0), " + std::to_string(o.hidden_size()) + "]";
  const std::string h0 = call("torch.zeros(" + shape + ", dtype=" + x + ".dtype, device=" + x + ".device)");
  const std::string c0 = call("torch.zeros(" + shape + ", dtype=" + x + ".dtype, device=" + x + ".device)");
  const std::string out = fresh(), hn = fresh(), cn = fresh();
  // Evaluation semantics: no dropout between layers (train=False).
  line(out + ", " + hn + ", " + cn + " = torch.lstm(" + x + ", [" + h0 + ", " + c0 + "], [" + join(weights) +
       "], True, " + std::to_string(o.num_layers()) + ", 0.0, False, False, True)");
  return out;
}

void save_torchscript(const std::string& name, const EmitForward& emit, std::ostream& out) {
  torch::NoGradGuard ng;
  TorchScriptEmitter e(name);
  const std::string result = emit(e);
  e.impl_->module.define("def forward(self, x):\n" + e.impl_->code.str() + "        return " + result + "\n");
  e.impl_->module.eval();
  e.impl_->module.save(out);
}

void save_torchscript(const std::string& name, const EmitForward& emit, const fs::path& out) {
  core::write_atomic_with(out, [&](const fs::path& tmp) {
    std::ofstream f(tmp, std::ios::binary);
    save_torchscript(name, emit, f);
    f.close();
    if (!f) fail_io(tmp.string() + ": cannot write the TorchScript file");
  });
}

}  // namespace medai::nn
