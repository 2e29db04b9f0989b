#pragma once
// A trained image classifier as it lives in a run folder: RUN/model.pt (weights) +
// RUN/model_card.json (architecture, preprocessing, classes, threshold, temperature, metrics).
#include <torch/types.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <utility>
#include <vector>

#include "medai/data/image_dataset.h"
#include "medai/imaging/classifier_card.h"
#include "medai/imaging/feature_guard.h"
#include "medai/imaging/torchscript_interop.h"
#include "medai/nn/nets/classifier_net.h"

namespace medai::imaging {

inline constexpr const char* kWeightsFile = "model.pt";

struct Prediction {
  std::string label;       // decided at the card's threshold; empty = withheld (out of distribution)
  double probability = 0;  // calibrated probability of the positive class
  double threshold = 0.5;
  std::vector<double> class_probabilities;  // calibrated, per class
  std::optional<double> prevalence;         // the deployment prevalence it was adjusted to (apply_prevalence)
  double probability_at_calibration = 0;    // before that adjustment
  GuardVerdict guard;                       // in distribution unless the guard says otherwise
  bool guarded = false;                     // the model has a guard (older runs do not)
};

// Applies the input checks' verdict (ood_guard.h) to a prediction; an out-of-distribution
// prediction has its label withheld.
void apply_input_check(Prediction& p, const std::optional<std::string>& input_problem);

class ClassifierModel;
// Prior-shift adjustment to a stated deployment prevalence of the positive class (metrics::
// shift_prevalence from the card's calibration prevalence): the probability and the threshold
// move together, so the label (an operating point of fixed sensitivity and specificity) stays as
// it was while the probability becomes the one for that population. InvalidInput when the card
// does not record the prevalence it was calibrated at, or `to` is not in (0, 1).
void apply_prevalence(Prediction& p, const ClassifierModel& model, double to);
// The JSON keys every prediction answer shares (CLI and server): label (null when withheld),
// probability, threshold, positive_class, class_probabilities, in_distribution, ood_reason,
// ood_score, and "guard" saying what was checked.
nlohmann::json prediction_fields(const Prediction& p, const ClassifierModel& model);

class ClassifierModel {
 public:
  // Reads and checks the card, builds the network, loads the weights. Errors name the file.
  // `for_inference` compiles the optimised TorchScript graph that logits() runs and folds the
  // native network's batch norms (Grad-CAM); same outputs in eval mode. Pass false to get the
  // network exactly as trained (export).
  static ClassifierModel load(const std::filesystem::path& run_dir, bool for_inference = true);
  ClassifierModel(nn::ClassifierNet net, ClassifierCard card);

  // Raw logits for a normalised batch N x C x S x S (eval mode, no grad).
  torch::Tensor logits(const torch::Tensor& batch);
  // Calibrated class probabilities, softmax((logits + offsets) / T), N x classes (double).
  torch::Tensor calibrated_probabilities(const torch::Tensor& logits) const;
  // Calibrated positive-class probabilities from logits.
  std::vector<double> positive_probabilities(const torch::Tensor& logits) const;
  Prediction predict(const cv::Mat& unit_image);
  // Predictions for a normalised batch, with the feature guard's verdict when the model has one
  // (then one forward gives both the logits and the pooled features: logits_and_features).
  std::vector<Prediction> predict_batch(const torch::Tensor& batch);
  // Pooled penultimate features N x D (eval mode, no grad).
  torch::Tensor pooled_features(const torch::Tensor& batch);
  // Logits and pooled features from one forward: the optimised graph when it was built with
  // features (a guarded model loaded for inference) and the precision is fp32, else the native
  // network.
  std::pair<torch::Tensor, torch::Tensor> logits_and_features(const torch::Tensor& batch);
  // Label and calibrated probabilities for each row of a batch of logits.
  std::vector<Prediction> predictions(const torch::Tensor& logits) const;
  // Logits for every listed sample of a dataset (threaded loading, progress bar). `transform`
  // changes each [0, 1] image before normalisation (data::LoaderOptions::transform).
  using ImageTransform = std::function<cv::Mat(const cv::Mat&, size_t)>;
  torch::Tensor dataset_logits(const data::ImageDataset& ds, const std::vector<size_t>& indices, int batch_size = 64,
                               bool progress = true, const ImageTransform& transform = {});
  torch::Tensor dataset_features(const data::ImageDataset& ds, const std::vector<size_t>& indices, int batch_size = 64,
                                 bool progress = true);
  // Both in one pass over the images (each decoded once).
  std::pair<torch::Tensor, torch::Tensor> dataset_logits_and_features(const data::ImageDataset& ds,
                                                                      const std::vector<size_t>& indices,
                                                                      int batch_size = 64, bool progress = true,
                                                                      const ImageTransform& transform = {});
  // Normalised 1 x C x S x S input tensor for one [0, 1] image.
  torch::Tensor input_tensor(const cv::Mat& unit_image) const;

  nn::ClassifierNet net;
  std::shared_ptr<OptimizedClassifier> optimized;  // set when loaded for inference
  std::shared_ptr<const FeatureGuard> guard;       // set when the card has an ood_guard
  ClassifierCard card;
  std::filesystem::path run_dir;
  int image_size() const { return card.image_size; }
  const std::vector<std::string>& class_names() const { return card.classes; }
  int positive_index() const { return card.positive_index; }
  double threshold() const { return card.operating_point.threshold; }
  double temperature() const { return card.calibration.temperature; }
};

// Saves/loads network weights atomically, with errors naming the file.
void save_weights(nn::ClassifierNetImpl& net, const std::filesystem::path& path);
void load_weights(nn::ClassifierNetImpl& net, const std::filesystem::path& path, const std::string& architecture);

}  // namespace medai::imaging

namespace medai::imaging {
struct Explanation {
  cv::Mat heatmap;  // CV_32F [0, 1] at the image's own size
  cv::Mat overlay;  // 8-bit BGR, heatmap over the image
  Prediction prediction;
  int target_class = 0;
};
// Grad-CAM for `target_class` (-1 = the positive class) mapped back onto the original image.
Explanation explain_image(ClassifierModel& model, const cv::Mat& unit_image, int target_class = -1);
}  // namespace medai::imaging
