#include "medai/imaging/evaluate_classifier.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <tuple>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/imaging/classifier_model.h"
#include "medai/io/csv.h"
#include "medai/metrics/calibration.h"
#include "medai/metrics/classification.h"
#include "medai/metrics/subgroup.h"
#include "medai/transforms/transforms.h"

namespace medai::imaging {

using nlohmann::json;

namespace {

json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

struct Scores {
  double accuracy = 0, sensitivity = 0, specificity = 0, ppv = 0, npv = 0, brier = 0, ece = 0;
};

Scores score(const std::vector<double>& p, const std::vector<int>& y, double threshold) {
  const auto m = metrics::binary_metrics(metrics::confusion_at(p, y, threshold));
  return {m.accuracy,
          m.sensitivity,
          m.specificity,
          m.ppv,
          m.npv,
          metrics::brier_score(p, y),
          metrics::calibration_report(p, y, 10).ece};
}

struct Pass {
  torch::Tensor logits, features;  // features: the guard's, from the unaugmented view
};

// Logits for the images averaged over `tta` views (transforms::tta_view), each image changed by
// `perturbation` first when one is named.
Pass score_pass(ClassifierModel& model, const data::ImageDataset& ds, const std::vector<size_t>& idx, int tta,
                const std::string& perturbation, bool progress) {
  Pass out;
  for (int k = 0; k < tta; ++k) {
    ClassifierModel::ImageTransform t;
    if (!perturbation.empty() || k > 0)
      t = [&perturbation, k](const cv::Mat& img, size_t i) {
        return transforms::tta_view(perturbation.empty() ? img : transforms::perturb(img, perturbation, i), k);
      };
    torch::Tensor z, f;
    if (model.guard && k == 0) std::tie(z, f) = model.dataset_logits_and_features(ds, idx, 64, progress, t);
    else z = model.dataset_logits(ds, idx, 64, progress, t);
    out.logits = k ? out.logits + z : z;
    if (k == 0) out.features = f;
  }
  out.logits = out.logits / tta;
  return out;
}

json guard_section(const FeatureGuard& guard, const torch::Tensor& features) {
  const auto d = guard.distances(features);
  size_t passed = 0;
  for (double v : d) passed += v <= guard.threshold();
  return {{"images", d.size()},
          {"passed", passed},
          {"acceptance", d.empty() ? 0.0 : static_cast<double>(passed) / d.size()},
          {"threshold", guard.threshold()},
          {"note", "feature distance only; the metrics above include every image"}};
}

// One row of the perturbation table: discrimination and the operating point's errors under it.
json perturbation_row(const std::string& name, const std::vector<double>& p, const std::vector<int>& y,
                      double threshold, const json& guard) {
  const Scores s = score(p, y, threshold);
  json row = {{"name", name},
              {"auroc", num(metrics::auroc(p, y))},
              {"accuracy", s.accuracy},
              {"sensitivity", num(s.sensitivity)},
              {"specificity", num(s.specificity)},
              {"brier", s.brier},
              {"ece", s.ece}};
  if (!guard.is_null()) row["guard_acceptance"] = guard["acceptance"];
  return row;
}

// path,label,probability[,probability_<change>...]: one row per image, for the user's own analysis.
void write_scores(const std::filesystem::path& file, const data::ImageDataset& ds, const std::vector<int>& y,
                  const std::vector<std::vector<double>>& scores, const std::vector<std::string>& names) {
  std::string csv = "path,label,probability";
  for (const auto& n : names) csv += ",probability_" + n;
  csv += "\n";
  for (size_t i = 0; i < ds.samples.size(); ++i) {
    csv += io::csv_escape(ds.samples[i].path.string()) + "," + std::to_string(y[i]);
    for (const auto& col : scores) csv += "," + fmt::format("{:.6g}", col[i]);
    csv += "\n";
  }
  core::write_file_atomic(file, csv);
}

using Probabilities = std::function<std::vector<double>(const torch::Tensor&)>;

// The perturbation table from an already scored clean pass: its row ("none"), then one pass per
// change; each change's probabilities are appended to `scores` when given.
json perturbation_rows(ClassifierModel& model, const data::ImageDataset& ds, const std::vector<size_t>& idx,
                       const std::vector<int>& y, double threshold, const std::vector<std::string>& names, int tta,
                       bool progress, const Probabilities& probs, const Pass& clean,
                       std::vector<std::vector<double>>* scores) {
  auto row = [&](const std::string& name, const Pass& pass, std::vector<double>* out) {
    std::vector<double> p = probs(pass.logits);
    json r = perturbation_row(name, p, y, threshold, model.guard ? guard_section(*model.guard, pass.features) : json());
    if (out) *out = std::move(p);
    return r;
  };
  json rows = json::array({row("none", clean, nullptr)});
  for (const auto& name : names) {
    std::vector<double> p;
    rows.push_back(row(name, score_pass(model, ds, idx, tta, name, progress), &p));
    if (scores) scores->push_back(std::move(p));
  }
  return rows;
}

}  // namespace

json perturbation_report(ClassifierModel& model, const data::ImageDataset& ds, const std::vector<size_t>& idx,
                         const std::vector<int>& y, double threshold, const std::vector<std::string>& names, int tta,
                         bool progress, const Probabilities& probabilities) {
  const Probabilities probs =
      probabilities ? probabilities : [&model](const torch::Tensor& z) { return model.positive_probabilities(z); };
  return perturbation_rows(model, ds, idx, y, threshold, names, tta, progress, probs,
                           score_pass(model, ds, idx, tta, "", progress), nullptr);
}

json class_mix_report(const std::vector<double>& p, const std::vector<int>& y, double threshold, double from,
                      const std::vector<double>& mixes, int reps, uint64_t seed) {
  std::vector<size_t> pos, neg;
  for (size_t i = 0; i < y.size(); ++i) (y[i] ? pos : neg).push_back(i);
  if (pos.empty() || neg.empty()) fail_invalid("class-mix resampling needs images of both classes");
  json out = json::array();
  std::mt19937_64 rng(seed);
  for (double q : mixes) {
    if (!(q > 0 && q < 1)) fail_invalid("--class-mix: prevalences must be strictly between 0 and 1");
    const size_t n = y.size(), n_pos = std::max<size_t>(1, static_cast<size_t>(std::lround(q * n)));
    std::uniform_int_distribution<size_t> pick_pos(0, pos.size() - 1), pick_neg(0, neg.size() - 1);
    Scores raw_sum, adj_sum;
    for (int r = 0; r < reps; ++r) {
      std::vector<double> ps, pa;
      std::vector<int> ys;
      for (size_t k = 0; k < n; ++k) {
        const size_t i = k < n_pos ? pos[pick_pos(rng)] : neg[pick_neg(rng)];
        ps.push_back(p[i]);
        pa.push_back(metrics::shift_prevalence(p[i], from, q));
        ys.push_back(y[i]);
      }
      const Scores a = score(ps, ys, threshold), b = score(pa, ys, metrics::shift_prevalence(threshold, from, q));
      for (auto [sum, s] : {std::pair{&raw_sum, &a}, std::pair{&adj_sum, &b}}) {
        sum->accuracy += s->accuracy / reps, sum->sensitivity += s->sensitivity / reps;
        sum->specificity += s->specificity / reps, sum->ppv += s->ppv / reps, sum->npv += s->npv / reps;
        sum->brier += s->brier / reps, sum->ece += s->ece / reps;
      }
    }
    out.push_back({{"prevalence", q},
                   {"accuracy", num(raw_sum.accuracy)},
                   {"sensitivity", num(raw_sum.sensitivity)},
                   {"specificity", num(raw_sum.specificity)},
                   {"ppv", num(raw_sum.ppv)},
                   {"npv", num(raw_sum.npv)},
                   {"brier", num(raw_sum.brier)},
                   {"ece", num(raw_sum.ece)},
                   {"brier_adjusted", num(adj_sum.brier)},
                   {"ece_adjusted", num(adj_sum.ece)},
                   {"resamples", reps}});
  }
  return out;
}

// The shared subgroup audit (metrics/subgroup.h). A group of one class (a pneumonia subtype, the
// normals) is judged by the AUROC of its cases against every case of the other class.
metrics::SubgroupAudit subgroup_audit(const std::vector<double>& p, const std::vector<int>& y, double threshold,
                                      const std::vector<std::string>& groups, const std::string& column) {
  metrics::AuditInput in;
  in.column = column;
  in.group = groups;
  in.outcome = y;
  in.probabilities = &p;
  in.threshold = threshold;
  in.metric = [&](const std::vector<size_t>& idx) {
    std::vector<double> ps;
    std::vector<int> ys;
    int positives = 0;
    for (size_t i : idx) ps.push_back(p[i]), ys.push_back(y[i]), positives += y[i];
    if (positives == 0 || positives == static_cast<int>(idx.size()))
      for (size_t i = 0; i < y.size(); ++i)
        if (y[i] != ys[0]) ps.push_back(p[i]), ys.push_back(y[i]);
    return metrics::auroc(ps, ys);
  };
  auto a = metrics::audit_subgroups(in);
  for (const auto& w : a.warnings) spdlog::warn("subgroup audit: {}", w);
  return a;
}

json group_report(const std::vector<double>& p, const std::vector<int>& y, double threshold,
                  const std::vector<std::string>& groups) {
  std::map<std::string, std::vector<size_t>> members;
  for (size_t i = 0; i < groups.size(); ++i) members[groups[i]].push_back(i);
  std::vector<double> neg_p;
  for (size_t i = 0; i < y.size(); ++i)
    if (!y[i]) neg_p.push_back(p[i]);
  json out = json::object();
  for (const auto& [g, idx] : members) {
    std::vector<double> ps;
    std::vector<int> ys;
    int positives = 0;
    for (size_t i : idx) ps.push_back(p[i]), ys.push_back(y[i]), positives += y[i];
    const auto m = metrics::binary_metrics(metrics::confusion_at(ps, ys, threshold));
    json j = {{"n", idx.size()},
              {"positives", positives},
              {"accuracy", num(m.accuracy)},
              {"sensitivity", num(m.sensitivity)},
              {"specificity", num(m.specificity)},
              {"ece", num(metrics::calibration_report(ps, ys, 10).ece)},
              {"mean_probability", std::accumulate(ps.begin(), ps.end(), 0.0) / ps.size()}};
    if (positives > 0 && positives < static_cast<int>(idx.size())) j["auroc"] = num(metrics::auroc(ps, ys));
    if (positives == static_cast<int>(idx.size()) && !neg_p.empty()) {
      std::vector<double> both = ps;
      std::vector<int> yb(ps.size(), 1);
      both.insert(both.end(), neg_p.begin(), neg_p.end());
      yb.insert(yb.end(), neg_p.size(), 0);
      j["auroc_vs_negatives"] = num(metrics::auroc(both, yb));
    }
    out[g] = j;
  }
  return out;
}

Evaluation evaluate_classifier(const EvaluateOptions& o) {
  ClassifierModel model = ClassifierModel::load(o.model);
  auto classes = model.class_names();
  if (classes.size() != 2) fail_unsupported("evaluate supports two-class models");
  data::DatasetOptions dopt;
  dopt.split = o.split;
  dopt.classes = classes;
  data::ImageDataset ds = data::load_image_dataset(o.data, dopt);
  std::vector<std::string> groups;
  if (!o.group_column.empty())
    for (const auto& s : ds.samples) {
      auto it = s.columns.find(o.group_column);
      if (it == s.columns.end())
        fail_invalid(ds.source.string() + ": no column '" + o.group_column + "' to group by (a CSV index has them)");
      groups.push_back(it->second);
    }
  const std::optional<double> prior =
      o.prevalence || !o.class_mix.empty() ? std::optional<double>(model.card.require_prior()) : std::nullopt;
  std::vector<size_t> idx(ds.samples.size());
  std::iota(idx.begin(), idx.end(), 0);
  if (o.tta < 1 || o.tta > transforms::kMaxTtaViews)
    fail_invalid("--tta: between 1 and " + std::to_string(transforms::kMaxTtaViews) + " views");
  for (const auto& name : o.perturbations) transforms::check_perturbation(name);  // before any image is scored
  std::vector<int> y;
  for (const auto& s : ds.samples) y.push_back(s.label == model.positive_index() ? 1 : 0);
  double threshold = model.threshold();
  Evaluation e;
  auto probabilities = [&](const torch::Tensor& z) {
    std::vector<double> p = model.positive_probabilities(z);
    if (o.prevalence)
      for (auto& v : p) v = metrics::shift_prevalence(v, *prior, *o.prevalence);
    return p;
  };
  const Pass clean = score_pass(model, ds, idx, o.tta, "", o.progress);
  const std::vector<double> p = probabilities(clean.logits);
  if (o.prevalence) {
    threshold = metrics::shift_prevalence(threshold, *prior, *o.prevalence);
    e.shift["prevalence"] = {{"adjusted_to", *o.prevalence}, {"calibrated_at", *prior}};
  }
  if (o.tta > 1)
    e.shift["tta"] = {{"views", o.tta}, {"note", "logits averaged over zoomed and shifted views; calibrated without"}};
  e.report = make_report(p, y, threshold, classes[model.positive_index()], o.bootstrap_reps);
  if (!o.class_mix.empty())
    e.shift["class_mix"] = class_mix_report(p, y, threshold, o.prevalence ? *o.prevalence : *prior, o.class_mix);
  if (!groups.empty()) {
    e.shift["group_column"] = o.group_column;
    e.shift["by_group"] = group_report(p, y, threshold, groups);
    e.shift["subgroup_audit"] = metrics::audit_json(subgroup_audit(p, y, threshold, groups, o.group_column));
  }
  // how much of this set the feature guard would let through (metrics above count every image)
  if (model.guard) e.shift["guard"] = guard_section(*model.guard, clean.features);
  std::vector<std::vector<double>> scores{p};  // the per-image table of --scores: clean, then each change
  if (!o.perturbations.empty())
    e.shift["perturbations"] = perturbation_rows(model, ds, idx, y, threshold, o.perturbations, o.tta, o.progress,
                                                 probabilities, clean, &scores);
  if (!o.scores_csv.empty()) write_scores(o.scores_csv, ds, y, scores, o.perturbations);
  if (!o.report_dir.empty()) write_report_plots(e.report, o.report_dir, "evaluation");
  return e;
}

}  // namespace medai::imaging
