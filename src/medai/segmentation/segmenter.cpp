#include "medai/segmentation/segmenter.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/precision.h"
#include "medai/core/progress.h"
#include "medai/core/run_folder.h"
#include "medai/io/csv.h"
#include "medai/io/image.h"
#include "medai/metrics/bootstrap.h"
#include "medai/metrics/segmentation.h"
#include "medai/nn/nets/unet.h"
#include "medai/train/stored_options.h"
#include "medai/train/torch_helpers.h"
#include "medai/train/trainer.h"

namespace medai::segmentation {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kWeightsFile = "model.pt";

nn::UNet make_net(const SegmenterCard& c) {
  return nn::UNet(nn::UNetOptions(c.in_channels, 1).width(c.width).depth(c.depth).residual(c.residual));
}

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

// With test-time augmentation: the mean of the probabilities over the eight flips and
// quarter-turns of the square (the network saw them all in training), each turned back.
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

// Whether an image in [0, 1] has a bright background (mean above one half): brightfield
// microscopy, where objects are dark. Such images are inverted before the network sees them, so
// every modality shows bright objects on a dark ground.
bool bright_background(const std::vector<float>& pixels) {
  double t = 0;
  for (float v : pixels) t += v;
  return !pixels.empty() && t / pixels.size() > 0.5;
}

// Per-image standardisation (zero mean, unit standard deviation over all pixels and channels):
// dim and bright images reach the network on one scale, so a faint nucleus rim counts as much
// as a bright core. The floor keeps a blank image from being amplified into noise.
constexpr double kMinStd = 1e-2;

std::pair<float, float> image_stats(const float* p, size_t n) {
  double t = 0, t2 = 0;
  for (size_t i = 0; i < n; ++i) t += p[i], t2 += static_cast<double>(p[i]) * p[i];
  const double m = n ? t / n : 0, v = n ? std::max(0.0, t2 / n - m * m) : 0;
  return {static_cast<float>(m), static_cast<float>(std::max(std::sqrt(v), kMinStd))};
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

std::vector<float> to_vector(const torch::Tensor& t) {
  auto c = t.contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

std::vector<uint8_t> threshold_mask(const std::vector<float>& p, double threshold) {
  std::vector<uint8_t> m(p.size());
  for (size_t i = 0; i < p.size(); ++i) m[i] = p[i] > threshold ? 1 : 0;
  return m;
}

}  // namespace

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

// ---------------------------------------------------------------- training

namespace {

template <class F>
void stored_fields(F&& f, SegTrainOptions& o) {
  f("epochs", o.epochs)("batch_size", o.batch_size)("crop", o.crop)("patience", o.patience)("lr", o.lr);
  f("weight_decay", o.weight_decay)("width", o.width)("depth", o.depth)("residual", o.residual);
  f("validation_fraction", o.validation_fraction)("seed", o.seed)("tile", o.tile)("max_images", o.max_images);
  f("standardise", o.standardise);
  f("precision", o.precision)("invert_bright", o.invert_bright)("label", o.label);
}

json options_json(SegTrainOptions o) {
  o.precision = core::precision_name(core::resolve_precision(o.precision));
  json j = json::object();
  stored_fields(train::StoreOptions{j}, o);
  return j;
}

void validate(const SegTrainOptions& o) {
  if (o.epochs < 1 || o.epochs > 10000) fail_invalid("epochs must be 1..10000");
  if (o.batch_size < 1 || o.batch_size > 1024) fail_invalid("batch size must be 1..1024");
  if (o.crop < 16 || o.crop > 2048) fail_invalid("crop must be 16..2048 pixels");
  if (o.label.empty() || o.label.size() > 64) fail_invalid("label must have 1..64 characters");
  if (o.tile < o.crop) fail_invalid("tile must be at least the crop size");
  if (!(o.lr > 0 && o.lr < 1)) fail_invalid("learning rate must be in (0, 1)");
  const int64_t m = int64_t{1} << (std::clamp(o.depth, 2, 6) - 1);
  if (o.crop % m != 0)
    fail_invalid("crop must be a multiple of " + std::to_string(m) + " for depth " + std::to_string(o.depth));
}

// Training images kept decoded as bytes (3 x H x W pixels, H x W mask).
struct Cached {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels, mask;
  bool standardise = false;  // network input = (pixel - mean) / sd (else the pixel in [0, 1])
  float mean = 0, sd = 1;
};

std::vector<Cached> preload(const data::SegDataset& ds, const std::vector<size_t>& rows, bool invert_bright,
                            bool standardise, bool progress) {
  std::vector<Cached> out;
  core::ProgressBar bar("decode", static_cast<int64_t>(rows.size()), "img", progress);
  for (size_t r : rows) {
    const auto& s = ds.samples[r];
    if (s.mask.empty()) fail_invalid(s.image.string() + ": a training image needs a mask");
    const data::SegImage im = data::read_seg_image(s.image, s.mask);
    Cached c{im.width, im.height, std::vector<uint8_t>(im.pixels.size()), im.mask};
    const bool invert = invert_bright && bright_background(im.pixels);
    for (size_t i = 0; i < im.pixels.size(); ++i)
      c.pixels[i] = static_cast<uint8_t>((invert ? 1.0f - im.pixels[i] : im.pixels[i]) * 255.0f + 0.5f);
    if (standardise) {
      std::vector<float> f(c.pixels.size());
      for (size_t i = 0; i < f.size(); ++i) f[i] = c.pixels[i] / 255.0f;
      c.standardise = true;
      std::tie(c.mean, c.sd) = image_stats(f.data(), f.size());
    }
    out.push_back(std::move(c));
    bar.advance();
  }
  bar.finish();
  return out;
}

// One random crop of `c` into x (3 x S x S) and y (S x S), flipped, rotated and with its contrast
// and brightness jittered (on the network's input scale); image and mask get the same geometry.
// A cached pixel on the network's input scale, with contrast `a` and brightness `b` jitter:
// clamped to [0, 1] without standardisation (as before it), in standard deviations with it.
float input_value(const Cached& c, uint8_t pixel, float a, float b) {
  const float v = pixel / 255.0f;
  if (!c.standardise) return std::clamp((v - 0.5f) * a + 0.5f + b, 0.0f, 1.0f);
  return (v - c.mean) / c.sd * a + 2.5f * b;
}

void random_crop(const Cached& c, int S, std::mt19937_64& rng, float* x, float* y) {
  std::uniform_int_distribution<int> oy(0, std::max(0, c.height - S)), ox(0, std::max(0, c.width - S)), k4(0, 3);
  std::uniform_real_distribution<float> contrast(0.75f, 1.25f), bright(-0.1f, 0.1f);
  std::bernoulli_distribution flip(0.5);
  const int y0 = oy(rng), x0 = ox(rng), rot = k4(rng);
  const bool fl = flip(rng);
  const float a = contrast(rng), b = bright(rng);
  const size_t n = static_cast<size_t>(c.width) * c.height, ss = static_cast<size_t>(S) * S;
  for (int i = 0; i < S; ++i)
    for (int j = 0; j < S; ++j) {
      int u = fl ? S - 1 - j : j, v = i;  // source coordinates in the crop, after flip and rotation
      for (int r = 0; r < rot; ++r) std::tie(u, v) = std::pair{v, S - 1 - u};
      const int sy = y0 + v, sx = x0 + u;
      const bool inside = sy < c.height && sx < c.width;
      const size_t src = inside ? static_cast<size_t>(sy) * c.width + sx : 0;
      for (int ch = 0; ch < data::kSegChannels; ++ch)
        x[ch * ss + i * S + j] = inside ? input_value(c, c.pixels[ch * n + src], a, b) : 0.0f;
      y[i * S + j] = inside ? c.mask[src] : 0.0f;
    }
}

torch::Tensor dice_bce_loss(const torch::Tensor& logits, const torch::Tensor& target) {
  auto bce = torch::binary_cross_entropy_with_logits(logits, target);
  auto p = torch::sigmoid(logits).flatten(1), t = target.flatten(1);
  auto dice = (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1);
  return bce + (1 - dice).mean();
}

// Mean per-image Dice (and IoU) of the validation images at `threshold`.
std::pair<double, double> validation_overlap(const std::vector<std::vector<float>>& probs,
                                             const std::vector<Cached>& val, double threshold) {
  double d = 0, j = 0;
  for (size_t k = 0; k < val.size(); ++k) {
    const auto o = metrics::overlap(threshold_mask(probs[k], threshold), val[k].mask);
    d += o.dice;
    j += o.iou;
  }
  return {d / val.size(), j / val.size()};
}

std::vector<std::vector<float>> validation_probabilities(nn::UNet& net, const std::vector<Cached>& val, int tile,
                                                         bool bf16, bool tta = false) {
  net->eval();
  std::vector<std::vector<float>> out;
  for (const auto& c : val) {
    auto x =
        torch::from_blob(const_cast<uint8_t*>(c.pixels.data()), {data::kSegChannels, c.height, c.width}, torch::kUInt8)
            .to(torch::kFloat)
            .div(255.0);
    if (c.standardise) x = (x - c.mean) / c.sd;
    out.push_back(to_vector(infer_tta(net, x, tile, bf16, tta)));
  }
  return out;
}

train::TrainResult fit_unet(const SegTrainOptions& o, nn::UNet& net, const std::vector<Cached>& train_set,
                            const std::vector<Cached>& val, bool bf16) {
  torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  const int64_t steps = std::max<int64_t>(1, static_cast<int64_t>(train_set.size()) / o.batch_size);
  const json stored = options_json(o);
  train::TrainerOptions to;
  to.epochs = o.epochs;
  to.steps_per_epoch = steps;
  to.schedule = {train::ScheduleKind::Cosine, o.lr, steps * o.epochs, steps, 0.0};
  to.monitor = "val_dice";
  to.patience = o.patience;
  to.unit = "img";
  to.units_per_epoch = steps * o.batch_size;
  to.progress = o.progress;
  to.run_dir = o.out;
  to.resume = o.resume;
  to.run_options = &stored;
  std::vector<size_t> order(train_set.size());
  int epoch_now = 0;
  const int S = o.crop;
  train::TrainerHooks hooks;
  hooks.begin_epoch = [&](int epoch) {
    net->train();
    epoch_now = epoch;
    std::iota(order.begin(), order.end(), size_t{0});
    std::mt19937_64 rng(o.seed * 1000003 + epoch);
    std::shuffle(order.begin(), order.end(), rng);
  };
  hooks.train_step = [&](int64_t step, double lr) -> std::optional<std::pair<double, int64_t>> {
    train::set_lr(opt, lr);
    auto x = torch::empty({o.batch_size, data::kSegChannels, S, S}), y = torch::empty({o.batch_size, 1, S, S});
    std::mt19937_64 rng(o.seed * 7919 + epoch_now * 100003 + step);  // the same crops on resume
    for (int b = 0; b < o.batch_size; ++b)
      random_crop(train_set[order[(step * o.batch_size + b) % order.size()]], S, rng, x[b].data_ptr<float>(),
                  y[b].data_ptr<float>());
    torch::Tensor loss;
    {
      train::AutocastGuard autocast(bf16);
      loss = dice_bce_loss(net->forward(x).to(torch::kFloat), y);
    }
    return std::pair{train::optimise(opt, loss), static_cast<int64_t>(o.batch_size)};
  };
  hooks.validate = [&](int) {
    const auto [dice, iou] = validation_overlap(validation_probabilities(net, val, o.tile, bf16), val, 0.5);
    return train::Metrics{{"val_dice", dice}, {"val_iou", iou}};
  };
  hooks.save_best = [&] { train::save_module(*net, o.out / kWeightsFile); };
  hooks.save_checkpoint = [&](const fs::path& ck) {
    train::save_module(*net, ck / "model.pt");
    train::save_optimizer(opt, ck / "optimizer.pt");
  };
  hooks.load_checkpoint = [&](const fs::path& ck) {
    train::load_module(*net, ck / "model.pt");
    train::load_optimizer(opt, ck / "optimizer.pt");
  };
  hooks.end_epoch = [&](const std::vector<train::EpochRecord>& history) {
    train::epoch_curves(history).write(
        o.out, {{"loss", "epoch", "Dice + BCE", "epoch", {"train_loss"}, {"train"}},
                {"validation", "epoch", "score", "epoch", {"val_dice", "val_iou"}, {"Dice", "IoU"}}});
  };
  return train::fit(to, hooks);
}

// The threshold with the best mean validation Dice (0.10 .. 0.90; 0.70 was the old bound and
// was chosen at it).
double choose_threshold(const std::vector<std::vector<float>>& probs, const std::vector<Cached>& val) {
  double best = 0.5, best_dice = -1;
  for (int k = 0; k <= 16; ++k) {
    const double t = 0.1 + 0.05 * k;
    const double d = validation_overlap(probs, val, t).first;
    if (d > best_dice + 1e-9) best = t, best_dice = d;
  }
  return best;
}

SegmenterCard make_card(const SegTrainOptions& o, const data::SegDataset& ds, const data::SegSplit& split,
                        const train::TrainResult& fitted, double threshold) {
  SegmenterCard card;
  card.core = core::ModelCardCore::fresh(o.out, core::ModelKind::Segmenter, kSegmenterTask);
  card.core.architecture = "U-Net, " + std::to_string(o.depth) + " stages from " + std::to_string(o.width) +
                           " channels" + (o.residual ? ", residual encoder" : "");
  card.core.inputs = {{"image", "2-D image, grey or colour (grey repeated to 3 channels)", "pixel values"}};
  card.core.preprocessing = {{"channels", 3},
                             {"scaling", "per image: min-max of all channels to [0, 1]"},
                             {"polarity", o.invert_bright ? "images with a mean above 0.5 are inverted (dark objects "
                                                            "on a bright ground become bright on dark)"
                                                          : "as read"},
                             {"inference", "whole image up to the tile side, else overlapping tiles averaged"}};
  card.core.training = options_json(o);
  card.core.training["epochs_run"] = fitted.history.size();
  card.core.training["best_epoch"] = fitted.best_epoch;
  card.core.training["seconds"] = fitted.seconds;
  card.core.training["loss"] = "BCE + soft Dice";
  card.core.training["augmentation"] = "random crops, flips, 90-degree rotations, contrast and brightness";
  card.core.data = {
      {"source", ds.source.filename().string()}, {"fingerprint", ds.fingerprint()}, {"images", ds.samples.size()}};
  card.core.split = {{"rule", "random by group (patient_id when given, else image), stratified by 'modality'"},
                     {"train_images", split.train.size()},
                     {"validation_images", split.validation.size()},
                     {"seed", o.seed}};
  card.core.intended_use =
      "Research: binary segmentation of the kind of images it was trained on (e.g. cell nuclei in light "
      "microscopy). Not a medical device; review every mask before it informs a decision.";
  card.core.limitations = {
      "Trained and validated on one collection; other stains, magnifications or modalities need validation.",
      "Instances are watershed splits of the binary mask; touching objects may merge or split.",
      "Images are rescaled per image, so absolute intensities are not used."};
  card.width = o.width;
  card.depth = o.depth;
  card.residual = o.residual;
  card.threshold = threshold;
  card.tile = o.tile;
  card.tta = o.tta;
  card.invert_bright = o.invert_bright;
  card.standardise = o.standardise;
  card.label = o.label;
  return card;
}

void write_split(const fs::path& out, const data::SegDataset& ds, const data::SegSplit& split) {
  std::string csv = "path,split\n";
  for (size_t r : split.train)
    csv += io::csv_escape(fs::relative(ds.samples[r].image, ds.source).string()) + ",train\n";
  for (size_t r : split.validation)
    csv += io::csv_escape(fs::relative(ds.samples[r].image, ds.source).string()) + ",validation\n";
  core::write_file_atomic(out / "split.csv", csv);
}

}  // namespace

json train_segmenter(const SegTrainOptions& cli) {
  if (cli.out.empty()) fail_invalid("out: a run folder is required");
  train::apply_torch_threads();
  SegTrainOptions o = cli;
  if (cli.resume)
    stored_fields(train::LoadOptions{train::resume_options(cli.out), (cli.out / train::kTrainStateFile).string()}, o);
  else train::check_fresh_run_folder(o.out);
  validate(o);
  const bool bf16 = core::resolve_precision(o.precision) == core::Precision::Bf16;
  data::SegDataset ds = data::load_seg_dataset(o.data);
  if (o.max_images > 0 && static_cast<int>(ds.samples.size()) > o.max_images) ds.samples.resize(o.max_images);
  const data::SegSplit split = data::split_seg_dataset(ds, o.validation_fraction, o.seed);
  spdlog::info("segmentation data: {} images, {} train / {} validation", ds.samples.size(), split.train.size(),
               split.validation.size());
  fs::create_directories(o.out);
  write_split(o.out, ds, split);
  const auto train_set = preload(ds, split.train, o.invert_bright, o.standardise, o.progress);
  const auto val = preload(ds, split.validation, o.invert_bright, o.standardise, o.progress);

  torch::manual_seed(o.seed);
  SegmenterCard shape;
  shape.width = o.width;
  shape.depth = o.depth;
  shape.residual = o.residual;
  nn::UNet net = make_net(shape);
  const train::TrainResult fitted = fit_unet(o, net, train_set, val, bf16);

  train::load_module(*net, o.out / kWeightsFile);  // the best epoch
  const double threshold = choose_threshold(validation_probabilities(net, val, o.tile, bf16, o.tta), val);
  SegmenterCard card = make_card(o, ds, split, fitted, threshold);
  core::write_json_file(o.out / core::kModelCardFile, card.to_json());
  const Segmenter model = Segmenter::load(o.out, o.precision);
  card.core.metrics["validation"] =
      evaluate_segmentation(model.as_fn(), threshold, ds, split.validation,
                            ds.samples.front().columns.count("modality") ? "modality" : "", o.progress);
  const json j = card.to_json();
  core::write_json_file(o.out / core::kModelCardFile, j);
  return j;
}

}  // namespace medai::segmentation
