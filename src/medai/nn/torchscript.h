#pragma once
// TorchScript export of medai's networks. Each network writes its own forward pass as TorchScript
// source, op by op, through a TorchScriptEmitter (`emit_torchscript` next to its forward()); the
// emitter registers every tensor as an attribute named after the PyTorch state_dict key with '.'
// written as '__', so torch.jit.load in python3-torch runs the file with the same outputs.
#include <torch/types.h>

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace torch::nn {
class Conv2dImpl;
class BatchNorm2dImpl;
class LinearImpl;
class LSTMImpl;
}  // namespace torch::nn

namespace medai::nn {

class TorchScriptEmitter {
 public:
  ~TorchScriptEmitter();
  TorchScriptEmitter(const TorchScriptEmitter&) = delete;
  TorchScriptEmitter& operator=(const TorchScriptEmitter&) = delete;

  // Each returns the name of the variable holding the result.
  std::string call(const std::string& expression);                                  // y = expression
  std::string tensor(const std::string& key, const torch::Tensor& t, bool buffer);  // self.<key>
  std::string conv(const std::string& key, torch::nn::Conv2dImpl& c, const std::string& x);
  std::string bn(const std::string& key, torch::nn::BatchNorm2dImpl& b, const std::string& x);
  std::string linear(const std::string& key, torch::nn::LinearImpl& l, const std::string& x);
  // Batch-first LSTM from zero state; the output sequence (N x T x H).
  std::string lstm(const std::string& key, torch::nn::LSTMImpl& l, const std::string& x);
  // "a, b, c" for a list of variables.
  static std::string join(const std::vector<std::string>& names);

 private:
  explicit TorchScriptEmitter(const std::string& module_name);
  friend void save_torchscript(const std::string&, const std::function<std::string(TorchScriptEmitter&)>&,
                               std::ostream&);
  std::string fresh();
  void line(const std::string& s);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A network's forward pass: given the emitter, emits the ops reading the input `x` and returns
// the variable holding the output.
using EmitForward = std::function<std::string(TorchScriptEmitter&)>;

// Writes the module `__torch__.medai.<name>` with one forward(self, x) to a stream or (atomically)
// to a file.
void save_torchscript(const std::string& name, const EmitForward& emit, std::ostream& out);
void save_torchscript(const std::string& name, const EmitForward& emit, const std::filesystem::path& out);

// For a network with `std::string emit_torchscript(TorchScriptEmitter&)`.
template <class Net>
void export_torchscript(Net& net, const std::string& name, const std::filesystem::path& out) {
  save_torchscript(
      name, [&net](TorchScriptEmitter& e) { return net.emit_torchscript(e); }, out);
}

}  // namespace medai::nn
