#pragma once
// `medai gan train`: a (class-conditional) DCGAN on a folder or CSV of grayscale images, through
// the shared Trainer (progress, resume, curves), with a sample grid per epoch from fixed noise,
// the generator's moving average kept, and a feature network trained on the same real images
// for medai gan evaluate.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace medai::synthesis {

struct GanTrainOptions {
  std::filesystem::path data, out;
  std::string split;  // CSV 'split' filter (empty = every row)
  int image_size = 64;
  bool conditional = false;
  int epochs = 60;
  int batch_size = 32;
  // Two time-scale rule (Heusel et al. 2017). With 2e-4 for the generator the discriminator of a
  // 64 px X-ray GAN sat at chance (hinge loss 2.0) and the generator ignored its noise.
  double lr_generator = 5e-5, lr_discriminator = 4e-4;
  double beta1 = 0.0, beta2 = 0.99;  // Adam, as in the hinge/spectral-norm GAN recipes
  int z_dim = 128;
  int width = 32;
  double ema = 0.999;  // decay of the generator's moving average
  bool diff_augment = true;
  double mode_seeking = 1.0;  // weight of nn::mode_seeking_loss (0 = off)
  uint64_t seed = 1;
  bool resume = false;
  bool progress = true;
  int feature_epochs = 4;         // the feature network's epochs (0 = none: evaluate needs --features)
  int max_batches_per_epoch = 0;  // 0 = all (smoke tests)
};

// Trains and writes the run folder; returns the model card.
nlohmann::json train_gan(const GanTrainOptions& options);

}  // namespace medai::synthesis
