#include "medai/nn/nets/gan.h"

#include <torch/torch.h>

#include <cmath>
#include <string>

#include "medai/core/error.h"

namespace medai::nn {

namespace tnn = torch::nn;
namespace F = torch::nn::functional;

namespace {

int64_t stages(int64_t size) { return static_cast<int64_t>(std::lround(std::log2(static_cast<double>(size) / 4))); }

// Channels at each resolution from 4 px upwards: 8w, 4w, 2w, w, w, ...
int64_t channels_at(int64_t width, int64_t level) { return width * std::max<int64_t>(1, 8 >> level); }

}  // namespace

void check_gan_options(const GanOptions& o) {
  if (o.image_size != 64 && o.image_size != 128)
    fail_invalid("--size " + std::to_string(o.image_size) + ": the GAN generates 64 or 128 px images");
  if (o.classes < 1 || o.classes > 64) fail_invalid("GAN classes must be 1..64");
  if (o.z_dim < 8 || o.z_dim > 1024) fail_invalid("--z-dim must be 8..1024");
  if (o.width < 8 || o.width > 256) fail_invalid("--width must be 8..256 channels");
}

SpectralNormImpl::SpectralNormImpl(int64_t rows) {
  u = register_buffer("u", F::normalize(torch::randn({rows}), F::NormalizeFuncOptions().dim(0)));
}

torch::Tensor SpectralNormImpl::normalise(const torch::Tensor& weight) {
  const auto w = weight.reshape({weight.size(0), -1});
  torch::Tensor v;
  {
    torch::NoGradGuard ng;
    const auto opts = F::NormalizeFuncOptions().dim(0).eps(1e-12);
    v = F::normalize(torch::mv(w.t(), u), opts);
    if (is_training()) {
      u.copy_(F::normalize(torch::mv(w, v), opts));
      v = F::normalize(torch::mv(w.t(), u), opts);
    }
  }
  // u changes in place at the next forward; the graph keeps this step's copy (as PyTorch does).
  const auto sigma = torch::dot(u.clone(), torch::mv(w, v));
  return weight / sigma;
}

SNConv2dImpl::SNConv2dImpl(int64_t in, int64_t out, int64_t kernel, int64_t s, int64_t p) : stride(s), padding(p) {
  tnn::Conv2d init(tnn::Conv2dOptions(in, out, kernel));  // PyTorch's default (Kaiming-uniform) initialisation
  weight = register_parameter("weight", init->weight.detach().clone());
  bias = register_parameter("bias", torch::zeros({out}));
  sn = register_module("sn", SpectralNorm(out));
}

torch::Tensor SNConv2dImpl::forward(const torch::Tensor& x) {
  return F::conv2d(x, sn->normalise(weight), F::Conv2dFuncOptions().bias(bias).stride(stride).padding(padding));
}

GeneratorImpl::GeneratorImpl(const GanOptions& o) : options(o) {
  check_gan_options(o);
  const int64_t n = stages(o.image_size);
  int64_t in_dim = o.z_dim;
  if (o.classes > 1) {
    embed = register_module("embed", tnn::Embedding(o.classes, o.z_dim));
    in_dim += o.z_dim;
  }
  const int64_t c0 = channels_at(o.width, 0);
  project = register_module("project", tnn::Linear(tnn::LinearOptions(in_dim, c0 * 16).bias(false)));
  project_bn = register_module("project_bn", tnn::BatchNorm2d(c0));
  int64_t c = c0;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t next = channels_at(o.width, k + 1);
    up.push_back(register_module(
        "up" + std::to_string(k),
        tnn::ConvTranspose2d(tnn::ConvTranspose2dOptions(c, next, 4).stride(2).padding(1).bias(false))));
    bn.push_back(register_module("bn" + std::to_string(k), tnn::BatchNorm2d(next)));
    c = next;
  }
  out = register_module("out", tnn::Conv2d(tnn::Conv2dOptions(c, 1, 3).padding(1)));
  for (auto& p : named_parameters())
    if (p.key().find("up") == 0 || p.key().find("project.") == 0) tnn::init::normal_(p.value(), 0.0, 0.02);
}

torch::Tensor GeneratorImpl::forward(const torch::Tensor& z, const torch::Tensor& labels) {
  auto h = z;
  if (embed) h = torch::cat({z, embed(labels)}, 1);
  h = torch::relu(project_bn(project(h).view({z.size(0), -1, 4, 4})));
  for (size_t k = 0; k < up.size(); ++k) h = torch::relu(bn[k](up[k](h)));
  return torch::tanh(out(h));
}

DiscriminatorImpl::DiscriminatorImpl(const GanOptions& o) : options(o) {
  check_gan_options(o);
  const int64_t n = stages(o.image_size);
  int64_t c = 1;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t next = channels_at(o.width, n - 1 - k);
    down.push_back(register_module("down" + std::to_string(k), SNConv2d(c, next, 4, 2, 1)));
    c = next;
  }
  tnn::Linear init(tnn::LinearOptions(c + 1, 1));  // + the minibatch standard deviation
  head_weight = register_parameter("head_weight", init->weight.detach().clone());
  head_bias = register_parameter("head_bias", torch::zeros({1}));
  head_sn = register_module("head_sn", SpectralNorm(1));
  if (o.classes > 1) {
    embed = register_module("embed", tnn::Embedding(o.classes, c));
    tnn::init::normal_(embed->weight, 0.0, 0.02);
  }
}

torch::Tensor DiscriminatorImpl::forward(const torch::Tensor& x, const torch::Tensor& labels) {
  auto h = x;
  for (auto& d : down) h = F::leaky_relu(d(h), F::LeakyReLUFuncOptions().negative_slope(0.2));
  // Minibatch standard deviation (Karras et al. 2018): how varied the batch is, as one more
  // feature, so a generator that ignores its noise is easy to reject.
  const auto spread = (h.var(0, false) + 1e-8).sqrt().mean().expand({h.size(0), 1});
  h = h.sum({2, 3});  // N x C
  auto score = F::linear(torch::cat({h, spread}, 1), head_sn->normalise(head_weight), head_bias).squeeze(1);
  if (embed) score = score + (embed(labels) * h).sum(1);
  return score;
}

torch::Tensor diff_augment(const torch::Tensor& x) {
  const int64_t n = x.size(0), s = x.size(2);
  const auto opts = x.options();
  auto y = x + (torch::rand({n, 1, 1, 1}, opts) - 0.5);
  const auto mean = y.mean({1, 2, 3}, true);
  y = (y - mean) * (torch::rand({n, 1, 1, 1}, opts) + 0.5) + mean;
  // Translation by whole pixels: an affine grid sampled with nearest neighbours, zeros outside.
  const int64_t shift = std::max<int64_t>(1, s / 8);
  const auto t = torch::randint(-shift, shift + 1, {n, 2}, opts) * (2.0 / static_cast<double>(s));
  auto theta = torch::zeros({n, 2, 3}, opts);
  theta.select(2, 0).select(1, 0).fill_(1);
  theta.select(2, 1).select(1, 1).fill_(1);
  theta.select(2, 2).copy_(t);
  const auto grid = F::affine_grid(theta, {n, 1, s, s}, false);
  y = F::grid_sample(y, grid,
                     F::GridSampleFuncOptions().mode(torch::kNearest).padding_mode(torch::kZeros).align_corners(false));
  // Cutout: a square of half the side set to zero at a random centre.
  const int64_t half = s / 4;
  const auto cy = torch::randint(0, s, {n, 1, 1}, opts), cx = torch::randint(0, s, {n, 1, 1}, opts);
  const auto r = torch::arange(s, opts);
  const auto inside = ((r.view({1, s, 1}) - cy).abs() < half) & ((r.view({1, 1, s}) - cx).abs() < half);
  return y * (~inside).unsqueeze(1).to(opts.dtype());
}

torch::Tensor hinge_d_loss(const torch::Tensor& real_scores, const torch::Tensor& fake_scores) {
  return torch::relu(1 - real_scores).mean() + torch::relu(1 + fake_scores).mean();
}

torch::Tensor hinge_g_loss(const torch::Tensor& fake_scores) { return -fake_scores.mean(); }

torch::Tensor mode_seeking_loss(const torch::Tensor& images, const torch::Tensor& z) {
  const int64_t h = images.size(0) / 2;
  if (h == 0) fail_invalid("mode_seeking_loss: needs a batch of at least 2");
  const auto gap = (images.narrow(0, 0, h) - images.narrow(0, h, h)).abs().mean() /
                   (z.narrow(0, 0, h) - z.narrow(0, h, h)).abs().mean();
  return 1.0 / (gap + 1e-5);
}

}  // namespace medai::nn
