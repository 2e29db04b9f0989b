#include "medai/synthesis/evaluate_gan.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/progress.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/data/image_loader.h"
#include "medai/imaging/classifier_model.h"
#include "medai/io/csv.h"
#include "medai/io/image.h"
#include "medai/metrics/feature_distances.h"
#include "medai/synthesis/gan_model.h"
#include "medai/train/torch_helpers.h"

namespace medai::synthesis {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Decoded [0, 1] images of a dataset at the GAN's size, N x 1 x S x S (the pipeline the GAN saw).
torch::Tensor decode_all(const data::ImageDataset& ds, const std::vector<size_t>& idx, int size, bool progress) {
  data::DecodedCache cache(ds, size);
  cache.preload(idx, core::runtime_threads(), progress);
  return unit_images(cache, idx);
}

// Pooled classifier features of [0, 1] images, each preprocessed as the classifier's inputs are.
torch::Tensor features_of(imaging::ClassifierModel& model, const torch::Tensor& images, const std::string& what,
                          bool progress) {
  std::vector<torch::Tensor> out;
  core::ProgressBar bar("  features (" + what + ")", images.size(0), "img", progress);
  const int s = static_cast<int>(images.size(2));
  for (int64_t i = 0; i < images.size(0); i += 64) {
    std::vector<torch::Tensor> batch;
    for (int64_t k = i; k < std::min(images.size(0), i + 64); ++k) {
      const auto img = images[k][0].contiguous();
      batch.push_back(model.input_tensor(cv::Mat(s, s, CV_32F, img.data_ptr<float>())));
    }
    out.push_back(model.pooled_features(torch::cat(batch, 0)).to(torch::kDouble));
    bar.advance(static_cast<int64_t>(batch.size()));
  }
  bar.finish();
  return torch::cat(out, 0);
}

fs::path feature_run(const GanEvalOptions& o, const GanModel& gan) {
  if (!o.features.empty()) return o.features;
  const fs::path own = gan.run_dir / kFeatureRunDir;
  if (fs::exists(own / core::kModelCardFile)) return own;
  fail_invalid(o.model.string() +
               ": the run has no feature network (its data had one class, or --feature-epochs 0); "
               "give --features RUN, an image classifier trained on real images (medai image train)");
}

// Two disjoint halves of the real images, grouped by patient (a patient's images stay together,
// so near-duplicates do not make the real-vs-real distance look small).
std::pair<std::vector<size_t>, std::vector<size_t>> patient_halves(const data::ImageDataset& ds, uint64_t seed) {
  std::map<std::string, std::vector<size_t>> by_patient;
  for (size_t i = 0; i < ds.samples.size(); ++i) by_patient[ds.samples[i].patient_id].push_back(i);
  std::vector<const std::vector<size_t>*> groups;
  for (const auto& [_, v] : by_patient) groups.push_back(&v);
  std::mt19937_64 rng(seed);
  std::shuffle(groups.begin(), groups.end(), rng);
  std::pair<std::vector<size_t>, std::vector<size_t>> h;
  for (const auto* g : groups) {
    auto& side = h.first.size() <= h.second.size() ? h.first : h.second;
    side.insert(side.end(), g->begin(), g->end());
  }
  return h;
}

// Samples in the training class proportions (conditional) or from the one distribution.
torch::Tensor generate(GanModel& gan, int64_t n, uint64_t seed) {
  std::vector<torch::Tensor> parts;
  const auto mix = gan.class_mix(n);
  for (size_t c = 0; c < mix.size(); ++c)
    if (mix[c] > 0) parts.push_back(gan.sample(mix[c], static_cast<int64_t>(c), seed + c));
  return torch::cat(parts, 0);
}

double quantile_of(torch::Tensor v, double q) {
  v = std::get<0>(v.sort());
  const auto i = static_cast<int64_t>(std::floor(q * static_cast<double>(v.size(0) - 1)));
  return v[i].item<double>();
}

// The training images the GAN saw (RUN/training_images.csv), or --data when they are gone.
data::ImageDataset training_images(const GanModel& gan, const data::ImageDataset& real, std::string& reference) {
  const fs::path csv = gan.run_dir / kTrainingImagesFile;
  if (fs::exists(csv)) {
    try {
      data::DatasetOptions one;
      one.allow_one_class = true;
      auto ds = data::load_image_dataset(csv, one);
      reference = "training images (" + std::string(kTrainingImagesFile) + ")";
      return ds;
    } catch (const Error& e) {
      spdlog::warn("{}: {}; the memorisation audit compares with --data instead", csv.string(), e.what());
    }
  }
  reference = "--data (the training images were not found)";
  return real;
}

json memorisation_audit(const GanEvalOptions& o, const GanModel& gan, imaging::ClassifierModel& fx,
                        const data::ImageDataset& real, const torch::Tensor& samples,
                        const torch::Tensor& sample_features) {
  std::string reference;
  const data::ImageDataset train = training_images(gan, real, reference);
  std::vector<size_t> all(train.samples.size());
  std::iota(all.begin(), all.end(), size_t{0});
  const int s = static_cast<int>(gan.options.image_size);
  const auto train_pixels = decode_all(train, all, s, o.progress);
  const auto train_features = features_of(fx, train_pixels, "training", o.progress);
  // Pixel distances at 64 px at most (a 128 px audit at 64 px is as sensitive to copies, 4x cheaper).
  const auto flat = [](const torch::Tensor& x) {
    const auto y = x.size(2) > 64 ? torch::adaptive_avg_pool2d(x, {64, 64}) : x;
    return y.reshape({y.size(0), -1}).to(torch::kDouble);
  };
  const auto tp = flat(train_pixels), sp = flat(samples);
  const auto tt_pixel = metrics::nearest_neighbours(tp, tp, true),
             tt_feat = metrics::nearest_neighbours(train_features, train_features, true);
  const auto st_pixel = metrics::nearest_neighbours(sp, tp),
             st_feat = metrics::nearest_neighbours(sample_features, train_features);
  const double th_pixel = quantile_of(tt_pixel.distance, 0.01), th_feat = quantile_of(tt_feat.distance, 0.01);
  const auto close_pixel = st_pixel.distance < th_pixel, close_feat = st_feat.distance < th_feat;
  const auto memorised = close_pixel | close_feat;

  const fs::path out = o.out.empty() ? gan.run_dir / "evaluation" : o.out;
  fs::create_directories(out / "closest_pairs");
  std::string table =
      "sample,nearest_training_row,pixel_distance,nearest_training_row_features,feature_distance,memorised\n";
  for (int64_t i = 0; i < samples.size(0); ++i)
    table += fmt::format("{},{},{:.6g},{},{:.6g},{}\n", i, st_pixel.index[i].item<int64_t>(),
                         st_pixel.distance[i].item<double>(), st_feat.index[i].item<int64_t>(),
                         st_feat.distance[i].item<double>(), memorised[i].item<bool>() ? 1 : 0);
  core::write_file_atomic(out / "nearest_training.csv", table);
  // The closest pairs by pixel distance relative to its threshold: [sample | nearest training image].
  const auto order = std::get<1>((st_pixel.distance / th_pixel).sort());
  json pairs = json::array();
  for (int64_t r = 0; r < std::min<int64_t>(o.pairs, samples.size(0)); ++r) {
    const int64_t i = order[r].item<int64_t>(), j = st_pixel.index[i].item<int64_t>();
    const cv::Mat grid = image_grid(torch::stack({samples[i], train_pixels[j]}), 2);
    const fs::path file = out / "closest_pairs" / fmt::format("pair-{:02d}_sample-{}_train-{}.png", r, i, j);
    io::write_png(
        file, grid,
        {{"Description", "left: SYNTHETIC sample of medai GAN '" + gan.name + "'; right: its nearest training image"}});
    pairs.push_back({{"sample", i},
                     {"training_row", j},
                     {"pixel_distance", st_pixel.distance[i].item<double>()},
                     {"file", file.filename().string()}});
  }
  return {{"reference", reference},
          {"training_images", train.samples.size()},
          {"threshold_pixel", th_pixel},
          {"threshold_feature", th_feat},
          {"share_pixel", close_pixel.to(torch::kDouble).mean().item<double>()},
          {"share_feature", close_feat.to(torch::kDouble).mean().item<double>()},
          {"min_pixel_distance", st_pixel.distance.min().item<double>()},
          {"median_pixel_distance", quantile_of(st_pixel.distance, 0.5)},
          {"median_training_pixel_distance", quantile_of(tt_pixel.distance, 0.5)},
          {"closest_pairs_dir", (out / "closest_pairs").string()},
          {"table", (out / "nearest_training.csv").string()},
          {"closest_pairs", pairs},
          {"memorised_share", memorised.to(torch::kDouble).mean().item<double>()}};
}

}  // namespace

json evaluate_gan(const GanEvalOptions& o) {
  train::apply_torch_threads();
  GanModel gan = GanModel::load(o.model);
  const fs::path fpath = feature_run(o, gan);
  imaging::ClassifierModel fx = imaging::ClassifierModel::load(fpath, false);
  data::DatasetOptions dopt;
  dopt.split = o.split;
  dopt.allow_one_class = true;
  const data::ImageDataset real = data::load_image_dataset(o.data, dopt);
  const auto [half_a, half_b] = patient_halves(real, o.seed);
  if (half_a.size() < 10 || half_b.size() < 10)
    fail_invalid(o.data.string() + ": " + std::to_string(real.samples.size()) +
                 " images; the real-vs-real reference needs at least 20 (from two or more patients)");
  const int s = static_cast<int>(gan.options.image_size);
  const int64_t n = o.n > 0 ? o.n : static_cast<int64_t>(half_a.size());
  spdlog::info("gan evaluate: {} samples against {} + {} real images (patient-grouped halves); features of {}", n,
               half_a.size(), half_b.size(), fpath.string());
  const auto fa = features_of(fx, decode_all(real, half_a, s, o.progress), "real A", o.progress);
  const auto fb = features_of(fx, decode_all(real, half_b, s, o.progress), "real B", o.progress);
  const auto samples = generate(gan, n, o.seed + 101);
  const auto fg = features_of(fx, samples, "generated", o.progress);

  json r;
  r["frechet"] = metrics::frechet_distance(fg, fb);
  r["frechet_real_vs_real"] = metrics::frechet_distance(fa, fb);
  r["frechet_ratio"] = r["frechet"].get<double>() / std::max(1e-12, r["frechet_real_vs_real"].get<double>());
  r["kid"] = metrics::kernel_distance(fg, fb, 20, 1000, o.seed);
  r["kid_real_vs_real"] = metrics::kernel_distance(fa, fb, 20, 1000, o.seed);
  const auto pr = metrics::manifold_precision_recall(fb, fg, 3);
  const auto pr_real = metrics::manifold_precision_recall(fb, fa, 3);
  r["precision"] = pr.precision;
  r["recall"] = pr.recall;
  r["precision_real_vs_real"] = pr_real.precision;
  r["recall_real_vs_real"] = pr_real.recall;
  json audit = memorisation_audit(o, gan, fx, real, samples, fg);
  r["memorised_share"] = audit["memorised_share"];
  r["memorisation"] = std::move(audit);
  r["n_generated"] = n;
  r["n_real_a"] = half_a.size();
  r["n_real_b"] = half_b.size();
  r["model"] = gan.name;
  r["features"] = {{"run", fpath.string()},
                   {"architecture", fx.card.core.architecture},
                   {"dim", fg.size(1)},
                   {"note",
                    "pooled penultimate features of a medai image classifier trained on real images; not "
                    "Inception-FID (no ImageNet weights offline), so values are comparable only with the "
                    "same feature network"}};
  r["method"] =
      "frechet/kid/precision/recall: generated vs real half B; *_real_vs_real: real half A vs half B, "
      "halves grouped by patient; precision/recall k = 3";
  if (r["frechet_ratio"].get<double>() > 2)
    spdlog::warn("Frechet distance {:.3g} is {:.2f}x the real-vs-real distance (target <= 2x)",
                 r["frechet"].get<double>(), r["frechet_ratio"].get<double>());
  if (r["memorised_share"].get<double>() > 0)
    spdlog::warn(
        "{:.1f} % of samples are closer to a training image than 99 % of training images are to each "
        "other: inspect {}",
        100 * r["memorised_share"].get<double>(), r["memorisation"]["closest_pairs_dir"].get<std::string>());
  return r;
}

}  // namespace medai::synthesis
