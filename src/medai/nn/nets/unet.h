#pragma once
// 2-D U-Net (Ronneberger et al. 2015) for binary or multi-class segmentation: an encoder of
// `depth` stages (two 3x3 conv-BN-ReLU each, optionally residual), max-pool between them, a
// decoder of transposed-convolution upsampling + skip concatenation, and a 1x1 head giving one
// logit map per output channel. Input sides must be multiples of 2^(depth-1)
// (segmentation/segmenter.h pads and tiles larger inputs).
#include <torch/nn.h>

#include <vector>

namespace medai::nn {

struct UNetOptions {
  UNetOptions(int64_t in_channels, int64_t out_channels) : in_channels_(in_channels), out_channels_(out_channels) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, width) = 16;     // channels of the first stage; doubled at each stage down
  TORCH_ARG(int64_t, depth) = 4;      // stages, including the bottleneck
  TORCH_ARG(bool, residual) = false;  // residual encoder blocks (1x1 projection on the skip)
};

struct UNetBlockImpl : torch::nn::Module {
  UNetBlockImpl(int64_t in, int64_t out, bool residual);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, project{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  bool residual;
};
TORCH_MODULE(UNetBlock);

struct UNetImpl : torch::nn::Module {
  explicit UNetImpl(const UNetOptions& options);
  torch::Tensor forward(const torch::Tensor& x);                            // N x in x H x W -> N x out x H x W logits
  int64_t multiple() const { return int64_t{1} << (options.depth() - 1); }  // of the input sides
  UNetOptions options;
  std::vector<UNetBlock> encoder, decoder;
  std::vector<torch::nn::ConvTranspose2d> up;
  torch::nn::Conv2d head{nullptr};
};
TORCH_MODULE(UNet);

}  // namespace medai::nn
