#include "medai/synthesis/train_gan.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/model_card.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/data/image_loader.h"
#include "medai/imaging/train_classifier.h"
#include "medai/io/csv.h"
#include "medai/io/image.h"
#include "medai/nn/nets/gan.h"
#include "medai/synthesis/gan_model.h"
#include "medai/train/torch_helpers.h"
#include "medai/train/trainer.h"

namespace medai::synthesis {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json options_json(const GanTrainOptions& o) {
  return {{"size", o.image_size},
          {"conditional", o.conditional},
          {"epochs", o.epochs},
          {"batch", o.batch_size},
          {"lr_generator", o.lr_generator},
          {"lr_discriminator", o.lr_discriminator},
          {"beta1", o.beta1},
          {"beta2", o.beta2},
          {"z_dim", o.z_dim},
          {"width", o.width},
          {"ema", o.ema},
          {"diff_augment", o.diff_augment},
          {"mode_seeking", o.mode_seeking},
          {"seed", o.seed},
          {"split", o.split},
          {"feature_epochs", o.feature_epochs}};
}

GanTrainOptions with_stored_options(GanTrainOptions o, const json& s) {
  o.image_size = s["size"], o.conditional = s["conditional"], o.epochs = s["epochs"], o.batch_size = s["batch"];
  o.lr_generator = s["lr_generator"], o.lr_discriminator = s["lr_discriminator"];
  o.beta1 = s["beta1"], o.beta2 = s["beta2"], o.z_dim = s["z_dim"], o.width = s["width"], o.ema = s["ema"];
  o.mode_seeking = s.value("mode_seeking", 0.0);
  o.diff_augment = s["diff_augment"], o.seed = s["seed"], o.split = s["split"], o.feature_epochs = s["feature_epochs"];
  return o;
}

void validate(const GanTrainOptions& o) {
  nn::check_gan_options({o.image_size, 1, o.z_dim, o.width});
  if (o.epochs < 1) fail_invalid("--epochs must be at least 1");
  if (o.batch_size < 4 || o.batch_size > 1024) fail_invalid("--batch must be 4..1024");
  if (!(o.lr_generator > 0) || !(o.lr_discriminator > 0)) fail_invalid("--lr-g and --lr-d must be positive");
  if (!(o.ema == 0 || (o.ema >= 0.9 && o.ema < 1))) fail_invalid("--ema must be 0 (off) or in [0.9, 1)");
  if (!(o.mode_seeking >= 0)) fail_invalid("--mode-seeking must be 0 (off) or more");
  if (o.batch_size % 2 != 0) fail_invalid("--batch must be even (the mode-seeking pairs)");
  if (o.feature_epochs < 0) fail_invalid("--feature-epochs must be 0 or more");
}

struct Nets {
  nn::Generator g{nullptr}, average{nullptr};
  nn::Discriminator d{nullptr};
  std::unique_ptr<torch::optim::Adam> opt_g, opt_d;
  int64_t steps = 0;
};

void write_curves(const fs::path& run, const std::vector<train::EpochRecord>& history) {
  train::epoch_curves(history).write(
      run, {{"losses", "epoch", "hinge loss", "epoch", {"d_loss", "g_loss"}, {"discriminator", "generator"}},
            {"discriminator scores", "epoch", "mean score", "epoch", {"d_real", "d_fake"}, {"real", "generated"}}});
}

// The fixed-noise sample grid of the moving-average generator: one row per class in turn.
void write_grid(Nets& n, const nn::GanOptions& go, const torch::Tensor& z, const fs::path& file) {
  torch::NoGradGuard ng;
  auto& g = n.average ? n.average : n.g;
  g->eval();
  const int64_t cols = 8;
  auto y = torch::arange(z.size(0), torch::kLong).div(cols, "floor").remainder(go.classes);
  const auto images = (g->forward(z, y) + 1) / 2;
  g->train();
  io::write_png(file, image_grid(images.clamp(0, 1), cols));
}

struct EpochStats {
  double d_loss = 0, g_loss = 0, d_real = 0, d_fake = 0;
  int64_t steps = 0;
};

int64_t steps_per_epoch(const GanTrainOptions& o, const data::ImageDataset& ds) {
  const int64_t full = static_cast<int64_t>(ds.samples.size()) / o.batch_size;
  return o.max_batches_per_epoch > 0 ? std::min<int64_t>(full, o.max_batches_per_epoch) : full;
}
int64_t images_per_epoch(const GanTrainOptions& o, const data::ImageDataset& ds) {
  return steps_per_epoch(o, ds) * o.batch_size;
}

train::TrainResult fit_gan(const GanTrainOptions& o, Nets& n, const nn::GanOptions& go, data::DecodedCache& cache,
                           const data::ImageDataset& ds, const json& stored) {
  const fs::path run = o.out;
  const int64_t steps = steps_per_epoch(o, ds);
  train::TrainerOptions to;
  to.epochs = o.epochs;
  to.steps_per_epoch = steps;
  to.schedule = {train::ScheduleKind::Constant, o.lr_generator, steps * o.epochs, 0};
  to.monitor = "epoch";  // no GAN loss measures quality: the last epoch's generator is kept
  to.patience = o.epochs + 1;
  to.unit = "img";
  to.units_per_epoch = steps * o.batch_size;
  to.progress = o.progress;
  to.run_dir = run;
  to.resume = o.resume;
  to.run_options = &stored;
  const auto fixed_z = torch::randn({64, go.z_dim}, at::detail::createCPUGenerator(o.seed + 7));
  fs::create_directories(run / "samples");

  std::vector<size_t> order(ds.samples.size());
  EpochStats stats;
  train::TrainerHooks hooks;
  hooks.begin_epoch = [&](int epoch) {
    std::iota(order.begin(), order.end(), size_t{0});
    std::mt19937_64 rng(o.seed * 1000003ULL + static_cast<uint64_t>(epoch));
    std::shuffle(order.begin(), order.end(), rng);
    n.g->train(), n.d->train();
    stats = {};
  };
  hooks.train_step = [&](int64_t step, double) -> std::optional<std::pair<double, int64_t>> {
    const auto first = order.begin() + step * o.batch_size;
    if (first + o.batch_size > order.end()) return std::nullopt;
    std::vector<size_t> idx(first, first + o.batch_size);
    const auto real = unit_images(cache, idx) * 2 - 1;  // the generator's range
    std::vector<int64_t> labels;
    for (size_t i : idx) labels.push_back(go.classes > 1 ? ds.samples[i].label : 0);
    const auto y = torch::tensor(labels);
    // The fakes' two halves share the real batch's first-half labels (for the mode-seeking pairs).
    const int64_t half = o.batch_size / 2;
    const auto y_fake = torch::cat({y.narrow(0, 0, half), y.narrow(0, 0, half)});
    const auto aug = [&](const torch::Tensor& x) { return o.diff_augment ? nn::diff_augment(x) : x; };
    const auto z = torch::randn({o.batch_size, go.z_dim});
    const auto fake = n.g->forward(z, y_fake);
    const auto d_real = n.d->forward(aug(real), y), d_fake = n.d->forward(aug(fake.detach()), y_fake);
    const double ld = train::optimise(*n.opt_d, nn::hinge_d_loss(d_real, d_fake));
    auto g_loss = nn::hinge_g_loss(n.d->forward(aug(fake), y_fake));
    if (o.mode_seeking > 0) g_loss = g_loss + o.mode_seeking * nn::mode_seeking_loss(fake, z);
    const double lg = train::optimise(*n.opt_g, g_loss);
    if (n.average) train::update_average(*n.average, *n.g, o.ema, ++n.steps);
    stats.d_loss += ld, stats.g_loss += lg, ++stats.steps;
    stats.d_real += d_real.mean().item<double>(), stats.d_fake += d_fake.mean().item<double>();
    return std::pair{ld, static_cast<int64_t>(o.batch_size)};
  };
  hooks.validate = [&](int epoch) {
    const double k = 1.0 / std::max<int64_t>(1, stats.steps);
    write_grid(n, go, fixed_z, run / "samples" / fmt::format("epoch-{:03d}.png", epoch));
    return train::Metrics{{"d_loss", stats.d_loss * k},
                          {"g_loss", stats.g_loss * k},
                          {"d_real", stats.d_real * k},
                          {"d_fake", stats.d_fake * k},
                          {"epoch", static_cast<double>(epoch)}};
  };
  hooks.save_best = [&] { train::save_module(n.average ? *n.average : *n.g, run / kGeneratorFile); };
  hooks.save_checkpoint = [&](const fs::path& ck) {
    train::save_module(*n.g, ck / "generator.pt");
    train::save_module(*n.d, ck / "discriminator.pt");
    if (n.average) train::save_module(*n.average, ck / "average.pt");
    train::save_optimizer(*n.opt_g, ck / "optimizer_g.pt");
    train::save_optimizer(*n.opt_d, ck / "optimizer_d.pt");
    train::save_rng_state(ck / "rng.pt");
    core::write_json_file(ck / "average.json", json{{"steps", n.steps}});
  };
  hooks.load_checkpoint = [&](const fs::path& ck) {
    train::load_module(*n.g, ck / "generator.pt");
    train::load_module(*n.d, ck / "discriminator.pt");
    if (n.average) train::load_module(*n.average, ck / "average.pt");
    train::load_optimizer(*n.opt_g, ck / "optimizer_g.pt");
    train::load_optimizer(*n.opt_d, ck / "optimizer_d.pt");
    train::load_rng_state(ck / "rng.pt");
    n.steps = core::read_json_file(ck / "average.json").at("steps").get<int64_t>();
  };
  hooks.end_epoch = [&](const std::vector<train::EpochRecord>& history) {
    write_curves(run, history);
    fs::copy_file(run / "samples" / fmt::format("epoch-{:03d}.png", history.back().epoch),
                  run / "samples" / "latest.png", fs::copy_options::overwrite_existing);
  };
  return train::fit(to, hooks);
}

void write_training_images(const fs::path& run, const data::ImageDataset& ds) {
  std::string csv = "path,label\n";
  for (const auto& s : ds.samples)
    csv += io::csv_escape(fs::absolute(s.path).lexically_normal().string()) + "," +
           io::csv_escape(ds.class_names[static_cast<size_t>(s.label)]) + "\n";
  core::write_file_atomic(run / kTrainingImagesFile, csv);
}

// The feature network of medai gan evaluate: an image classifier trained on the same real images
// (medai's own features, as no ImageNet Inception weights are available offline).
void train_feature_network(const GanTrainOptions& o, const data::ImageDataset& ds) {
  if (o.feature_epochs == 0) return;
  if (ds.class_names.size() != 2) {
    spdlog::warn(
        "no feature network: it is a two-class classifier and the data has {} class(es); give medai gan "
        "evaluate --features RUN (an image classifier run)",
        ds.class_names.size());
    return;
  }
  const fs::path dir = o.out / kFeatureRunDir;
  if (fs::exists(dir / core::kModelCardFile)) return;  // a resumed run that had finished it
  if (fs::exists(dir)) fs::remove_all(dir);            // an interrupted one: start it again
  spdlog::info("training the feature network ({} epochs, {} px) on the same real images", o.feature_epochs,
               o.image_size);
  imaging::TrainOptions f;
  f.data = o.data;
  f.split = o.split;
  f.out = dir;
  f.image_size = o.image_size;
  f.epochs = o.feature_epochs;
  f.seed = o.seed;
  f.progress = o.progress;
  imaging::train_classifier(f);
}

json make_card(const GanTrainOptions& o, const nn::GanOptions& go, const data::ImageDataset& ds,
               const train::TrainResult& fitted) {
  auto c = core::ModelCardCore::fresh(o.out, core::ModelKind::Generator, kGanTask);
  c.architecture = std::string(go.classes > 1 ? "class-conditional " : "") +
                   "DCGAN: transposed-convolution generator with batch norm; spectral-norm convolutional "
                   "discriminator" +
                   (go.classes > 1 ? " with a class projection" : "") + "; hinge loss" +
                   (o.diff_augment ? "; DiffAugment (brightness, contrast, translation, cutout)" : "") +
                   (o.mode_seeking > 0 ? "; mode-seeking regulariser (MSGAN)" : "") +
                   (o.ema > 0 ? "; generator weights: moving average" : "");
  c.training = options_json(o);
  c.data = {{"source", o.data.string()},
            {"fingerprint_sha256", ds.fingerprint()},
            {"images", ds.samples.size()},
            {"class_counts", ds.class_counts()},
            {"training_images", kTrainingImagesFile}};
  c.intended_use =
      "Research: synthetic images to augment the training of image models on scarce data, and teaching. Every "
      "output is marked SYNTHETIC (file name and PNG metadata); never for diagnosis, as a patient record, or as "
      "evidence about a patient.";
  c.limitations = {
      "Generates " + std::to_string(go.image_size) +
          " px grayscale images resembling its training set only; "
          "anatomy and findings may be implausible.",
      "Realism is measured with medai's own classifier features (medai gan evaluate), not Inception-FID.",
      "Trained on patient images: check the memorisation audit (medai gan evaluate) before sharing samples.",
      "Class-conditional samples follow the training labels, which may be noisy."};
  json card = json::object();
  c.write(card);
  std::vector<std::string> names = go.classes > 1 ? ds.class_names : std::vector<std::string>{"any"};
  std::vector<int64_t> counts =
      go.classes > 1 ? ds.class_counts() : std::vector<int64_t>{static_cast<int64_t>(ds.samples.size())};
  card["gan"] = {{"size", go.image_size},        {"classes", go.classes}, {"class_names", names},
                 {"class_counts", counts},       {"z_dim", go.z_dim},     {"width", go.width},
                 {"conditional", go.classes > 1}};
  card["training_run"] = {
      {"epochs_run", fitted.history.size()},
      {"seconds", fitted.seconds},
      {"threads", core::runtime_threads()},
      {"images_per_second", fitted.seconds > 0 ? static_cast<double>(fitted.history.size()) *
                                                     static_cast<double>(images_per_epoch(o, ds)) / fitted.seconds
                                               : 0.0},
      {"optimizer", "Adam"},
      {"loss", "hinge"}};
  if (fs::exists(o.out / kFeatureRunDir / core::kModelCardFile)) card["feature_network"] = kFeatureRunDir;
  return card;
}

}  // namespace

json train_gan(const GanTrainOptions& cli) {
  train::apply_torch_threads();
  GanTrainOptions o = cli;
  if (cli.resume) {
    o = with_stored_options(cli, train::resume_options(cli.out));
    o.resume = true;
  } else {
    train::check_fresh_run_folder(cli.out);
  }
  validate(o);
  data::DatasetOptions dopt;
  dopt.split = o.split;
  dopt.allow_one_class = true;  // an unconditional GAN; --conditional is checked below
  const data::ImageDataset ds = data::load_image_dataset(o.data, dopt);
  if (o.conditional && ds.class_names.size() < 2)
    fail_invalid(o.data.string() + ": --conditional needs at least two classes (one folder per class); found only '" +
                 (ds.class_names.empty() ? std::string() : ds.class_names.front()) + "'");
  if (static_cast<int64_t>(ds.samples.size()) < o.batch_size)
    fail_invalid(o.data.string() + ": " + std::to_string(ds.samples.size()) + " images, fewer than one batch of " +
                 std::to_string(o.batch_size));
  nn::GanOptions go{o.image_size, o.conditional ? static_cast<int64_t>(ds.class_names.size()) : 1, o.z_dim, o.width};
  spdlog::info("gan: {} images, {} class(es){}, {} px", ds.samples.size(), ds.class_names.size(),
               o.conditional ? " (conditional)" : "", o.image_size);
  fs::create_directories(o.out);
  data::DecodedCache cache(ds, o.image_size);
  std::vector<size_t> all(ds.samples.size());
  std::iota(all.begin(), all.end(), size_t{0});
  cache.preload(all, core::runtime_threads(), o.progress);

  torch::manual_seed(o.seed);
  Nets n;
  n.g = nn::Generator(go);
  n.d = nn::Discriminator(go);
  if (o.ema > 0) {
    n.average = nn::Generator(go);
    train::update_average(*n.average, *n.g, o.ema, 0);
  }
  n.opt_g = std::make_unique<torch::optim::Adam>(n.g->parameters(),
                                                 torch::optim::AdamOptions(o.lr_generator).betas({o.beta1, o.beta2}));
  n.opt_d = std::make_unique<torch::optim::Adam>(
      n.d->parameters(), torch::optim::AdamOptions(o.lr_discriminator).betas({o.beta1, o.beta2}));
  const json stored = options_json(o);
  const auto fitted = fit_gan(o, n, go, cache, ds, stored);
  write_training_images(o.out, ds);
  train_feature_network(o, ds);
  const json card = make_card(o, go, ds, fitted);
  core::write_json_file(o.out / core::kModelCardFile, card);
  spdlog::info("gan: {} epochs in {:.0f} s; samples in {}", fitted.history.size(), fitted.seconds,
               (o.out / "samples").string());
  return card;
}

}  // namespace medai::synthesis
