#include "medai/imaging/classifier_model.h"

#include <torch/torch.h>

#include <cmath>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/precision.h"
#include "medai/core/progress.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/data/image_loader.h"
#include "medai/metrics/calibration.h"
#include "medai/nn/nets/resnet.h"
#include "medai/train/torch_helpers.h"
#include "medai/transforms/transforms.h"

namespace medai::imaging {

namespace fs = std::filesystem;

void save_weights(nn::ClassifierNetImpl& net, const fs::path& path) {
  core::write_atomic_with(path, [&](const fs::path& tmp) {
    torch::serialize::OutputArchive ar;
    net.save(ar);
    ar.save_to(tmp.string());
  });
}

void load_weights(nn::ClassifierNetImpl& net, const fs::path& path, const std::string& arch) {
  if (!fs::exists(path)) fail_not_found(path.string() + ": weights file missing");
  try {
    torch::serialize::InputArchive ar;
    ar.load_from(path.string());
    net.load(ar);
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    if (what.find("size") != std::string::npos || what.find("No such serialized") != std::string::npos ||
        what.find("not found") != std::string::npos)
      fail_invalid(path.string() + ": weights do not match architecture '" + arch +
                   "' named in the model card (damaged checkpoint or card from another model)");
    fail_invalid(path.string() + ": damaged or unreadable checkpoint");
  }
}

ClassifierModel::ClassifierModel(nn::ClassifierNet n, ClassifierCard c) : net(std::move(n)), card(std::move(c)) {}

ClassifierModel ClassifierModel::load(const fs::path& run_dir, bool for_inference) {
  train::apply_torch_threads();
  // Every field the accessors read is checked once here, so a prediction never meets one.
  ClassifierCard card =
      ClassifierCard::from_json(core::read_model_card(run_dir), (run_dir / core::kModelCardFile).string());
  const std::string arch = card.core.architecture;
  const int in_ch = card.channels, size = card.image_size, classes = static_cast<int>(card.classes.size());
  auto net = nn::make_classifier(arch, in_ch, classes);
  load_weights(*net, run_dir / kWeightsFile, arch);
  net->eval();
  std::shared_ptr<OptimizedClassifier> optimized;
  if (for_inference) {
    // with a guard, the graph also gives the pooled features its distance is measured on
    optimized = std::make_shared<OptimizedClassifier>(*net, in_ch, size, card.guard.present);
    if (auto* resnet = dynamic_cast<nn::ResNetImpl*>(net.get())) nn::fold_batchnorm(*resnet);
  }
  nn::to_channels_last(*net);
  std::shared_ptr<const FeatureGuard> guard;
  if (card.guard.present) {
    auto g = FeatureGuard::load(run_dir / kGuardFile, card.guard.dim, (run_dir / core::kModelCardFile).string());
    g.set_threshold(card.guard.threshold);
    guard = std::make_shared<const FeatureGuard>(std::move(g));
  }
  ClassifierModel m(net, std::move(card));
  m.optimized = optimized;
  m.guard = guard;
  m.run_dir = run_dir;
  return m;
}

torch::Tensor ClassifierModel::logits(const torch::Tensor& batch) {
  const bool bf16 = core::inference_precision() == core::Precision::Bf16;
  if (optimized && !bf16) return optimized->forward(batch);  // the frozen fp32 graph
  c10::InferenceMode inference;
  net->eval();
  train::AutocastGuard autocast(bf16);
  return net->forward(batch.contiguous(torch::MemoryFormat::ChannelsLast)).to(torch::kFloat);
}

torch::Tensor ClassifierModel::calibrated_probabilities(const torch::Tensor& logits) const {
  auto z = logits.to(torch::kDouble);
  if (!card.calibration.logit_offsets.empty())  // one per class: checked by load()
    z = z + torch::tensor(card.calibration.logit_offsets, torch::kDouble);
  return torch::softmax(z / temperature(), 1);
}

std::vector<double> ClassifierModel::positive_probabilities(const torch::Tensor& logits) const {
  auto p = calibrated_probabilities(logits).select(1, positive_index()).contiguous();
  return std::vector<double>(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
}

torch::Tensor ClassifierModel::input_tensor(const cv::Mat& unit_image) const {
  const int s = image_size();
  cv::Mat x = transforms::preprocess(unit_image, s);
  return torch::from_blob(x.ptr<float>(), {1, 1, s, s}, torch::kFloat).clone();
}

Prediction ClassifierModel::predict(const cv::Mat& unit_image) { return predict_batch(input_tensor(unit_image))[0]; }

torch::Tensor ClassifierModel::pooled_features(const torch::Tensor& batch) {
  c10::InferenceMode inference;
  net->eval();
  train::AutocastGuard autocast(core::inference_precision() == core::Precision::Bf16);
  return net->features(batch.contiguous(torch::MemoryFormat::ChannelsLast)).mean({2, 3}).to(torch::kFloat);
}

std::pair<torch::Tensor, torch::Tensor> ClassifierModel::logits_and_features(const torch::Tensor& batch) {
  const bool bf16 = core::inference_precision() == core::Precision::Bf16;
  if (optimized && optimized->has_features() && !bf16) return optimized->forward_with_features(batch);
  c10::InferenceMode inference;
  if (net->is_training()) net->eval();  // loaded in eval mode: no write from concurrent callers
  train::AutocastGuard autocast(bf16);
  auto fmap = net->features(batch.contiguous(torch::MemoryFormat::ChannelsLast));
  return {net->head(fmap).to(torch::kFloat), fmap.mean({2, 3}).to(torch::kFloat)};
}

std::vector<Prediction> ClassifierModel::predict_batch(const torch::Tensor& batch) {
  if (!guard) return predictions(logits(batch));
  const auto [z, pooled] = logits_and_features(batch);
  auto out = predictions(z);
  const auto d = guard->distances(pooled);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].guarded = true;
    out[i].guard = judge(std::nullopt, d[i], guard->threshold());
    if (!out[i].guard.in_distribution) out[i].label.clear();
  }
  return out;
}

void apply_prevalence(Prediction& p, const ClassifierModel& m, double to) {
  if (!(to > 0 && to < 1)) fail_invalid("prevalence must be strictly between 0 and 1 (got " + std::to_string(to) + ")");
  const double from = m.card.require_prior();
  p.probability_at_calibration = p.probability;
  p.probability = metrics::shift_prevalence(p.probability, from, to);
  p.threshold = metrics::shift_prevalence(p.threshold, from, to);
  if (p.class_probabilities.size() == 2) {
    p.class_probabilities[m.positive_index()] = p.probability;
    p.class_probabilities[1 - m.positive_index()] = 1 - p.probability;
  }
  p.prevalence = to;
}

nlohmann::json prediction_fields(const Prediction& p, const ClassifierModel& m) {
  nlohmann::json j = {{"label", p.guard.in_distribution ? nlohmann::json(p.label) : nlohmann::json(nullptr)},
                      {"probability", p.probability},
                      {"threshold", p.threshold},
                      {"positive_class", m.class_names()[m.positive_index()]},
                      {"class_probabilities", p.class_probabilities},
                      {"in_distribution", p.guard.in_distribution},
                      {"ood_reason", p.guard.reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.guard.reason)},
                      {"ood_score", p.guard.score ? nlohmann::json(*p.guard.score) : nlohmann::json(nullptr)},
                      {"guard", m.guard ? "input checks and feature distance"
                                        : "input checks only (no feature guard: medai image fit-guard adds one)"}};
  if (p.prevalence) {
    j["prevalence"] = *p.prevalence;
    j["probability_at_calibration_prevalence"] = p.probability_at_calibration;
    j["calibration_prevalence"] = m.card.require_prior();
  }
  if (!p.guard.in_distribution)
    j["warning"] = "out of distribution: " + p.guard.reason +
                   "; the label is withheld and the probability is not "
                   "meaningful";
  return j;
}

void apply_input_check(Prediction& p, const std::optional<std::string>& problem) {
  if (!problem) return;
  p.guard = judge(problem, p.guard.score, 0);
  p.label.clear();
}

std::vector<Prediction> ClassifierModel::predictions(const torch::Tensor& z) const {
  auto all = calibrated_probabilities(z).contiguous();
  const auto names = class_names();
  std::vector<Prediction> out;
  for (int64_t i = 0; i < all.size(0); ++i) {
    auto probs = all[i].contiguous();
    Prediction p;
    p.class_probabilities.assign(probs.data_ptr<double>(), probs.data_ptr<double>() + probs.numel());
    p.probability = p.class_probabilities[positive_index()];
    p.threshold = threshold();
    if (names.size() == 2) {
      p.label = p.probability >= p.threshold ? names[positive_index()] : names[1 - positive_index()];
    } else {
      p.label = names[std::max_element(p.class_probabilities.begin(), p.class_probabilities.end()) -
                      p.class_probabilities.begin()];
    }
    out.push_back(std::move(p));
  }
  return out;
}

namespace {

// `fn` over every listed sample of a dataset in batches (threaded loading, progress bar), rows
// concatenated.
template <class Fn>
torch::Tensor map_dataset(const data::ImageDataset& ds, const std::vector<size_t>& indices, int image_size,
                          int batch_size, bool progress, Fn&& fn,
                          const ClassifierModel::ImageTransform& transform = {}) {
  data::DecodedCache cache(ds, image_size);
  data::LoaderOptions lo;
  lo.transform = transform;
  lo.batch_size = batch_size;
  lo.workers = std::max(1, core::runtime_threads());
  data::ImageLoader loader(cache, ds, indices, lo);
  std::vector<torch::Tensor> out;
  core::ProgressBar bar("evaluate", static_cast<int64_t>(indices.size()), "img", progress);
  while (auto b = loader.next()) {
    auto x = torch::from_blob(b->pixels.data(), {b->size, 1, b->image_size, b->image_size}, torch::kFloat);
    out.push_back(fn(x));
    bar.advance(b->size);
  }
  bar.finish();
  return torch::cat(out, 0);
}

}  // namespace

torch::Tensor ClassifierModel::dataset_features(const data::ImageDataset& ds, const std::vector<size_t>& indices,
                                                int batch_size, bool progress) {
  return map_dataset(ds, indices, image_size(), batch_size, progress,
                     [&](const torch::Tensor& x) { return pooled_features(x); });
}

std::pair<torch::Tensor, torch::Tensor> ClassifierModel::dataset_logits_and_features(const data::ImageDataset& ds,
                                                                                     const std::vector<size_t>& indices,
                                                                                     int batch_size, bool progress,
                                                                                     const ImageTransform& transform) {
  const int64_t classes = static_cast<int64_t>(class_names().size());
  const torch::Tensor both = map_dataset(
      ds, indices, image_size(), batch_size, progress,
      [&](const torch::Tensor& x) {
        const auto [z, f] = logits_and_features(x);
        return torch::cat({z, f}, 1);
      },
      transform);
  return {both.slice(1, 0, classes), both.slice(1, classes)};
}

torch::Tensor ClassifierModel::dataset_logits(const data::ImageDataset& ds, const std::vector<size_t>& indices,
                                              int batch_size, bool progress, const ImageTransform& transform) {
  return map_dataset(
      ds, indices, image_size(), batch_size, progress, [&](const torch::Tensor& x) { return logits(x); }, transform);
}

}  // namespace medai::imaging

#include <opencv2/imgproc.hpp>

#include "medai/explain/gradcam.h"

namespace medai::imaging {

Explanation explain_image(ClassifierModel& model, const cv::Mat& unit, int target) {
  Explanation e;
  e.prediction = model.predict(unit);
  e.target_class = target < 0 ? model.positive_index() : target;
  if (e.target_class >= static_cast<int>(model.class_names().size())) fail_invalid("--class: index out of range");
  cv::Mat cam = explain::grad_cam(*model.net, model.input_tensor(unit), e.target_class);
  // Undo resize_pad: crop the letterbox, then scale back to the image's size.
  const int s = model.image_size();
  double k = static_cast<double>(s) / std::max(unit.cols, unit.rows);
  int w = std::max(1, static_cast<int>(std::lround(unit.cols * k))),
      h = std::max(1, static_cast<int>(std::lround(unit.rows * k)));
  cv::Mat content = cam(cv::Rect((s - w) / 2, (s - h) / 2, w, h));
  cv::resize(content, e.heatmap, unit.size(), 0, 0, cv::INTER_LINEAR);
  e.overlay = explain::overlay_heatmap(unit, e.heatmap);
  return e;
}

}  // namespace medai::imaging
