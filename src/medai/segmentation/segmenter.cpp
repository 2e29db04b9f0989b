#include "medai/segmentation/segmenter.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "medai/core/error.h"
#include "medai/core/precision.h"
#include "medai/core/progress.h"
#include "medai/core/run_folder.h"
#include "medai/io/csv.h"
#include "medai/io/image.h"
#include "medai/metrics/bootstrap.h"
#include "medai/metrics/segmentation.h"
#include "medai/nn/nets/unet.h"
#include "medai/segmentation/unet_inference.h"
#include "medai/train/torch_helpers.h"

namespace medai::segmentation {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace detail;

namespace {

// Pads a 1 x C x H x W batch (replicating the border) to at least `min_side` and to multiples of
// `multiple`; returns the padded tensor.
torch::Tensor pad_to(const torch::Tensor& x, int64_t multiple, int64_t min_h, int64_t min_w) {
  const int64_t h = x.size(2), w = x.size(3);
  const int64_t H = std::max(min_h, (h + multiple - 1) / multiple * multiple);
  const int64_t W = std::max(min_w, (w + multiple - 1) / multiple * multiple);
  if (H == h && W == w) return x;
  namespace F = torch::nn::functional;
  return F::pad(x, F::PadFuncOptions({0, W - w, 0, H - h}).mode(torch::kReplicate));
}

// Foreground probability of a 3 x H x W image: the whole image when it fits in a tile, else
// overlapping tiles (stride 3/4 of the tile) averaged.
torch::Tensor infer(nn::UNet& net, const torch::Tensor& image, int tile, bool bf16) {
  torch::NoGradGuard ng;
  train::AutocastGuard autocast(bf16);
  const int64_t h = image.size(1), w = image.size(2), m = net->multiple();
  auto x = image.unsqueeze(0);
  if (h <= tile && w <= tile) {
    auto y = net->forward(pad_to(x, m, 0, 0)).to(torch::kFloat);
    return torch::sigmoid(y.index({0, 0}).slice(0, 0, h).slice(1, 0, w));
  }
  const int64_t T = (tile + m - 1) / m * m, stride = std::max<int64_t>(m, T * 3 / 4);
  auto xp = pad_to(x, m, T, T);
  const int64_t H = xp.size(2), W = xp.size(3);
  auto sum = torch::zeros({H, W}), count = torch::zeros({H, W});
  auto starts = [&](int64_t n) {
    std::vector<int64_t> s;
    for (int64_t p = 0; p + T < n; p += stride) s.push_back(p);
    s.push_back(n - T);
    return s;
  };
  for (int64_t y0 : starts(H))
    for (int64_t x0 : starts(W)) {
      auto t = xp.slice(2, y0, y0 + T).slice(3, x0, x0 + T);
      auto p = torch::sigmoid(net->forward(t).to(torch::kFloat).index({0, 0}));
      sum.slice(0, y0, y0 + T).slice(1, x0, x0 + T) += p;
      count.slice(0, y0, y0 + T).slice(1, x0, x0 + T) += 1;
    }
  return (sum / count).slice(0, 0, h).slice(1, 0, w);
}

torch::Tensor standardised(const torch::Tensor& x) {  // 3 x H x W
  auto c = x.contiguous();
  const auto [m, sd] = image_stats(c.data_ptr<float>(), static_cast<size_t>(c.numel()));
  return (c - m) / sd;
}

// What the network sees of an image: inverted when bright-background (and the card says so),
// standardised when the card says so.
torch::Tensor image_tensor(const data::SegImage& im, const SegmenterCard& card) {
  auto x =
      torch::from_blob(const_cast<float*>(im.pixels.data()), {data::kSegChannels, im.height, im.width}, torch::kFloat)
          .clone();
  if (card.invert_bright && bright_background(im.pixels)) x = 1 - x;
  return card.standardise ? standardised(x) : x;
}

}  // namespace

namespace detail {

nn::UNet make_net(const SegmenterCard& c) {
  return nn::UNet(nn::UNetOptions(c.in_channels, 1).width(c.width).depth(c.depth).residual(c.residual));
}

torch::Tensor infer_tta(nn::UNet& net, const torch::Tensor& image, int tile, bool bf16, bool tta) {
  if (!tta) return infer(net, image, tile, bf16);
  torch::Tensor sum;
  for (int k = 0; k < 4; ++k)
    for (bool flip : {false, true}) {
      auto x = image.rot90(k, {1, 2});
      if (flip) x = x.flip({2});
      auto p = infer(net, x.contiguous(), tile, bf16);
      if (flip) p = p.flip({1});
      p = p.rot90(-k, {0, 1});
      sum = sum.defined() ? sum + p : p;
    }
  return sum / 8;
}

bool bright_background(const std::vector<float>& pixels) {
  double t = 0;
  for (float v : pixels) t += v;
  return !pixels.empty() && t / pixels.size() > 0.5;
}

// The floor keeps a blank image from being amplified into noise.
constexpr double kMinStd = 1e-2;

std::pair<float, float> image_stats(const float* p, size_t n) {
  double t = 0, t2 = 0;
  for (size_t i = 0; i < n; ++i) t += p[i], t2 += static_cast<double>(p[i]) * p[i];
  const double m = n ? t / n : 0, v = n ? std::max(0.0, t2 / n - m * m) : 0;
  return {static_cast<float>(m), static_cast<float>(std::max(std::sqrt(v), kMinStd))};
}

std::vector<float> to_vector(const torch::Tensor& t) {
  auto c = t.contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

std::vector<uint8_t> threshold_mask(const std::vector<float>& p, double threshold) {
  std::vector<uint8_t> m(p.size());
  for (size_t i = 0; i < p.size(); ++i) m[i] = p[i] > threshold ? 1 : 0;
  return m;
}

}  // namespace detail

// ---------------------------------------------------------------- the model

struct Segmenter::Impl {
  SegmenterCard card;
  nn::UNet net{nullptr};
  bool bf16 = false;
  std::mutex mutex;  // one forward at a time (BatchNorm in eval mode; libtorch threads inside)
  std::vector<float> probability(const data::SegImage& im) {
    if (im.pixels.size() != static_cast<size_t>(data::kSegChannels) * im.width * im.height)
      fail_invalid("segmenter: image has no 3-channel pixels");
    std::lock_guard<std::mutex> lock(mutex);
    return to_vector(infer_tta(net, image_tensor(im, card), card.tile, bf16, card.tta));
  }
};

Segmenter::Segmenter() : impl_(std::make_shared<Impl>()) {}
Segmenter::~Segmenter() = default;
Segmenter::Segmenter(Segmenter&&) noexcept = default;
Segmenter& Segmenter::operator=(Segmenter&&) noexcept = default;

Segmenter Segmenter::load(const fs::path& run, const std::string& precision) {
  const fs::path card_path = run / core::kModelCardFile;
  if (!fs::exists(card_path)) fail_not_found(card_path.string() + ": no model card (is this a medai seg run?)");
  train::apply_torch_threads();
  Segmenter s;
  s.impl_->card = SegmenterCard::from_json(core::read_json_file(card_path), card_path.string());
  s.impl_->net = make_net(s.impl_->card);
  train::load_module(*s.impl_->net, run / kWeightsFile);
  s.impl_->net->eval();
  s.impl_->bf16 = core::resolve_precision(precision) == core::Precision::Bf16;
  return s;
}

const SegmenterCard& Segmenter::card() const { return impl_->card; }
std::vector<float> Segmenter::probability(const data::SegImage& im) const { return impl_->probability(im); }
std::vector<uint8_t> Segmenter::mask(const data::SegImage& im) const {
  return threshold_mask(probability(im), impl_->card.threshold);
}
ProbabilityFn Segmenter::as_fn() const {
  auto impl = impl_;
  return [impl](const data::SegImage& im) { return impl->probability(im); };
}

namespace {

cv::Mat mask_mat(const std::vector<uint8_t>& mask, int width, int height) {
  if (mask.size() != static_cast<size_t>(width) * height) fail_invalid("mask size does not match its image");
  cv::Mat m(height, width, CV_8U);
  for (size_t i = 0; i < mask.size(); ++i) m.data[i] = mask[i] ? 255 : 0;
  return m;
}

cv::Mat overlay_mat(const data::SegImage& im, const std::vector<uint8_t>& mask) {
  const size_t n = static_cast<size_t>(im.width) * im.height;
  cv::Mat bgr(im.height, im.width, CV_8UC3), m = mask_mat(mask, im.width, im.height), edge;
  for (size_t i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c) {
      float v = im.pixels[c * n + i] * 255.0f;
      if (mask[i]) v = c == 0 ? 0.6f * v + 0.4f * 255.0f : 0.6f * v;                  // red tint
      bgr.data[3 * i + (2 - c)] = static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f));  // OpenCV's order
    }
  cv::morphologyEx(m, edge, cv::MORPH_GRADIENT, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(3, 3)));
  bgr.setTo(cv::Scalar(0, 255, 255), edge);  // yellow outline
  return bgr;
}

}  // namespace

void write_mask_png(const fs::path& out, const std::vector<uint8_t>& mask, int width, int height) {
  io::write_png(out, mask_mat(mask, width, height));
}

void write_overlay_png(const fs::path& out, const data::SegImage& im, const std::vector<uint8_t>& mask) {
  io::write_png(out, overlay_mat(im, mask));
}

std::string mask_png(const std::vector<uint8_t>& mask, int width, int height) {
  return io::encode_png(mask_mat(mask, width, height), "mask");
}

std::string overlay_png(const data::SegImage& im, const std::vector<uint8_t>& mask) {
  return io::encode_png(overlay_mat(im, mask), "overlay");
}

// ---------------------------------------------------------------- evaluation

namespace {

struct ImageScores {
  double dice = 0, iou = 0, f1 = 0, ap = 0;
};

ImageScores score(const std::vector<uint8_t>& pred, const data::SegImage& im) {
  const auto o = metrics::overlap(pred, im.mask);
  const auto inst = metrics::instance_scores(metrics::watershed_instances(pred, im.width, im.height),
                                             metrics::connected_components(im.mask, im.width, im.height));
  return {o.dice, o.iou, inst.f1, inst.ap};
}

json summary(const std::vector<ImageScores>& s) {
  std::vector<double> dice, iou, f1, ap;
  for (const auto& x : s) {
    dice.push_back(x.dice);
    iou.push_back(x.iou);
    f1.push_back(x.f1);
    ap.push_back(x.ap);
  }
  auto mean = [](const std::vector<double>& v) {
    double t = 0;
    for (double x : v) t += x;
    return v.empty() ? 0.0 : t / v.size();
  };
  const auto ci = metrics::bootstrap_ci(dice.size(), [&](const std::vector<size_t>& idx) {
    double t = 0;
    for (size_t i : idx) t += dice[i];
    return idx.empty() ? std::nan("") : t / idx.size();
  });
  return {{"dice", mean(dice)}, {"dice_ci95", {ci.lower, ci.upper}},
          {"iou", mean(iou)},   {"instance_f1", mean(f1)},
          {"ap", mean(ap)},     {"n", s.size()}};
}

}  // namespace

json evaluate_segmentation(const ProbabilityFn& model, double threshold, const data::SegDataset& ds,
                           const std::vector<size_t>& rows, const std::string& group_column, bool progress,
                           std::string* per_image) {
  std::vector<ImageScores> all, otsu;
  if (per_image) *per_image = "path,group,dice,iou,instance_f1,ap,otsu_dice\n";
  std::map<std::string, std::vector<ImageScores>> by_group, otsu_by_group;
  core::ProgressBar bar("evaluate", static_cast<int64_t>(rows.size()), "img", progress);
  for (size_t r : rows) {
    const auto& sample = ds.samples[r];
    if (sample.mask.empty()) fail_invalid(sample.image.string() + ": no mask to evaluate against");
    const data::SegImage im = data::read_seg_image(sample.image, sample.mask);
    const ImageScores a = score(threshold_mask(model(im), threshold), im);
    const ImageScores b = score(metrics::otsu_mask(im.grey(), im.width, im.height), im);
    all.push_back(a);
    otsu.push_back(b);
    std::string group;
    if (!group_column.empty()) {
      auto it = sample.columns.find(group_column);
      if (it == sample.columns.end())
        fail_invalid(ds.source.string() + ": the index has no column '" + group_column + "' to group by");
      group = it->second;
      by_group[group].push_back(a);
      otsu_by_group[group].push_back(b);
    }
    if (per_image)
      *per_image += io::csv_escape(fs::relative(sample.image, ds.source).string()) + "," + io::csv_escape(group) +
                    fmt::format(",{:.6f},{:.6f},{:.6f},{:.6f},{:.6f}\n", a.dice, a.iou, a.f1, a.ap, b.dice);
    bar.advance();
  }
  bar.finish();
  json out = summary(all);
  out["threshold"] = threshold;
  out["baseline_otsu"] = summary(otsu);
  if (!group_column.empty()) {
    out["group_column"] = group_column;
    out["by_group"] = json::object();
    for (const auto& [g, s] : by_group) {
      out["by_group"][g] = summary(s);
      out["by_group"][g]["baseline_otsu"] = summary(otsu_by_group[g]);
    }
  }
  return out;
}

}  // namespace medai::segmentation
