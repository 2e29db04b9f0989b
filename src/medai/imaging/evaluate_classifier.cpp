#include "medai/imaging/evaluate_classifier.h"

#include <torch/torch.h>

#include <numeric>

#include "medai/core/error.h"
#include "medai/imaging/classifier_model.h"

namespace medai::imaging {

ClassifierReport evaluate_classifier(const EvaluateOptions& o) {
  ClassifierModel model = ClassifierModel::load(o.model);
  auto classes = model.class_names();
  if (classes.size() != 2) fail_unsupported("evaluate supports two-class models");
  data::DatasetOptions dopt;
  dopt.split = o.split;
  dopt.classes = classes;
  data::ImageDataset ds = data::load_image_dataset(o.data, dopt);
  std::vector<size_t> idx(ds.samples.size());
  std::iota(idx.begin(), idx.end(), 0);
  torch::Tensor z = model.dataset_logits(ds, idx, 64, o.progress);
  std::vector<double> p = model.positive_probabilities(z);
  std::vector<int> y;
  for (const auto& s : ds.samples) y.push_back(s.label == model.positive_index() ? 1 : 0);
  ClassifierReport r = make_report(p, y, model.threshold(), classes[model.positive_index()], o.bootstrap_reps);
  if (!o.report_dir.empty()) write_report_plots(r, o.report_dir, "evaluation");
  return r;
}

}  // namespace medai::imaging
