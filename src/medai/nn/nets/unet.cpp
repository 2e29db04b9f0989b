#include "medai/nn/nets/unet.h"

#include <torch/torch.h>

#include "medai/core/error.h"

namespace medai::nn {

namespace tnn = torch::nn;

UNetBlockImpl::UNetBlockImpl(int64_t in, int64_t out, bool res)
    : conv1(register_module("conv1", tnn::Conv2d(tnn::Conv2dOptions(in, out, 3).padding(1).bias(false)))),
      conv2(register_module("conv2", tnn::Conv2d(tnn::Conv2dOptions(out, out, 3).padding(1).bias(false)))),
      bn1(register_module("bn1", tnn::BatchNorm2d(out))),
      bn2(register_module("bn2", tnn::BatchNorm2d(out))),
      residual(res) {
  if (residual) project = register_module("project", tnn::Conv2d(tnn::Conv2dOptions(in, out, 1).bias(false)));
}

torch::Tensor UNetBlockImpl::forward(const torch::Tensor& x) {
  auto y = bn2(conv2(torch::relu(bn1(conv1(x)))));
  if (residual) y = y + project(x);
  return torch::relu(y);
}

UNetImpl::UNetImpl(const UNetOptions& o) : options(o) {
  if (o.depth() < 2 || o.depth() > 6) fail_invalid("U-Net depth must be 2..6 stages");
  if (o.width() < 2 || o.width() > 256) fail_invalid("U-Net width must be 2..256 channels");
  if (o.in_channels() < 1 || o.out_channels() < 1) fail_invalid("U-Net needs input and output channels");
  int64_t in = o.in_channels();
  for (int64_t d = 0; d < o.depth(); ++d) {
    const int64_t out = o.width() << d;
    encoder.push_back(register_module("encoder" + std::to_string(d), UNetBlock(in, out, o.residual())));
    in = out;
  }
  for (int64_t d = o.depth() - 2; d >= 0; --d) {
    const int64_t out = o.width() << d;
    up.push_back(register_module("up" + std::to_string(d),
                                 tnn::ConvTranspose2d(tnn::ConvTranspose2dOptions(in, out, 2).stride(2))));
    decoder.push_back(register_module("decoder" + std::to_string(d), UNetBlock(2 * out, out, false)));
    in = out;
  }
  head = register_module("head", tnn::Conv2d(tnn::Conv2dOptions(in, o.out_channels(), 1)));
}

torch::Tensor UNetImpl::forward(const torch::Tensor& x) {
  if (x.dim() != 4 || x.size(1) != options.in_channels() || x.size(2) % multiple() != 0 || x.size(3) % multiple() != 0)
    fail_invalid("U-Net input must be N x " + std::to_string(options.in_channels()) +
                 " x H x W with H and W multiples of " + std::to_string(multiple()));
  std::vector<torch::Tensor> skips;
  auto y = x;
  for (size_t d = 0; d < encoder.size(); ++d) {
    if (d > 0) y = torch::max_pool2d(y, 2);
    y = encoder[d]->forward(y);
    skips.push_back(y);
  }
  for (size_t k = 0; k < decoder.size(); ++k) {
    y = up[k]->forward(y);
    y = decoder[k]->forward(torch::cat({y, skips[skips.size() - 2 - k]}, 1));
  }
  return head->forward(y);
}

}  // namespace medai::nn
