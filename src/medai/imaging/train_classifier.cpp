#include "medai/imaging/train_classifier.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <numeric>
#include <random>
#include <set>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/precision.h"
#include "medai/core/progress.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/data/image_loader.h"
#include "medai/data/split.h"
#include "medai/imaging/classifier_card.h"
#include "medai/imaging/classifier_model.h"
#include "medai/imaging/evaluate_classifier.h"
#include "medai/imaging/report.h"
#include "medai/io/csv.h"
#include "medai/io/plot.h"
#include "medai/metrics/calibration.h"
#include "medai/synthesis/synthetic_augment.h"
#include "medai/train/distributed.h"
#include "medai/train/torch_helpers.h"
#include "medai/train/trainer.h"
#include "medai/transforms/transforms.h"

namespace medai::imaging {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void validate(const TrainOptions& o) {
  if (o.image_size < nn::kMinInputSize || o.image_size > 1024)
    fail_invalid("--size " + std::to_string(o.image_size) + ": must be between " + std::to_string(nn::kMinInputSize) +
                 " and 1024 pixels");
  if (o.epochs < 1) fail_invalid("--epochs must be at least 1");
  if (o.batch_size < 2) fail_invalid("--batch must be at least 2 (batch normalisation)");
  if (!(o.lr > 0)) fail_invalid("--lr must be positive");
  if (o.target_sensitivity && !(*o.target_sensitivity > 0 && *o.target_sensitivity < 1))
    fail_invalid("--target-sensitivity must be in (0, 1)");
  if (!(o.augment_strength >= 0 && o.augment_strength <= 3)) fail_invalid("--augment-strength must be in [0, 3]");
  if (!(o.label_smoothing >= 0 && o.label_smoothing < 0.5)) fail_invalid("--label-smoothing must be in [0, 0.5)");
  if (!(o.mixup >= 0 && o.mixup <= 10)) fail_invalid("--mixup must be in [0, 10] (0 = off)");
  if (!(o.ema == 0 || (o.ema >= 0.9 && o.ema < 1))) fail_invalid("--ema must be 0 (off) or in [0.9, 1)");
  if (!(o.train_fraction > 0 && o.train_fraction <= 1)) fail_invalid("--train-fraction must be in (0, 1]");
  if (!(o.synthetic_ratio > 0 && o.synthetic_ratio <= 10)) fail_invalid("--synthetic-ratio must be in (0, 10]");
  if (o.distributed && (o.mixup > 0 || o.resume || !o.synthetic.empty()))
    fail_invalid("--distributed does not combine with --mixup, --resume or --synthetic yet");
  try {
    nn::check_architecture(o.architecture);
  } catch (const Error& e) {
    fail_invalid(std::string("--arch: ") + e.what());
  }
}

json options_json(const TrainOptions& o) {
  return {{"architecture", o.architecture},
          {"size", o.image_size},
          {"epochs", o.epochs},
          {"batch", o.batch_size},
          {"lr", o.lr},
          {"weight_decay", o.weight_decay},
          {"schedule", o.schedule},
          {"warmup_epochs", o.warmup_epochs},
          {"patience", o.patience},
          {"validation_fraction", o.validation_fraction},
          {"seed", o.seed},
          {"split_seed", o.split_seed.value_or(o.seed)},
          {"augment", o.augment},
          {"horizontal_flip", o.horizontal_flip},
          {"augment_strength", o.augment_strength},
          {"label_smoothing", o.label_smoothing},
          {"mixup", o.mixup},
          {"ema", o.ema},
          {"split", o.split},
          {"train_fraction", o.train_fraction},
          {"synthetic", o.synthetic.empty() ? json(nullptr) : json(fs::absolute(o.synthetic).string())},
          {"synthetic_ratio", o.synthetic_ratio},
          {"precision", core::precision_name(core::resolve_precision(o.precision))}};
}

std::vector<std::vector<double>> to_rows(const torch::Tensor& t) {
  auto d = t.to(torch::kDouble).contiguous();
  std::vector<std::vector<double>> rows(d.size(0));
  for (int64_t i = 0; i < d.size(0); ++i) rows[i].assign(d[i].data_ptr<double>(), d[i].data_ptr<double>() + d.size(1));
  return rows;
}

TrainOptions with_stored_options(TrainOptions o, const json& so) {  // the interrupted run's settings win
  o.architecture = so["architecture"];
  o.image_size = so["size"];
  o.epochs = so["epochs"];
  o.batch_size = so["batch"];
  o.lr = so["lr"];
  o.weight_decay = so["weight_decay"];
  o.schedule = so["schedule"];
  o.warmup_epochs = so["warmup_epochs"];
  o.patience = so["patience"];
  o.validation_fraction = so["validation_fraction"];
  o.seed = so["seed"];
  o.split_seed = so.value("split_seed", o.seed);
  o.augment = so["augment"];
  o.horizontal_flip = so["horizontal_flip"];
  o.augment_strength = so.value("augment_strength", 1.0);  // runs before these options had none of them
  o.label_smoothing = so.value("label_smoothing", 0.0);
  o.mixup = so.value("mixup", 0.0);
  o.ema = so.value("ema", 0.0);
  o.split = so["split"];
  o.precision = so.value("precision", "fp32");  // runs of medai 0.1 trained in fp32
  o.train_fraction = so.value("train_fraction", 1.0);
  o.synthetic = so.contains("synthetic") && so["synthetic"].is_string() ? fs::path(so["synthetic"].get<std::string>())
                                                                        : fs::path();
  o.synthetic_ratio = so.value("synthetic_ratio", 1.0);
  return o;
}

void write_curves(const fs::path& dir, const std::vector<train::EpochRecord>& history) {
  train::epoch_curves(history).write(
      dir, {{"loss", "epoch", "loss", "epoch", {"train_loss", "val_loss"}, {"train", "validation"}},
            {"validation AUROC", "epoch", "AUROC", "epoch", {"val_auroc"}, {"validation"}, {{44, 160, 44}}}});
}

transforms::AugmentOptions scaled(transforms::AugmentOptions a, double k) {
  a.max_rotate_deg *= k;
  a.scale_range *= k;
  a.max_translate *= k;
  a.brightness *= k;
  a.contrast *= k;
  a.gamma *= k;
  return a;
}

struct ValResult {
  torch::Tensor logits;
  double loss = 0, auroc = 0;
};

ValResult validate_epoch(nn::ClassifierNetImpl& net, data::DecodedCache& cache, const data::ImageDataset& ds,
                         const std::vector<size_t>& idx, const torch::Tensor& weights, int batch, int workers,
                         bool progress, bool bf16) {
  torch::NoGradGuard ng;
  net.eval();
  data::LoaderOptions lo;
  lo.batch_size = batch * 2;
  lo.workers = workers;
  data::ImageLoader loader(cache, ds, idx, lo);
  std::vector<torch::Tensor> outs;
  std::vector<int> labels;
  core::ProgressBar bar("  validate", static_cast<int64_t>(idx.size()), "img", progress);
  while (auto b = loader.next()) {
    auto x = torch::from_blob(b->pixels.data(), {b->size, 1, b->image_size, b->image_size}, torch::kFloat)
                 .contiguous(torch::MemoryFormat::ChannelsLast);
    train::AutocastGuard autocast(bf16);
    outs.push_back(net.forward(x).to(torch::kFloat));
    for (auto l : b->labels) labels.push_back(static_cast<int>(l));
    bar.advance(b->size);
  }
  bar.finish();
  ValResult r;
  r.logits = torch::cat(outs, 0);
  auto y = torch::tensor(std::vector<int64_t>(labels.begin(), labels.end()));
  r.loss = torch::nn::functional::cross_entropy(r.logits, y,
                                                torch::nn::functional::CrossEntropyFuncOptions().weight(weights))
               .item<double>();
  auto p = torch::softmax(r.logits.to(torch::kDouble), 1).select(1, 1).contiguous();
  r.auroc = metrics::auroc(std::vector<double>(p.data_ptr<double>(), p.data_ptr<double>() + p.numel()), labels);
  return r;
}

data::LoaderOptions train_loader_options(const TrainOptions& o, int workers) {
  data::LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.shuffle = true;
  lo.augment = o.augment;
  lo.augment_options = scaled(transforms::AugmentOptions{}, o.augment_strength);
  lo.augment_options.horizontal_flip = o.horizontal_flip;
  lo.seed = o.seed;
  lo.workers = workers;
  lo.drop_last = true;
  return lo;
}

// Epochs, the schedule, early stopping on validation AUROC, checkpoints in the run folder.
train::TrainerOptions trainer_options(const TrainOptions& o, int64_t steps_per_epoch, const json& stored) {
  train::TrainerOptions to;
  to.epochs = o.epochs;
  to.steps_per_epoch = steps_per_epoch;
  to.schedule = {train::parse_schedule(o.schedule), o.lr, steps_per_epoch * o.epochs,
                 static_cast<int64_t>(o.warmup_epochs * steps_per_epoch)};
  to.monitor = "val_auroc";
  to.patience = o.patience;
  to.unit = "img";
  to.units_per_epoch = steps_per_epoch * o.batch_size;
  to.progress = o.progress;
  to.run_dir = o.out;
  to.resume = o.resume;
  to.run_options = &stored;
  return to;
}

// One batch's loss: class-weighted (smoothed) cross-entropy, or with --mixup Zhang et al.'s convex
// pairs of images and of their losses; the pairing and the Beta draw come from `seed` (per step,
// so a resumed run pairs the same images). The forward runs under bf16 autocast when asked;
// backward and the step stay outside.
torch::Tensor training_loss(nn::ClassifierNetImpl& net, const torch::Tensor& x, const torch::Tensor& y,
                            const torch::nn::functional::CrossEntropyFuncOptions& ce, const TrainOptions& o,
                            uint64_t seed, bool bf16) {
  using torch::nn::functional::cross_entropy;
  if (o.mixup <= 0) {
    train::AutocastGuard autocast(bf16);
    return cross_entropy(net.forward(x), y, ce);
  }
  std::mt19937_64 rng(seed);
  std::gamma_distribution<double> g(o.mixup, 1.0);
  const double a = g(rng), lam = a / (a + g(rng));
  std::vector<int64_t> order(static_cast<size_t>(x.size(0)));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  const auto perm = torch::tensor(order);
  const auto mixed = (x * lam + x.index_select(0, perm) * (1 - lam)).contiguous(torch::MemoryFormat::ChannelsLast);
  train::AutocastGuard autocast(bf16);
  const auto z = net.forward(mixed);
  return cross_entropy(z, y, ce) * lam + cross_entropy(z, y.index_select(0, perm), ce) * (1 - lam);
}

// The training loop: AdamW, the schedule, class-weighted cross-entropy, early stopping on
// validation AUROC, the best weights in RUN/model.pt, a checkpoint every epoch.
train::TrainResult fit_classifier(const TrainOptions& o, nn::ClassifierNet& net, data::DecodedCache& cache,
                                  const data::ImageDataset& ds, const data::Split& split, const torch::Tensor& class_w,
                                  int workers, train::DataParallel* dp) {
  const fs::path run = o.out;
  const bool writes = !dp || dp->is_main();
  if (dp) {
    dp->broadcast_parameters(net->parameters());
    dp->attach(net->parameters());
    if (writes)
      spdlog::info("data-parallel: {} processes, {} gradient buckets, {} bytes all-reduced per step", dp->world(),
                   dp->buckets(), dp->bytes_per_step());
  }
  torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  data::LoaderOptions lo = train_loader_options(o, workers);
  const int64_t steps_full = static_cast<int64_t>(split.train.size()) / o.batch_size;
  const int64_t steps_per_epoch =
      o.max_batches_per_epoch > 0 ? std::min<int64_t>(steps_full, o.max_batches_per_epoch) : steps_full;
  const json stored = options_json(o);
  const bool bf16 = core::resolve_precision(o.precision) == core::Precision::Bf16;
  train::TrainerOptions to = trainer_options(o, steps_per_epoch, stored);
  if (!writes) to.run_dir.clear(), to.progress = false, to.log_epochs = false;

  // With --ema, a second network holds the weights' moving average: it is what is validated and kept.
  nn::ClassifierNet average = o.ema > 0 ? nn::make_classifier(o.architecture, 1, 2) : nn::ClassifierNet(nullptr);
  int64_t steps_done = 0;
  if (average) {
    nn::to_channels_last(*average);
    train::update_average(*average, *net, o.ema, 0);
  }
  nn::ClassifierNet& kept = average ? average : net;
  const auto ce = torch::nn::functional::CrossEntropyFuncOptions().weight(class_w).label_smoothing(o.label_smoothing);

  std::optional<data::ImageLoader> loader;
  train::TrainerHooks hooks;
  hooks.begin_epoch = [&](int epoch) {
    net->train();
    lo.epoch = epoch;
    loader.emplace(cache, ds, split.train, lo);
  };
  hooks.train_step = [&](int64_t step, double lr) -> std::optional<std::pair<double, int64_t>> {
    auto b = loader->next();
    if (!b) return std::nullopt;
    train::set_lr(opt, lr);
    auto x = torch::from_blob(b->pixels.data(), {b->size, 1, b->image_size, b->image_size}, torch::kFloat)
                 .contiguous(torch::MemoryFormat::ChannelsLast);
    const auto labels = torch::tensor(b->labels);
    double value = 0;
    if (!dp) {
      const torch::Tensor loss = training_loss(
          *net, x, labels, ce, o, (o.seed * 7919ULL + lo.epoch) * 1000003ULL + static_cast<uint64_t>(step), bf16);
      value = train::optimise(opt, loss);
    } else {  // this rank's rows; the class-weighted mean over the whole batch once summed across ranks
      const auto [r0, r1] = dp->shard(b->size);
      const auto xs = x.slice(0, r0, r1), ys = labels.slice(0, r0, r1);
      auto sum_ce = torch::nn::functional::CrossEntropyFuncOptions().weight(class_w).label_smoothing(o.label_smoothing);
      sum_ce.reduction(torch::kSum);
      torch::Tensor loss;
      {
        train::AutocastGuard autocast(bf16);
        loss = torch::nn::functional::cross_entropy(net->forward(xs), ys, sum_ce) /
               class_w.index_select(0, labels).sum().item<double>();
      }
      opt.zero_grad();
      loss.backward();
      dp->finish_gradients();
      opt.step();
      value = dp->sum(loss.item<double>());
    }
    if (average) train::update_average(*average, *net, o.ema, ++steps_done);
    return std::pair{value, static_cast<int64_t>(b->size)};
  };
  hooks.validate = [&](int) {
    loader.reset();
    ValResult v = validate_epoch(*kept, cache, ds, split.validation, class_w, o.batch_size, workers, o.progress, bf16);
    return train::Metrics{{"val_loss", v.loss}, {"val_auroc", std::isfinite(v.auroc) ? v.auroc : 0.0}};
  };
  hooks.save_best = [&] {
    if (writes) save_weights(*kept, run / kWeightsFile);
  };
  hooks.save_checkpoint = [&](const fs::path& ck) {
    save_weights(*net, ck / "model.pt");
    if (average) {
      save_weights(*average, ck / "average.pt");
      core::write_json_file(ck / "average.json", json{{"steps", steps_done}});
    }
    core::write_atomic_with(ck / "optimizer.pt", [&](const fs::path& tmp) { torch::save(opt, tmp.string()); });
  };
  hooks.load_checkpoint = [&](const fs::path& ck) {
    load_weights(*net, ck / "model.pt", o.architecture);
    if (average) {
      load_weights(*average, ck / "average.pt", o.architecture);
      steps_done = core::read_json_file(ck / "average.json").at("steps").get<int64_t>();
    }
    try {
      torch::load(opt, (ck / "optimizer.pt").string());
    } catch (const c10::Error&) {
      fail_invalid((ck / "optimizer.pt").string() + ": damaged optimizer checkpoint");
    }
  };
  hooks.end_epoch = [&](const std::vector<train::EpochRecord>& history) {
    if (writes) write_curves(run, history);
  };
  return train::fit(to, hooks);
}

struct Calibrated {
  std::vector<double> offsets;  // per class, added to the logits
  double temperature = 1, threshold = 0.5;
  metrics::Interval threshold_ci;  // the threshold chosen again on bootstrap resamples of validation
  double prevalence = 0.5;         // positive share of validation: the calibrated probabilities' prior
  ClassifierReport report;         // validation, at the threshold
  json fit_report;                 // NLL and ECE before/after
};

// Calibrates and chooses the operating point on validation, with the best epoch's weights. The
// class-weighted loss trains under a shifted prior: the network learns q(c|x) ~ w_c p(c|x).
// Subtracting log w_c from each logit undoes that shift exactly (derived, not fitted); a
// temperature fitted on validation then corrects the confidence.
Calibrated calibrate(const TrainOptions& o, nn::ClassifierNet& net, data::DecodedCache& cache,
                     const data::ImageDataset& ds, const data::Split& split, const torch::Tensor& class_w,
                     int workers) {
  load_weights(*net, o.out / kWeightsFile, o.architecture);
  nn::to_channels_last(*net);
  const bool bf16 = core::resolve_precision(o.precision) == core::Precision::Bf16;
  ValResult v = validate_epoch(*net, cache, ds, split.validation, class_w, o.batch_size, workers, o.progress, bf16);
  std::vector<int> yv;
  for (size_t i : split.validation) yv.push_back(ds.samples[i].label);
  Calibrated c;
  auto raw_rows = to_rows(v.logits);
  c.offsets = {-std::log(class_w[0].item<double>()), -std::log(class_w[1].item<double>())};
  auto rows = raw_rows;
  for (auto& r : rows)
    for (size_t k = 0; k < r.size(); ++k) r[k] += c.offsets[k];
  c.temperature = metrics::fit_temperature(rows, yv);
  auto positive = [&](const std::vector<std::vector<double>>& z, double t) {
    std::vector<double> p;
    for (const auto& r : metrics::softmax(z, t)) p.push_back(r[1]);
    return p;
  };
  std::vector<double> p_raw = positive(raw_rows, 1.0), p_cal = positive(rows, c.temperature);
  auto choose = [&](const std::vector<double>& p, const std::vector<int>& y) {
    return o.target_sensitivity ? metrics::threshold_for_sensitivity(p, y, *o.target_sensitivity)
                                : metrics::youden_threshold(p, y);
  };
  c.threshold = choose(p_cal, yv);
  c.threshold_ci = metrics::bootstrap_ci(
      p_cal.size(),
      [&](const std::vector<size_t>& idx) {
        std::vector<double> p;
        std::vector<int> y;
        int pos = 0;
        for (size_t i : idx) p.push_back(p_cal[i]), y.push_back(yv[i]), pos += yv[i];
        return pos == 0 || pos == static_cast<int>(idx.size()) ? std::nan("") : choose(p, y);
      },
      std::min(o.bootstrap_reps, 500), 0.95, o.seed + 11);
  c.prevalence = std::accumulate(yv.begin(), yv.end(), 0.0) / std::max<size_t>(1, yv.size());
  c.report = make_report(p_cal, yv, c.threshold, ds.class_names[1], o.bootstrap_reps, o.seed);
  c.fit_report = {{"nll_before", metrics::nll(raw_rows, yv, 1.0)},
                  {"nll_after", metrics::nll(rows, yv, c.temperature)},
                  {"ece_before", metrics::calibration_report(p_raw, yv).ece},
                  {"ece_after", c.report.calibration.ece}};
  return c;
}

// Absolute paths, and a 'split' column, so `medai image evaluate --data RUN/split.csv
// --split validation` re-scores the validation images.
void write_split_csv(const fs::path& run, const data::ImageDataset& ds, const data::Split& split) {
  // The index's other columns (e.g. subtype) come along, for per-group evaluation of validation.
  std::vector<std::string> extra;
  if (!ds.samples.empty())
    for (const auto& [k, v] : ds.samples.front().columns)
      if (k != "path" && k != "label" && k != "patient_id" && k != "split") extra.push_back(k);
  std::string csv = "path,label,patient_id,split";
  for (const auto& k : extra) csv += "," + io::csv_escape(k);
  csv += "\n";
  for (auto [idx, name] : {std::pair{&split.train, "train"}, std::pair{&split.validation, "validation"}})
    for (size_t i : *idx) {
      const auto& s = ds.samples[i];
      csv += io::csv_escape(fs::absolute(s.path).lexically_normal().string()) + "," + ds.class_names[s.label] + "," +
             io::csv_escape(s.patient_id) + "," + name;
      for (const auto& k : extra) {
        auto it = s.columns.find(k);
        csv += "," + io::csv_escape(it == s.columns.end() ? "" : it->second);
      }
      csv += "\n";
    }
  core::write_file_atomic(run / "split.csv", csv);
}

size_t patient_count(const data::ImageDataset& ds, const std::vector<size_t>& idx) {
  std::set<std::string> s;
  for (size_t i : idx) s.insert(ds.samples[i].patient_id);
  return s.size();
}

// The validation split scored again under each simulated acquisition change (evaluate --perturb
// all), for the card: how far the operating point moves when the films are blurred, zoomed...
json robustness_section(ClassifierModel& model, const data::ImageDataset& ds, const std::vector<size_t>& validation,
                        bool progress) {
  std::vector<int> y;
  for (size_t i : validation) y.push_back(ds.samples[i].label == model.positive_index() ? 1 : 0);
  return {{"split", "validation"},
          {"threshold", model.threshold()},
          {"method", "medai image evaluate --perturb all on the validation split"},
          {"perturbations", perturbation_report(model, ds, validation, y, model.threshold(),
                                                transforms::perturbation_names(), 1, progress)}};
}

std::string loss_description(const TrainOptions& o) {
  std::string d = "class-weighted cross-entropy";
  if (o.label_smoothing > 0) d += ", label smoothing " + fmt::format("{:g}", o.label_smoothing);
  if (o.mixup > 0) d += ", mixup Beta(" + fmt::format("{:g}", o.mixup) + ")";
  if (o.ema > 0) d += "; weights: moving average, decay " + fmt::format("{:g}", o.ema);
  return d;
}

ClassifierCard make_card(const TrainOptions& o, const data::ImageDataset& ds, const data::Split& split,
                         const train::TrainResult& fitted, const Calibrated& cal, const torch::Tensor& class_w) {
  const fs::path& run = o.out;
  const auto counts = ds.class_counts();
  auto patients = [&](const std::vector<size_t>& idx) { return patient_count(ds, idx); };
  ClassifierCard card;
  card.core = core::ModelCardCore::fresh(run, core::ModelKind::Classifier, kClassifierTask);
  card.core.architecture = o.architecture;
  card.core.inputs = {{"image", "one radiograph: PNG/JPEG (8/16-bit), DICOM or NIfTI (middle slice)", "pixels"}};
  card.core.training = options_json(o);
  card.core.data = {{"source", o.data.string()},
                    {"fingerprint_sha256", ds.fingerprint()},
                    {"images", ds.samples.size()},
                    {"class_counts", counts},
                    {"patients", patients(split.train) + patients(split.validation)}};
  card.core.split = {{"method", "stratified by label, grouped by patient"},
                     {"validation_fraction", o.validation_fraction},
                     {"seed", o.split_seed.value_or(o.seed)},
                     {"train_images", split.train.size()},
                     {"validation_images", split.validation.size()},
                     {"train_patients", patients(split.train)},
                     {"validation_patients", patients(split.validation)},
                     {"file", "split.csv"}};
  card.core.metrics = {{"validation", report_json(cal.report)}};
  card.core.intended_use =
      "Decision support for detecting pneumonia-consistent patterns on paediatric anterior-posterior chest "
      "radiographs, for review by a qualified clinician. Not a diagnosis; not for use without human review.";
  card.core.limitations = {
      "Validated only on a patient-grouped split of its own training source; performance on other hospitals, "
      "scanners, adult patients or other views is unknown.",
      "Trained at low resolution (" + std::to_string(o.image_size) + " px); subtle findings may be missed.",
      "Does not distinguish bacterial from viral pneumonia or detect other pathology.",
      "Probabilities are calibrated on the validation split; recalibrate before use on a new population.",
      "Grad-CAM heatmaps show where the network looked, not a lesion segmentation."};
  card.classes = ds.class_names;
  card.positive_index = 1;
  card.image_size = o.image_size;
  card.channels = 1;
  card.preprocessing_steps = {"decode (PNG/JPEG 8/16-bit, DICOM with rescale + VOI window/LUT, NIfTI middle slice)",
                              "MONOCHROME1 inverted; colour to luminance; scaled to [0, 1]",
                              "resize longer side to size, zero-pad to square", "per-image z-score normalisation"};
  card.operating_point = {cal.threshold, o.target_sensitivity ? "target_sensitivity" : "youden", o.target_sensitivity,
                          "validation split"};
  card.calibration.method =
      "prior-shift correction of the class-weighted loss (logit - log w_c), then "
      "temperature scaling fitted on validation (NLL)";
  card.calibration.logit_offsets = cal.offsets;
  card.calibration.temperature = cal.temperature;
  card.calibration.prevalence = cal.prevalence;
  if (std::isfinite(cal.threshold_ci.lower))
    card.operating_point.threshold_ci = {cal.threshold_ci.lower, cal.threshold_ci.upper};
  card.calibration.report = cal.fit_report;
  card.extra["training_run"] = {{"epochs_run", fitted.history.size()},
                                {"best_epoch", fitted.best_epoch},
                                {"stopped_early", fitted.stopped_early},
                                {"seconds", fitted.seconds},
                                {"threads", core::runtime_threads()},
                                {"optimizer", "AdamW"},
                                {"loss", loss_description(o)},
                                {"class_weights", {class_w[0].item<double>(), class_w[1].item<double>()}}};
  return card;
}

}  // namespace

json train_classifier(const TrainOptions& cli) {
  train::apply_torch_threads();
  const fs::path run = cli.out;
  TrainOptions o = cli;
  if (cli.resume) {
    o = with_stored_options(cli, train::resume_options(run));
  } else if (!o.distributed || train::distributed_env_from_environment().rank == 0) {
    train::check_fresh_run_folder(run);
  }
  validate(o);
  train::parse_schedule(o.schedule);  // before any data is read
  core::resolve_precision(o.precision);
  const int workers = o.workers > 0 ? o.workers : core::runtime_threads();

  data::DatasetOptions dopt;
  dopt.split = o.split;
  data::ImageDataset ds = data::load_image_dataset(o.data, dopt);
  if (ds.class_names.size() != 2)
    fail_unsupported(o.data.string() + ": found " + std::to_string(ds.class_names.size()) +
                     " classes; medai image train builds two-class detectors");
  data::Split split = data::grouped_stratified_split(ds, o.validation_fraction, o.split_seed.value_or(o.seed));
  if (o.train_fraction < 1) {
    split.train = data::subsample_patients(ds, split.train, o.train_fraction, o.split_seed.value_or(o.seed));
    spdlog::info("--train-fraction {:g}: {} training images of {} patients kept", o.train_fraction, split.train.size(),
                 patient_count(ds, split.train));
  }
  const std::vector<size_t> real_train = split.train;  // the guard is fitted on real images only
  if (!o.synthetic.empty()) {                          // checks the GAN run before anything is written
    const auto added =
        synthesis::add_synthetic_images(ds, split.train, o.synthetic, o.synthetic_ratio, run / "synthetic", o.seed);
    split.train.insert(split.train.end(), added.begin(), added.end());
  }
  if (!o.distributed || train::distributed_env_from_environment().rank == 0) fs::create_directories(run);
  auto counts = ds.class_counts();
  spdlog::info("data: {} images ({} {}, {} {}), {} train / {} validation (grouped by patient)", ds.samples.size(),
               counts[0], ds.class_names[0], counts[1], ds.class_names[1], split.train.size(), split.validation.size());
  data::DecodedCache cache(ds, o.image_size, o.cache);
  if (o.cache) {  // decodes everything once, and finds unreadable files before any training
    std::vector<size_t> all = split.train;
    all.insert(all.end(), split.validation.begin(), split.validation.end());
    cache.preload(all, workers, o.progress);
  }

  torch::manual_seed(o.seed);
  nn::ClassifierNet net = nn::make_classifier(o.architecture, 1, 2);
  nn::to_channels_last(*net);
  std::vector<int64_t> train_counts(2, 0);
  for (size_t i : split.train) train_counts[ds.samples[i].label]++;
  auto class_w = torch::tensor({static_cast<double>(split.train.size()) / (2.0 * train_counts[0]),
                                static_cast<double>(split.train.size()) / (2.0 * train_counts[1])},
                               torch::kFloat);
  std::unique_ptr<train::DataParallel> dp;
  if (o.distributed) dp = std::make_unique<train::DataParallel>(train::distributed_env_from_environment());
  const train::TrainResult fitted = fit_classifier(o, net, cache, ds, split, class_w, workers, dp.get());
  if (dp && !dp->is_main()) return json{{"rank", dp->rank()}};  // rank 0 calibrates and writes the run
  const Calibrated cal = calibrate(o, net, cache, ds, split, class_w, workers);
  write_report_plots(cal.report, run, "validation");
  write_curves(run, fitted.history);
  write_split_csv(run, ds, split);
  ClassifierCard typed = make_card(o, ds, split, fitted, cal, class_w);
  if (o.train_fraction < 1) typed.core.split["train_fraction"] = o.train_fraction;
  if (!o.synthetic.empty())
    typed.core.data["synthetic"] = {{"gan_run", fs::absolute(o.synthetic).string()},
                                    {"ratio", o.synthetic_ratio},
                                    {"images", split.train.size() - real_train.size()},
                                    {"folder", "synthetic/"},
                                    {"note", "generated images in training only; validation is real"}};
  if (split.train.size() >= kMinGuardImages && split.validation.size() >= kMinGuardImages) {
    ClassifierModel model(net, typed);
    GuardOptions go = o.guard;
    go.progress = o.progress;
    go.seed = o.seed;
    typed.guard = fit_guard(model, ds, real_train, split.validation, go, run);
    typed.extra["robustness"] = robustness_section(model, ds, split.validation, o.progress);
  } else {
    spdlog::warn(
        "too few images for the feature guard (needs {} training and {} validation): predictions get the "
        "input checks only",
        kMinGuardImages, kMinGuardImages);
  }
  const json card = typed.to_json();
  core::write_json_file(run / core::kModelCardFile, card);
  const auto& rep = cal.report;
  spdlog::info(
      "validation: AUROC {:.4f} (95% CI {:.4f}-{:.4f}), accuracy {:.4f}, sensitivity {:.4f}, specificity {:.4f}; "
      "temperature {:.3f}, threshold {:.3f}",
      rep.auroc, rep.auroc_ci.lower, rep.auroc_ci.upper, rep.at_threshold.accuracy, rep.at_threshold.sensitivity,
      rep.at_threshold.specificity, cal.temperature, cal.threshold);
  return card;
}

}  // namespace medai::imaging
