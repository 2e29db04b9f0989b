#include "medai/imaging/fit_guard.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/imaging/classifier_model.h"
#include "medai/io/csv.h"
#include "medai/io/image.h"

namespace medai::imaging {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos)), hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

}  // namespace

ClassifierCard::Guard fit_guard(ClassifierModel& model, const data::ImageDataset& ds, const std::vector<size_t>& train,
                                const std::vector<size_t>& validation, const GuardOptions& o, const fs::path& run) {
  if (!(o.acceptance > 0.5 && o.acceptance < 1)) fail_invalid("guard acceptance must be in (0.5, 1)");
  if (train.size() < kMinGuardImages || validation.size() < kMinGuardImages)
    fail_invalid("the out-of-distribution guard needs at least " + std::to_string(kMinGuardImages) +
                 " training and validation images");
  std::vector<size_t> fit_rows = train;
  if (o.max_train_images > 0 && static_cast<int>(fit_rows.size()) > o.max_train_images) {
    std::mt19937_64 rng(o.seed);
    std::shuffle(fit_rows.begin(), fit_rows.end(), rng);
    fit_rows.resize(o.max_train_images);
    std::sort(fit_rows.begin(), fit_rows.end());
  }
  spdlog::info("out-of-distribution guard: features of {} training and {} validation images", fit_rows.size(),
               validation.size());
  const torch::Tensor f_train = model.dataset_features(ds, fit_rows, 64, o.progress);
  std::vector<int> labels;
  for (size_t i : fit_rows) labels.push_back(ds.samples[i].label);
  FeatureGuard g = FeatureGuard::fit(f_train, labels, static_cast<int>(model.class_names().size()));
  const std::vector<double> d_val = g.distances(model.dataset_features(ds, validation, 64, o.progress));
  const double threshold = quantile(d_val, o.acceptance);
  size_t passed = 0;
  for (double d : d_val) passed += d <= threshold;
  g.save(run / kGuardFile);

  ClassifierCard::Guard out;
  out.present = true;
  out.threshold = threshold;
  out.dim = f_train.size(1);
  out.expected = o.expected;
  out.report = {
      {"method",
       "input checks (blank, colour, DICOM modality/body part/view/age against 'expected'), then the Mahalanobis "
       "distance of the pooled penultimate features to the nearest class mean (shared covariance, shrunk)"},
      {"fitted_on", {{"images", fit_rows.size()}, {"split", "train"}}},
      {"threshold_rule", "quantile " + std::to_string(o.acceptance) + " of the validation images' distances"},
      {"validation",
       {{"images", d_val.size()},
        {"acceptance", static_cast<double>(passed) / d_val.size()},
        {"distance_median", quantile(d_val, 0.5)}}},
      {"on_flag", "the label is withheld; the probability is reported but not meaningful"}};
  spdlog::info("out-of-distribution guard: threshold {:.2f}, validation acceptance {:.3f}", threshold,
               static_cast<double>(passed) / d_val.size());
  return out;
}

json measure_flag_rate(ClassifierModel& model, const fs::path& path) {
  std::vector<fs::path> files;
  if (fs::is_directory(path)) {
    for (const auto& e : fs::recursive_directory_iterator(path))
      if (e.is_regular_file() && data::is_image_file(e.path())) files.push_back(e.path());
    std::sort(files.begin(), files.end());
  } else if (fs::exists(path)) {
    files.push_back(path);
  } else {
    fail_not_found(path.string() + ": no such folder or file to measure the guard on");
  }
  if (files.empty()) fail_invalid(path.string() + ": no images to measure the guard on");
  int flagged = 0, by_input = 0, unreadable = 0;
  for (const auto& f : files) {
    io::Image im;
    try {
      im = io::read_image(f);
    } catch (const Error&) {
      ++unreadable;  // refused by the reader: flagged in practice, counted apart
      continue;
    }
    const auto problem = check_input(im, model.card.guard.expected);
    Prediction p = model.predict(io::display_frame(im));
    apply_input_check(p, problem);
    flagged += !p.guard.in_distribution;
    by_input += problem.has_value();
  }
  const int n = static_cast<int>(files.size()) - unreadable;
  return {{"images", n},
          {"flagged", flagged},
          {"rate", n > 0 ? static_cast<double>(flagged) / n : 0.0},
          {"by_input_checks", by_input},
          {"by_features", flagged - by_input},
          {"unreadable", unreadable}};
}

json fit_guard_for_run(const fs::path& run, const GuardOptions& o) {
  ClassifierModel model = ClassifierModel::load(run);
  if (!fs::exists(run / "split.csv"))
    fail_not_found((run / "split.csv").string() + ": the run has no split file (medai image train writes one)");
  data::DatasetOptions dopt;
  dopt.classes = model.class_names();
  const data::ImageDataset ds = data::load_image_dataset(run / "split.csv", dopt);
  const io::CsvTable table = io::read_csv(run / "split.csv");
  const size_t cpath = table.column("path"), csplit = table.column("split");
  std::map<std::string, std::string> split_of;
  for (const auto& row : table.rows) split_of[fs::path(row[cpath]).lexically_normal().string()] = row[csplit];
  std::vector<size_t> train, validation;
  for (size_t i = 0; i < ds.samples.size(); ++i) {
    const auto it = split_of.find(fs::absolute(ds.samples[i].path).lexically_normal().string());
    if (it == split_of.end()) continue;
    (it->second == "validation" ? validation : train).push_back(i);
  }
  ClassifierCard card = model.card;
  card.guard = fit_guard(model, ds, train, validation, o, run);
  if (!o.measure_ood.empty()) {
    core::write_json_file(run / core::kModelCardFile, card.to_json());
    ClassifierModel guarded = ClassifierModel::load(run);  // with the guard just written
    for (const auto& path : o.measure_ood) {
      const json m = measure_flag_rate(guarded, path);
      card.guard.report["measured"][path.filename().string()] = m;
      spdlog::info("guard on {}: {} of {} flagged", path.filename().string(), m["flagged"].get<int>(),
                   m["images"].get<int>());
    }
  }
  const json j = card.to_json();
  core::write_json_file(run / core::kModelCardFile, j);
  return j;
}

}  // namespace medai::imaging
