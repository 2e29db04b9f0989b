// medai seg train: the U-Net fitted through the shared Trainer on random crops with joint
// image/mask augmentation, the threshold chosen on validation, the card written.
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/precision.h"
#include "medai/core/progress.h"
#include "medai/core/run_folder.h"
#include "medai/io/csv.h"
#include "medai/metrics/segmentation.h"
#include "medai/segmentation/segmenter.h"
#include "medai/segmentation/unet_inference.h"
#include "medai/train/stored_options.h"
#include "medai/train/torch_helpers.h"
#include "medai/train/trainer.h"

namespace medai::segmentation {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace detail;

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
