#pragma once
// A class-conditional DCGAN for 64 or 128 px grayscale images (Radford et al. 2016): the generator
// maps noise z and a class to an image in [-1, 1] through transposed convolutions with batch
// norm; the discriminator is a strided convolution stack with spectral normalisation (Miyato et
// al. 2018), a minibatch standard-deviation feature (Karras et al. 2018; against mode collapse)
// and a projection head for the class (Miyato & Koyama 2018), trained with the hinge loss. DiffAugment (Zhao et al.
// 2020) perturbs real and generated images alike before the discriminator, so it cannot memorise a small training set.
#include <torch/nn.h>

#include <cstdint>
#include <vector>

namespace medai::nn {

struct GanOptions {
  int64_t image_size = 64;  // 64 or 128 pixels per side
  int64_t classes = 1;      // 1 = unconditional
  int64_t z_dim = 128;      // noise dimensions
  int64_t width = 32;       // channels of the discriminator's first (generator's last) stage
};
// InvalidInput naming the option when a size is not 64/128 or a width/class count is out of range.
void check_gan_options(const GanOptions& o);

// Convolution or linear weight divided by its largest singular value, estimated by one power
// iteration per training forward (the vector u is a buffer, so it is saved and resumed).
struct SpectralNormImpl : torch::nn::Module {
  explicit SpectralNormImpl(int64_t rows);
  torch::Tensor normalise(const torch::Tensor& weight);  // weight: rows x ... (flattened to rows x cols)
  torch::Tensor u;
};
TORCH_MODULE(SpectralNorm);

struct SNConv2dImpl : torch::nn::Module {
  SNConv2dImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;
  SpectralNorm sn{nullptr};
  int64_t stride, padding;
};
TORCH_MODULE(SNConv2d);

struct GeneratorImpl : torch::nn::Module {
  explicit GeneratorImpl(const GanOptions& options);
  // z: N x z_dim, labels: N (int64, ignored when unconditional) -> N x 1 x S x S in [-1, 1].
  torch::Tensor forward(const torch::Tensor& z, const torch::Tensor& labels);
  GanOptions options;
  torch::nn::Embedding embed{nullptr};
  torch::nn::Linear project{nullptr};
  torch::nn::BatchNorm2d project_bn{nullptr};
  std::vector<torch::nn::ConvTranspose2d> up;
  std::vector<torch::nn::BatchNorm2d> bn;
  torch::nn::Conv2d out{nullptr};
};
TORCH_MODULE(Generator);

struct DiscriminatorImpl : torch::nn::Module {
  explicit DiscriminatorImpl(const GanOptions& options);
  // x: N x 1 x S x S in [-1, 1] -> N scores (higher = real); N >= 2 (the batch's spread is a feature).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& labels);
  GanOptions options;
  std::vector<SNConv2d> down;
  torch::Tensor head_weight, head_bias;  // N x C features -> 1, spectrally normalised
  SpectralNorm head_sn{nullptr};
  torch::nn::Embedding embed{nullptr};  // projection of the class onto the features
};
TORCH_MODULE(Discriminator);

// DiffAugment for grayscale: random brightness and contrast, translation by up to 1/8 of the side
// (zero fill) and a cutout of half the side, drawn per image from torch's generator;
// differentiable with respect to x.
torch::Tensor diff_augment(const torch::Tensor& x);

// Hinge losses: the discriminator's relu(1 - D(real)) + relu(1 + D(fake)), the generator's -D(fake).
torch::Tensor hinge_d_loss(const torch::Tensor& real_scores, const torch::Tensor& fake_scores);
torch::Tensor hinge_g_loss(const torch::Tensor& fake_scores);

// Mode-seeking regulariser (Mao et al. 2019, MSGAN) for a batch whose two halves share their
// labels: 1 / (mean |G(z1) - G(z2)| / mean |z1 - z2| + 1e-5), added to the generator's loss. A
// conditional generator that ignores its noise (one image per class) makes it large.
torch::Tensor mode_seeking_loss(const torch::Tensor& images, const torch::Tensor& z);

}  // namespace medai::nn
