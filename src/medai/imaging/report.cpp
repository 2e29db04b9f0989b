#include "medai/imaging/report.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "medai/io/plot.h"

namespace medai::imaging {

namespace {
nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
nlohmann::json interval(const metrics::Interval& i) { return {num(i.lower), num(i.upper)}; }
}  // namespace

ClassifierReport make_report(const std::vector<double>& p, const std::vector<int>& y, double threshold,
                             const std::string& positive, int reps, uint64_t seed) {
  ClassifierReport r;
  r.n = static_cast<int64_t>(p.size());
  r.threshold = threshold;
  r.positive_class = positive;
  r.auroc = metrics::auroc(p, y);
  r.at_threshold = metrics::binary_metrics(metrics::confusion_at(p, y, threshold));
  r.brier = metrics::brier_score(p, y);
  r.calibration = metrics::calibration_report(p, y, 10);
  r.roc = metrics::roc_curve(p, y);
  auto resample = [&](const std::vector<size_t>& idx, std::vector<double>& ps, std::vector<int>& ys) {
    ps.resize(idx.size());
    ys.resize(idx.size());
    for (size_t k = 0; k < idx.size(); ++k) {
      ps[k] = p[idx[k]];
      ys[k] = y[idx[k]];
    }
  };
  r.auroc_ci = metrics::bootstrap_ci(
      p.size(),
      [&](const std::vector<size_t>& idx) {
        std::vector<double> ps;
        std::vector<int> ys;
        resample(idx, ps, ys);
        return metrics::auroc(ps, ys);
      },
      reps, 0.95, seed);
  auto threshold_ci = [&](auto field) {
    return metrics::bootstrap_ci(
        p.size(),
        [&](const std::vector<size_t>& idx) {
          std::vector<double> ps;
          std::vector<int> ys;
          resample(idx, ps, ys);
          return field(metrics::binary_metrics(metrics::confusion_at(ps, ys, threshold)));
        },
        reps, 0.95, seed + 1);
  };
  r.accuracy_ci = threshold_ci([](const metrics::BinaryMetrics& m) { return m.accuracy; });
  r.sensitivity_ci = threshold_ci([](const metrics::BinaryMetrics& m) { return m.sensitivity; });
  r.specificity_ci = threshold_ci([](const metrics::BinaryMetrics& m) { return m.specificity; });
  return r;
}

nlohmann::json report_json(const ClassifierReport& r) {
  const auto& m = r.at_threshold;
  const auto& cm = m.confusion;
  nlohmann::json bins = nlohmann::json::array();
  for (const auto& b : r.calibration.bins)
    bins.push_back({{"lower", b.lower},
                    {"upper", b.upper},
                    {"mean_probability", b.mean_confidence},
                    {"observed_rate", b.observed_rate},
                    {"count", b.count}});
  return {{"n", r.n},
          {"positive_class", r.positive_class},
          {"threshold", r.threshold},
          {"auroc", num(r.auroc)},
          {"auroc_ci95", interval(r.auroc_ci)},
          {"accuracy", num(m.accuracy)},
          {"accuracy_ci95", interval(r.accuracy_ci)},
          {"sensitivity", num(m.sensitivity)},
          {"sensitivity_ci95", interval(r.sensitivity_ci)},
          {"specificity", num(m.specificity)},
          {"specificity_ci95", interval(r.specificity_ci)},
          {"ppv", num(m.ppv)},
          {"npv", num(m.npv)},
          {"f1", num(m.f1)},
          {"confusion_matrix", {{"tp", cm.tp}, {"fp", cm.fp}, {"tn", cm.tn}, {"fn", cm.fn}}},
          {"brier", num(r.brier)},
          {"ece", num(r.calibration.ece)},
          {"reliability", bins}};
}

std::string report_table(const ClassifierReport& r) {
  const auto& m = r.at_threshold;
  char buf[2048];
  std::snprintf(buf, sizeof buf,
                "cases        %lld (positive class: %s)\n"
                "threshold    %.4f\n"
                "AUROC        %.4f  (95%% CI %.4f-%.4f)\n"
                "accuracy     %.4f  (95%% CI %.4f-%.4f)\n"
                "sensitivity  %.4f  (95%% CI %.4f-%.4f)\n"
                "specificity  %.4f  (95%% CI %.4f-%.4f)\n"
                "PPV          %.4f\nNPV          %.4f\nF1           %.4f\n"
                "Brier        %.4f\nECE          %.4f\n"
                "confusion    TP %lld  FP %lld  TN %lld  FN %lld\n",
                static_cast<long long>(r.n), r.positive_class.c_str(), r.threshold, r.auroc, r.auroc_ci.lower,
                r.auroc_ci.upper, m.accuracy, r.accuracy_ci.lower, r.accuracy_ci.upper, m.sensitivity,
                r.sensitivity_ci.lower, r.sensitivity_ci.upper, m.specificity, r.specificity_ci.lower,
                r.specificity_ci.upper, m.ppv, m.npv, m.f1, r.brier, r.calibration.ece,
                static_cast<long long>(m.confusion.tp), static_cast<long long>(m.confusion.fp),
                static_cast<long long>(m.confusion.tn), static_cast<long long>(m.confusion.fn));
  return buf;
}

void write_report_plots(const ClassifierReport& r, const std::filesystem::path& dir, const std::string& title) {
  io::PlotPanel roc;
  char t[128];
  std::snprintf(t, sizeof t, "%s ROC (AUROC %.3f)", title.c_str(), r.auroc);
  roc.title = t;
  roc.x_label = "1 - specificity";
  roc.y_label = "sensitivity";
  roc.x_range = {0, 1};
  roc.y_range = {0, 1};
  roc.diagonal = true;
  roc.series.push_back({"ROC", r.roc.fpr, r.roc.tpr});
  io::PlotPanel rel;
  std::snprintf(t, sizeof t, "%s reliability (ECE %.3f)", title.c_str(), r.calibration.ece);
  rel.title = t;
  rel.x_label = "predicted probability";
  rel.y_label = "observed rate";
  rel.x_range = {0, 1};
  rel.y_range = {0, 1};
  rel.diagonal = true;
  io::Series s{"calibrated", {}, {}, {214, 39, 40}, true};
  for (const auto& b : r.calibration.bins)
    if (b.count > 0) {
      s.x.push_back(b.mean_confidence);
      s.y.push_back(b.observed_rate);
      s.point_labels.push_back("n=" + std::to_string(b.count));
    }
  rel.series.push_back(s);
  io::save_plot(dir / "roc.png", {roc});
  io::save_plot(dir / "reliability.png", {rel});
}

}  // namespace medai::imaging
