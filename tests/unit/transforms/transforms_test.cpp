#include <gtest/gtest.h>

#include "medai/core/error.h"
#include "medai/transforms/transforms.h"

using namespace medai;

TEST(ResizePad, KeepsAspectRatioAndCentresTheImage) {
  cv::Mat wide(50, 100, CV_32F, cv::Scalar(1.0f));
  cv::Mat out = transforms::resize_pad(wide, 64);
  ASSERT_EQ(out.rows, 64);
  ASSERT_EQ(out.cols, 64);
  EXPECT_FLOAT_EQ(out.at<float>(0, 32), 0.0f);   // top padding
  EXPECT_FLOAT_EQ(out.at<float>(32, 32), 1.0f);  // content
  EXPECT_FLOAT_EQ(out.at<float>(63, 32), 0.0f);  // bottom padding
  EXPECT_THROW(transforms::resize_pad(wide, 0), Error);
}

TEST(NormalizeIntensity, GivesZeroMeanUnitVariance) {
  cv::Mat m(8, 8, CV_32F);
  cv::randu(m, 0.2, 0.9);
  cv::Scalar mean, sd;
  cv::meanStdDev(transforms::normalize_intensity(m), mean, sd);
  EXPECT_NEAR(mean[0], 0.0, 1e-5);
  EXPECT_NEAR(sd[0], 1.0, 1e-4);
  cv::Mat flat(4, 4, CV_32F, cv::Scalar(0.5));
  cv::Mat n = transforms::normalize_intensity(flat);  // no division by zero
  EXPECT_TRUE(cv::checkRange(n));
}

TEST(Augment, IsDeterministicForASeedAndStaysInUnitRange) {
  cv::Mat m(32, 32, CV_32F);
  cv::randu(m, 0.0, 1.0);
  transforms::AugmentOptions o;
  std::mt19937_64 r1(7), r2(7), r3(8);
  cv::Mat a = transforms::augment(m, o, r1), b = transforms::augment(m, o, r2), c = transforms::augment(m, o, r3);
  EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0);
  EXPECT_GT(cv::norm(a, c, cv::NORM_INF), 0.0);
  double lo, hi;
  cv::minMaxLoc(a, &lo, &hi);
  EXPECT_GE(lo, 0.0);
  EXPECT_LE(hi, 1.0);
}

TEST(Augment, FlipIsOffByDefaultBecauseLateralityMatters) {
  cv::Mat m = cv::Mat::zeros(4, 4, CV_32F);
  m.at<float>(0, 0) = 1.0f;
  transforms::AugmentOptions o;
  for (int s = 0; s < 20; ++s) {
    std::mt19937_64 rng(s);
    EXPECT_FLOAT_EQ(transforms::random_flip(m, o, rng).at<float>(0, 0), 1.0f);
  }
  o.horizontal_flip = true;
  int flipped = 0;
  for (int s = 0; s < 40; ++s) {
    std::mt19937_64 rng(s);
    flipped += transforms::random_flip(m, o, rng).at<float>(0, 3) == 1.0f;
  }
  EXPECT_GT(flipped, 5);
  EXPECT_LT(flipped, 35);
}

TEST(RandomAffine, RotatesAroundTheCentre) {
  transforms::AugmentOptions o;
  o.max_rotate_deg = 0;
  o.scale_range = 0;
  o.max_translate = 0;
  cv::Mat m(16, 16, CV_32F);
  cv::randu(m, 0.0, 1.0);
  std::mt19937_64 rng(1);
  EXPECT_LT(cv::norm(transforms::random_affine(m, o, rng), m, cv::NORM_INF), 1e-5);  // identity when ranges are 0
}

TEST(Perturb, EachNamedChangeKeepsTheSizeAndUnitRangeAndUnknownNamesAreListed) {
  cv::Mat m(64, 64, CV_32F);
  cv::randu(m, 0.0, 1.0);
  for (const auto& name : transforms::perturbation_names()) {
    cv::Mat p = transforms::perturb(m, name, 3);
    ASSERT_EQ(p.size(), m.size()) << name;
    double lo, hi;
    cv::minMaxLoc(p, &lo, &hi);
    EXPECT_GE(lo, 0.0) << name;
    EXPECT_LE(hi, 1.0) << name;
    EXPECT_EQ(cv::norm(p, transforms::perturb(m, name, 3), cv::NORM_INF), 0.0) << name << " is deterministic";
  }
  EXPECT_GT(cv::norm(transforms::perturb(m, "noise", 1), transforms::perturb(m, "noise", 2), cv::NORM_INF), 0.0);
  // a linear contrast change: the per-image z-score removes it, as the evaluation table shows
  cv::Mat low = transforms::perturb(m, "contrast-low");
  EXPECT_LT(cv::norm(transforms::normalize_intensity(low), transforms::normalize_intensity(m), cv::NORM_INF), 1e-3);
  try {
    transforms::perturb(m, "rotate");
    FAIL() << "an unknown name is refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("known: blur"), std::string::npos) << e.what();
  }
}

TEST(TtaView, ViewZeroIsTheImageAndTheOthersMoveIt) {
  cv::Mat m(32, 32, CV_32F, cv::Scalar(0));
  m(cv::Rect(8, 8, 16, 16)).setTo(1.0f);
  EXPECT_EQ(cv::norm(transforms::tta_view(m, 0), m, cv::NORM_INF), 0.0);
  for (int k = 1; k < transforms::kMaxTtaViews; ++k) {
    cv::Mat v = transforms::tta_view(m, k);
    EXPECT_EQ(v.size(), m.size());
    EXPECT_GT(cv::norm(v, m, cv::NORM_L1), 0.0) << k;
  }
  EXPECT_THROW(transforms::tta_view(m, transforms::kMaxTtaViews), Error);
  EXPECT_THROW(transforms::tta_view(m, -1), Error);
}
