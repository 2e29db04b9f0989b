// The GAN's networks, DiffAugment and the distances medai gan evaluate reports.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <opencv2/core.hpp>

#include "medai/core/error.h"
#include "medai/data/split.h"
#include "medai/io/image.h"
#include "medai/metrics/feature_distances.h"
#include "medai/nn/nets/gan.h"

namespace medai {
namespace {

TEST(Gan, GeneratorAndDiscriminatorShapesAt64And128) {
  torch::manual_seed(0);
  for (int64_t size : {64, 128}) {
    nn::GanOptions o{size, 3, 16, 8};
    nn::Generator g(o);
    nn::Discriminator d(o);
    const auto y = torch::tensor({0, 1, 2, 1}, torch::kLong);
    const auto x = g->forward(torch::randn({4, 16}), y);
    EXPECT_EQ(x.sizes(), torch::IntArrayRef({4, 1, size, size}));
    EXPECT_LE(x.abs().max().item<float>(), 1.0f);
    EXPECT_EQ(d->forward(x, y).sizes(), torch::IntArrayRef({4}));
  }
  EXPECT_THROW(nn::Generator(nn::GanOptions{96, 1, 16, 8}), Error);
  try {
    nn::check_gan_options({32, 1, 16, 8});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("64 or 128"), std::string::npos);
  }
}

TEST(Gan, SpectralNormBringsTheLargestSingularValueToOne) {
  torch::manual_seed(1);
  nn::SpectralNorm sn(6);
  sn->train();
  const auto w = torch::randn({6, 3, 3, 3}) * 5;
  torch::Tensor normalised;
  for (int i = 0; i < 50; ++i) normalised = sn->normalise(w);  // one power iteration per call
  const auto sigma = torch::linalg_svdvals(normalised.reshape({6, -1}))[0].item<double>();
  EXPECT_NEAR(sigma, 1.0, 1e-4);
  // Eval mode leaves u alone.
  sn->eval();
  const auto u = sn->u.clone();
  sn->normalise(w);
  EXPECT_TRUE(torch::equal(u, sn->u));
}

TEST(Gan, DiffAugmentKeepsShapeAndPassesGradients) {
  torch::manual_seed(2);
  auto x = torch::rand({5, 1, 64, 64}, torch::requires_grad());
  const auto y = nn::diff_augment(x);
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_FALSE(torch::allclose(y, x));
  y.sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_GT(x.grad().abs().sum().item<double>(), 0.0);
  // Cutout zeroes a square of half the side (clipped at the border): some pixels are exactly 0.
  EXPECT_GT((y == 0).sum().item<int64_t>(), 0);
}

TEST(Gan, HingeLosses) {
  const auto real = torch::tensor({2.0, 0.5}), fake = torch::tensor({-2.0, 0.0});
  EXPECT_DOUBLE_EQ(nn::hinge_d_loss(real, fake).item<double>(), (0.0 + 0.5) / 2 + (0.0 + 1.0) / 2);
  EXPECT_DOUBLE_EQ(nn::hinge_g_loss(fake).item<double>(), 1.0);
}

TEST(Gan, ModeSeekingLossPunishesAGeneratorThatIgnoresItsNoise) {
  const auto z = torch::tensor({0.0f, 2.0f}).view({2, 1});  // |z1 - z2| = 2
  const auto same = torch::ones({2, 1, 2, 2});
  EXPECT_NEAR(medai::nn::mode_seeking_loss(same, z).item<double>(), 1e5, 1);
  auto differ = torch::zeros({2, 1, 2, 2});
  differ[1].fill_(1);  // mean |G(z1) - G(z2)| = 1: gap 0.5
  EXPECT_NEAR(medai::nn::mode_seeking_loss(differ, z).item<double>(), 1 / (0.5 + 1e-5), 1e-4);
}

TEST(FeatureDistances, FrechetByHand) {
  // a: mean 1, variance 2; b: mean 2, variance 8 -> 1 + 2 + 8 - 2 sqrt(16) = 3.
  const auto a = torch::tensor({0.0, 2.0}).view({2, 1}), b = torch::tensor({0.0, 4.0}).view({2, 1});
  EXPECT_NEAR(metrics::frechet_distance(a, b), 3.0, 1e-12);
  // Two independent dimensions add up: the second pair is (mean 0, var 2) vs (mean 0, var 2).
  const auto a2 = torch::tensor({0.0, 1.0, 2.0, -1.0}).view({2, 2}),
             b2 = torch::tensor({0.0, 1.0, 4.0, -1.0}).view({2, 2});
  EXPECT_NEAR(metrics::frechet_distance(a2, b2), 3.0, 1e-12);
  EXPECT_NEAR(metrics::frechet_distance(a2, a2), 0.0, 1e-9);
  EXPECT_THROW(metrics::frechet_distance(a, torch::zeros({2, 2})), Error);
}

TEST(FeatureDistances, KidPrecisionRecallAndNearestNeighbours) {
  torch::manual_seed(3);
  const auto real = torch::randn({400, 8}, torch::kDouble), same = torch::randn({400, 8}, torch::kDouble);
  const auto shifted = same + 3;
  EXPECT_LT(std::abs(metrics::kernel_distance(real, same, 5, 200)), 0.05);
  EXPECT_GT(metrics::kernel_distance(real, shifted, 5, 200), 1.0);
  const auto pr = metrics::manifold_precision_recall(real, same, 3);
  EXPECT_GT(pr.precision, 0.8);
  EXPECT_GT(pr.recall, 0.8);
  const auto far = metrics::manifold_precision_recall(real, same + 100, 3);
  EXPECT_EQ(far.precision, 0.0);
  EXPECT_EQ(far.recall, 0.0);
  const auto pts = torch::tensor({0.0, 1.0, 5.0}, torch::kDouble).view({3, 1});
  const auto nn_self = metrics::nearest_neighbours(pts, pts, true);
  EXPECT_EQ(nn_self.index[0].item<int64_t>(), 1);
  EXPECT_EQ(nn_self.index[2].item<int64_t>(), 1);
  EXPECT_DOUBLE_EQ(nn_self.distance[2].item<double>(), 4.0);
  const auto nn_other = metrics::nearest_neighbours(torch::tensor({4.0}, torch::kDouble).view({1, 1}), pts);
  EXPECT_EQ(nn_other.index[0].item<int64_t>(), 2);
}

TEST(LowDataSplit, SubsamplesWholePatientsPerClass) {
  data::ImageDataset ds;
  ds.class_names = {"A", "B"};
  for (int p = 0; p < 40; ++p)
    for (int k = 0; k < 2; ++k)
      ds.samples.push_back(
          {"p" + std::to_string(p) + "_" + std::to_string(k) + ".png", p % 2, "p" + std::to_string(p), {}});
  std::vector<size_t> all(ds.samples.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  const auto kept = data::subsample_patients(ds, all, 0.25, 7);
  EXPECT_EQ(kept.size(), 20u);  // 5 patients of each class, both images each
  std::map<std::string, int> per_patient;
  int b = 0;
  for (size_t i : kept) per_patient[ds.samples[i].patient_id]++, b += ds.samples[i].label;
  for (const auto& [p, n] : per_patient) EXPECT_EQ(n, 2) << p;
  EXPECT_EQ(b, 10);
  EXPECT_EQ(kept, data::subsample_patients(ds, all, 0.25, 7));
  EXPECT_EQ(data::subsample_patients(ds, all, 1.0, 7), all);
  EXPECT_THROW(data::subsample_patients(ds, all, 0.0, 7), Error);
}

TEST(PngText, ChunksAreWrittenUncompressed) {
  cv::Mat img(4, 4, CV_8U, cv::Scalar(7));
  const std::string bytes = io::encode_png(img, "t", {{"Title", "SYNTHETIC"}});
  EXPECT_NE(bytes.find(std::string("tEXtTitle\0SYNTHETIC", 19)), std::string::npos);
  EXPECT_EQ(io::read_png(bytes, "t").width, 4);
  EXPECT_THROW(io::encode_png(img, "t", {{"", "x"}}), Error);
}

}  // namespace
}  // namespace medai
