#include "medai/imaging/train_classifier.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <set>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/progress.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/data/image_loader.h"
#include "medai/data/split.h"
#include "medai/imaging/classifier_model.h"
#include "medai/imaging/report.h"
#include "medai/io/csv.h"
#include "medai/io/plot.h"
#include "medai/metrics/calibration.h"
#include "medai/train/schedule.h"

namespace medai::imaging {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kStateFile = "train_state.json";

void validate(const TrainOptions& o) {
  if (o.image_size < nn::kMinInputSize || o.image_size > 1024)
    fail_invalid("--size " + std::to_string(o.image_size) + ": must be between " + std::to_string(nn::kMinInputSize) +
                 " and 1024 pixels");
  if (o.epochs < 1) fail_invalid("--epochs must be at least 1");
  if (o.batch_size < 2) fail_invalid("--batch must be at least 2 (batch normalisation)");
  if (!(o.lr > 0)) fail_invalid("--lr must be positive");
  if (o.target_sensitivity && !(*o.target_sensitivity > 0 && *o.target_sensitivity < 1))
    fail_invalid("--target-sensitivity must be in (0, 1)");
  try {
    nn::check_architecture(o.architecture);
  } catch (const Error& e) {
    fail_invalid(std::string("--arch: ") + e.what());
  }
}

json options_json(const TrainOptions& o) {
  return {{"architecture", o.architecture}, {"size", o.image_size}, {"epochs", o.epochs}, {"batch", o.batch_size},
          {"lr", o.lr}, {"weight_decay", o.weight_decay}, {"schedule", o.schedule}, {"warmup_epochs", o.warmup_epochs},
          {"patience", o.patience}, {"validation_fraction", o.validation_fraction}, {"seed", o.seed},
          {"augment", o.augment}, {"horizontal_flip", o.horizontal_flip}, {"split", o.split}};
}

std::vector<std::vector<double>> to_rows(const torch::Tensor& t) {
  auto d = t.to(torch::kDouble).contiguous();
  std::vector<std::vector<double>> rows(d.size(0));
  for (int64_t i = 0; i < d.size(0); ++i) rows[i].assign(d[i].data_ptr<double>(), d[i].data_ptr<double>() + d.size(1));
  return rows;
}

void write_curves(const fs::path& dir, const json& history) {
  std::string csv = "epoch,train_loss,val_loss,val_auroc,lr,seconds\n";
  io::PlotPanel loss{"loss", "epoch", "loss"}, auc{"validation AUROC", "epoch", "AUROC"};
  io::Series tl{"train", {}, {}, {31, 119, 180}, true}, vl{"validation", {}, {}, {214, 39, 40}, true},
      va{"validation", {}, {}, {44, 160, 44}, true};
  for (const auto& h : history) {
    char line[256];
    std::snprintf(line, sizeof line, "%d,%.6f,%.6f,%.6f,%.8f,%.1f\n", h["epoch"].get<int>(), h["train_loss"].get<double>(),
                  h["val_loss"].get<double>(), h["val_auroc"].get<double>(), h["lr"].get<double>(),
                  h["seconds"].get<double>());
    csv += line;
    double e = h["epoch"].get<int>();
    tl.x.push_back(e); tl.y.push_back(h["train_loss"]);
    vl.x.push_back(e); vl.y.push_back(h["val_loss"]);
    va.x.push_back(e); va.y.push_back(h["val_auroc"]);
  }
  loss.series = {tl, vl};
  auc.series = {va};
  core::write_file_atomic(dir / "curves.csv", csv);
  io::save_plot(dir / "curves.png", {loss, auc});
}

struct ValResult {
  torch::Tensor logits;
  double loss = 0, auroc = 0;
};

ValResult validate_epoch(nn::ClassifierNetImpl& net, data::DecodedCache& cache, const data::ImageDataset& ds,
                         const std::vector<size_t>& idx, const torch::Tensor& weights, int batch, int workers,
                         bool progress) {
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
    outs.push_back(net.forward(x));
    for (auto l : b->labels) labels.push_back(static_cast<int>(l));
    bar.advance(b->size);
  }
  bar.finish();
  ValResult r;
  r.logits = torch::cat(outs, 0);
  auto y = torch::tensor(std::vector<int64_t>(labels.begin(), labels.end()));
  r.loss = torch::nn::functional::cross_entropy(r.logits, y, torch::nn::functional::CrossEntropyFuncOptions().weight(weights)).item<double>();
  auto p = torch::softmax(r.logits.to(torch::kDouble), 1).select(1, 1).contiguous();
  r.auroc = metrics::auroc(std::vector<double>(p.data_ptr<double>(), p.data_ptr<double>() + p.numel()), labels);
  return r;
}

void set_lr(torch::optim::AdamW& opt, double lr) {
  for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
}

}  // namespace

json train_classifier(const TrainOptions& cli) {
  apply_torch_threads();
  const fs::path run = cli.out;
  const fs::path state_path = run / kStateFile;
  TrainOptions o = cli;
  json state;
  if (cli.resume) {
    if (!fs::exists(state_path)) fail_not_found(state_path.string() + ": nothing to resume (no training state)");
    state = core::read_json_file(state_path);
    const auto& so = state.at("options");  // the interrupted run's settings win
    o.architecture = so["architecture"]; o.image_size = so["size"]; o.epochs = so["epochs"]; o.batch_size = so["batch"];
    o.lr = so["lr"]; o.weight_decay = so["weight_decay"]; o.schedule = so["schedule"]; o.warmup_epochs = so["warmup_epochs"];
    o.patience = so["patience"]; o.validation_fraction = so["validation_fraction"]; o.seed = so["seed"];
    o.augment = so["augment"]; o.horizontal_flip = so["horizontal_flip"]; o.split = so["split"];
    spdlog::info("resuming {} after epoch {}", run.string(), state["epoch_completed"].get<int>());
  } else if (fs::exists(state_path) || fs::exists(run / core::kModelCardFile)) {
    fail_invalid(run.string() + ": already holds a training run; pass --resume to continue it or choose another --out");
  }
  validate(o);
  const auto schedule_kind = train::parse_schedule(o.schedule);
  const int workers = o.workers > 0 ? o.workers : core::runtime_threads();

  data::DatasetOptions dopt;
  dopt.split = o.split;
  data::ImageDataset ds = data::load_image_dataset(o.data, dopt);
  if (ds.class_names.size() != 2)
    fail_unsupported(o.data.string() + ": found " + std::to_string(ds.class_names.size()) +
                     " classes; medai image train builds two-class detectors");
  data::Split split = data::grouped_stratified_split(ds, o.validation_fraction, o.seed);
  auto patients = [&](const std::vector<size_t>& idx) {
    std::set<std::string> s;
    for (size_t i : idx) s.insert(ds.samples[i].patient_id);
    return s.size();
  };
  auto counts = ds.class_counts();
  spdlog::info("data: {} images ({} {}, {} {}), {} train / {} validation (grouped by patient)", ds.samples.size(),
               counts[0], ds.class_names[0], counts[1], ds.class_names[1], split.train.size(), split.validation.size());
  fs::create_directories(run);

  data::DecodedCache cache(ds, o.image_size, o.cache);
  if (o.cache) {  // decodes everything once, and finds unreadable files before any training
    std::vector<size_t> all = split.train;
    all.insert(all.end(), split.validation.begin(), split.validation.end());
    cache.preload(all, workers, o.progress);
  }

  torch::manual_seed(o.seed);
  nn::ClassifierNet net = nn::make_classifier(o.architecture, 1, 2);
  nn::to_channels_last(*net);
  torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));

  std::vector<int64_t> train_counts(2, 0);
  for (size_t i : split.train) train_counts[ds.samples[i].label]++;
  auto class_w = torch::tensor({static_cast<double>(split.train.size()) / (2.0 * train_counts[0]),
                                static_cast<double>(split.train.size()) / (2.0 * train_counts[1])}, torch::kFloat);

  int start_epoch = 1;
  json history = json::array();
  double best_auroc = -1;
  int best_epoch = 0, since_best = 0;
  bool stopped_early = false;
  double seconds_before = 0;
  if (cli.resume) {
    fs::path ck = run / state["checkpoint"].get<std::string>();
    load_weights(*net, ck / "model.pt", o.architecture);
    try {
      torch::load(opt, (ck / "optimizer.pt").string());
    } catch (const c10::Error&) {
      fail_invalid((ck / "optimizer.pt").string() + ": damaged optimizer checkpoint");
    }
    start_epoch = state["epoch_completed"].get<int>() + 1;
    history = state["history"];
    best_auroc = state["best_auroc"];
    best_epoch = state["best_epoch"];
    since_best = state["since_best"];
    stopped_early = state.value("stopped_early", false);
    seconds_before = state.value("seconds", 0.0);
  }

  data::LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.shuffle = true;
  lo.augment = o.augment;
  lo.augment_options.horizontal_flip = o.horizontal_flip;
  lo.seed = o.seed;
  lo.workers = workers;
  lo.drop_last = true;
  const int64_t steps_full = static_cast<int64_t>(split.train.size()) / o.batch_size;
  const int64_t steps_per_epoch =
      o.max_batches_per_epoch > 0 ? std::min<int64_t>(steps_full, o.max_batches_per_epoch) : steps_full;
  train::Schedule sched{schedule_kind, o.lr, steps_per_epoch * o.epochs,
                        static_cast<int64_t>(o.warmup_epochs * steps_per_epoch)};
  auto t_start = std::chrono::steady_clock::now();

  for (int epoch = start_epoch; epoch <= o.epochs && !stopped_early; ++epoch) {
    auto t0 = std::chrono::steady_clock::now();
    net->train();
    lo.epoch = epoch;
    data::ImageLoader loader(cache, ds, split.train, lo);
    core::ProgressBar bar("epoch " + std::to_string(epoch) + "/" + std::to_string(o.epochs), steps_per_epoch * o.batch_size,
                          "img", o.progress);
    double loss_sum = 0;
    int64_t step_in_epoch = 0;
    double lr = o.lr;
    while (step_in_epoch < steps_per_epoch) {
      auto b = loader.next();
      if (!b) break;
      lr = sched.lr_at((epoch - 1) * steps_per_epoch + step_in_epoch);
      set_lr(opt, lr);
      auto x = torch::from_blob(b->pixels.data(), {b->size, 1, b->image_size, b->image_size}, torch::kFloat)
                   .contiguous(torch::MemoryFormat::ChannelsLast);
      auto y = torch::tensor(b->labels);
      opt.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(net->forward(x), y,
                                                       torch::nn::functional::CrossEntropyFuncOptions().weight(class_w));
      loss.backward();
      opt.step();
      double lv = loss.item<double>();
      if (!std::isfinite(lv)) throw Error(ErrorCode::Internal, "training diverged (loss is not finite); try a lower --lr");
      loss_sum += lv;
      ++step_in_epoch;
      char pf[64];
      std::snprintf(pf, sizeof pf, "loss %.4f", loss_sum / step_in_epoch);
      bar.set_postfix(pf);
      bar.advance(b->size);
    }
    bar.finish();
    ValResult v = validate_epoch(*net, cache, ds, split.validation, class_w, o.batch_size, workers, o.progress);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    history.push_back({{"epoch", epoch}, {"train_loss", loss_sum / std::max<int64_t>(1, step_in_epoch)},
                       {"val_loss", v.loss}, {"val_auroc", std::isfinite(v.auroc) ? v.auroc : 0.0}, {"lr", lr},
                       {"seconds", secs}});
    spdlog::info("epoch {}/{}: train loss {:.4f}, val loss {:.4f}, val AUROC {:.4f} ({:.0f} s)", epoch, o.epochs,
                 loss_sum / std::max<int64_t>(1, step_in_epoch), v.loss, v.auroc, secs);
    if (v.auroc > best_auroc) {
      best_auroc = v.auroc;
      best_epoch = epoch;
      since_best = 0;
      save_weights(*net, run / kWeightsFile);
    } else if (++since_best >= o.patience) {
      stopped_early = true;
      spdlog::info("early stopping: no validation AUROC gain for {} epochs (best {:.4f} at epoch {})", o.patience,
                   best_auroc, best_epoch);
    }
    // Checkpoint: a complete folder first, then the state that points at it (atomic rename).
    const std::string ck_name = "checkpoints/epoch-" + std::to_string(epoch);
    fs::path ck = run / ck_name;
    fs::create_directories(ck);
    save_weights(*net, ck / "model.pt");
    core::write_atomic_with(ck / "optimizer.pt", [&](const fs::path& tmp) { torch::save(opt, tmp.string()); });
    double seconds = seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    state = {{"options", options_json(o)}, {"epoch_completed", epoch}, {"checkpoint", ck_name},
             {"history", history}, {"best_auroc", best_auroc}, {"best_epoch", best_epoch}, {"since_best", since_best},
             {"stopped_early", stopped_early}, {"seconds", seconds}};
    core::write_json_file(state_path, state);
    for (const auto& e : fs::directory_iterator(run / "checkpoints"))
      if (e.path().filename() != fs::path(ck_name).filename()) fs::remove_all(e.path());
    write_curves(run, history);
  }

  // Calibrate and choose the operating point on validation, with the best epoch's weights.
  load_weights(*net, run / kWeightsFile, o.architecture);
  nn::to_channels_last(*net);
  ValResult v = validate_epoch(*net, cache, ds, split.validation, class_w, o.batch_size, workers, o.progress);
  std::vector<int> yv;
  for (size_t i : split.validation) yv.push_back(ds.samples[i].label);
  // Calibration. The class-weighted loss trains under a shifted prior: the network learns
  // q(c|x) ~ w_c p(c|x). Subtracting log w_c from each logit undoes that shift exactly (derived,
  // not fitted); a temperature fitted on validation then corrects the confidence.
  auto raw_rows = to_rows(v.logits);
  const std::vector<double> offsets{-std::log(class_w[0].item<double>()), -std::log(class_w[1].item<double>())};
  auto rows = raw_rows;
  for (auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) r[c] += offsets[c];
  double temperature = metrics::fit_temperature(rows, yv);
  auto positive = [&](const std::vector<std::vector<double>>& z, double t) {
    std::vector<double> p;
    for (const auto& r : metrics::softmax(z, t)) p.push_back(r[1]);
    return p;
  };
  std::vector<double> p_raw = positive(raw_rows, 1.0), p_cal = positive(rows, temperature);
  double threshold = o.target_sensitivity ? metrics::threshold_for_sensitivity(p_cal, yv, *o.target_sensitivity)
                                          : metrics::youden_threshold(p_cal, yv);
  ClassifierReport rep = make_report(p_cal, yv, threshold, ds.class_names[1], o.bootstrap_reps, o.seed);
  write_report_plots(rep, run, "validation");
  write_curves(run, history);

  // Absolute paths, and a 'split' column, so `medai image evaluate --data RUN/split.csv
  // --split validation` re-scores the validation images.
  std::string split_csv = "path,label,patient_id,split\n";
  for (auto [idx, name] : {std::pair{&split.train, "train"}, std::pair{&split.validation, "validation"}})
    for (size_t i : *idx)
      split_csv += io::csv_escape(fs::absolute(ds.samples[i].path).lexically_normal().string()) + "," + ds.class_names[ds.samples[i].label] + "," +
                   io::csv_escape(ds.samples[i].patient_id) + "," + name + "\n";
  core::write_file_atomic(run / "split.csv", split_csv);

  double seconds = state.value("seconds", 0.0);
  json card = {
      {"schema", "medai.model_card/1"},
      {"name", fs::absolute(run).filename().string()},
      {"task", "binary image classification"},
      {"created", core::utc_timestamp()},
      {"architecture", o.architecture},
      {"classes", ds.class_names},
      {"positive_index", 1},
      {"positive_class", ds.class_names[1]},
      {"preprocessing",
       {{"size", o.image_size}, {"channels", 1},
        {"steps", {"decode (PNG/JPEG 8/16-bit, DICOM with rescale + VOI window/LUT, NIfTI middle slice)",
                   "MONOCHROME1 inverted; colour to luminance; scaled to [0, 1]",
                   "resize longer side to size, zero-pad to square",
                   "per-image z-score normalisation"}}}},
      {"training", options_json(o)},
      {"training_run", {{"epochs_run", history.size()}, {"best_epoch", best_epoch}, {"stopped_early", stopped_early},
                        {"seconds", seconds}, {"threads", core::runtime_threads()}, {"optimizer", "AdamW"},
                        {"loss", "class-weighted cross-entropy"},
                        {"class_weights", {class_w[0].item<double>(), class_w[1].item<double>()}}}},
      {"data", {{"source", o.data.string()}, {"fingerprint_sha256", ds.fingerprint()}, {"images", ds.samples.size()},
                {"class_counts", counts}, {"patients", patients(split.train) + patients(split.validation)}}},
      {"split", {{"method", "stratified by label, grouped by patient"}, {"validation_fraction", o.validation_fraction},
                 {"seed", o.seed}, {"train_images", split.train.size()}, {"validation_images", split.validation.size()},
                 {"train_patients", patients(split.train)}, {"validation_patients", patients(split.validation)},
                 {"file", "split.csv"}}},
      {"operating_point", {{"threshold", threshold},
                           {"method", o.target_sensitivity ? "target_sensitivity" : "youden"},
                           {"target_sensitivity", o.target_sensitivity ? json(*o.target_sensitivity) : json(nullptr)},
                           {"chosen_on", "validation split"}}},
      {"calibration", {{"method", "prior-shift correction of the class-weighted loss (logit - log w_c), then "
                                  "temperature scaling fitted on validation (NLL)"},
                       {"logit_offsets", offsets}, {"temperature", temperature},
                       {"nll_before", metrics::nll(raw_rows, yv, 1.0)}, {"nll_after", metrics::nll(rows, yv, temperature)},
                       {"ece_before", metrics::calibration_report(p_raw, yv).ece}, {"ece_after", rep.calibration.ece}}},
      {"metrics", {{"validation", report_json(rep)}}},
      {"software", core::software_versions()},
      {"intended_use",
       "Decision support for detecting pneumonia-consistent patterns on paediatric anterior-posterior chest "
       "radiographs, for review by a qualified clinician. Not a diagnosis; not for use without human review."},
      {"limitations",
       {"Validated only on a patient-grouped split of its own training source; performance on other hospitals, "
        "scanners, adult patients or other views is unknown.",
        "Trained at low resolution (" + std::to_string(o.image_size) + " px); subtle findings may be missed.",
        "Does not distinguish bacterial from viral pneumonia or detect other pathology.",
        "Probabilities are calibrated on the validation split; recalibrate before use on a new population.",
        "Grad-CAM heatmaps show where the network looked, not a lesion segmentation."}}};
  core::write_json_file(run / core::kModelCardFile, card);
  spdlog::info("validation: AUROC {:.4f} (95% CI {:.4f}-{:.4f}), accuracy {:.4f}, sensitivity {:.4f}, specificity {:.4f}; "
               "temperature {:.3f}, threshold {:.3f}",
               rep.auroc, rep.auroc_ci.lower, rep.auroc_ci.upper, rep.at_threshold.accuracy,
               rep.at_threshold.sensitivity, rep.at_threshold.specificity, temperature, threshold);
  return card;
}

}  // namespace medai::imaging
