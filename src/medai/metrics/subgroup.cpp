#include "medai/metrics/subgroup.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "medai/core/error.h"
#include "medai/io/plot.h"
#include "medai/metrics/bootstrap.h"
#include "medai/metrics/calibration.h"
#include "medai/metrics/classification.h"

namespace medai::metrics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Estimate {
  double value = kNaN, lower = kNaN, upper = kNaN;
};

Estimate estimate(const AuditInput& in, const std::vector<size_t>& members, uint64_t seed) {
  Estimate e;
  e.value = in.metric(members);
  const auto ci = bootstrap_ci(
      members.size(),
      [&](const std::vector<size_t>& idx) {
        std::vector<size_t> picked;
        picked.reserve(idx.size());
        for (size_t i : idx) picked.push_back(members[i]);
        return in.metric(picked);
      },
      in.bootstrap, 0.95, seed);
  e.lower = ci.lower, e.upper = ci.upper;
  return e;
}

}  // namespace

std::string age_band(double age) {
  if (std::isnan(age)) return "unknown";
  return age < 40 ? "0-39" : age < 60 ? "40-59" : age < 80 ? "60-79" : "80+";  // sorts in age order
}

SubgroupAudit audit_subgroups(const AuditInput& in) {
  const size_t n = in.group.size();
  if (in.outcome.size() != n || (in.probabilities && in.probabilities->size() != n))
    fail_invalid("subgroup audit: groups, outcomes and predictions differ in number");
  SubgroupAudit a;
  a.column = in.column;
  a.metric_name = in.metric_name;
  std::map<std::string, std::vector<size_t>> groups;
  const auto name_of = [&](size_t i) {
    const std::string& g = in.group[i];
    return g.empty() || g == "NA" ? std::string("(missing)") : g;
  };
  for (size_t i = 0; i < n; ++i) groups[name_of(i)].push_back(i);
  double tpr_lo = 1, tpr_hi = 0, fpr_lo = 1, fpr_hi = 0;
  uint64_t seed = 17;
  for (const auto& [name, members] : groups) {
    AuditRow r;
    r.group = name;
    r.n = members.size();
    double positives = 0;
    for (size_t i : members) positives += in.outcome[i];
    r.outcome_rate = positives / static_cast<double>(r.n);
    r.metric = r.lower = r.upper = r.ece = r.tpr = r.fpr = kNaN;
    if (r.n >= in.min_group) {
      const auto e = estimate(in, members, seed++);
      r.metric = e.value, r.lower = e.lower, r.upper = e.upper;
      std::vector<size_t> rest;
      for (size_t i = 0; i < n; ++i)
        if (name_of(i) != name) rest.push_back(i);
      if (rest.size() >= in.min_group && groups.size() > 1) {
        const auto other = estimate(in, rest, seed++);
        r.below_rest = r.upper < other.lower;
        if (r.below_rest)
          a.warnings.push_back(in.column + "=" + name + ": " + in.metric_name + " " + std::to_string(r.metric) +
                               " (95 % CI up to " + std::to_string(r.upper) +
                               ") lies wholly below the other groups' (" + std::to_string(other.lower) + "-" +
                               std::to_string(other.upper) + ")");
      }
    }
    if (in.probabilities) {
      std::vector<double> p;
      std::vector<int> y;
      for (size_t i : members) p.push_back((*in.probabilities)[i]), y.push_back(in.outcome[i]);
      const auto m = binary_metrics(confusion_at(p, y, in.threshold));
      r.tpr = m.sensitivity, r.fpr = 1 - m.specificity;
      r.ece = calibration_report(p, y).ece;
      if (r.n >= in.min_group) {
        if (!std::isnan(r.tpr)) tpr_lo = std::min(tpr_lo, r.tpr), tpr_hi = std::max(tpr_hi, r.tpr);
        if (!std::isnan(r.fpr)) fpr_lo = std::min(fpr_lo, r.fpr), fpr_hi = std::max(fpr_hi, r.fpr);
      }
    }
    a.rows.push_back(r);
  }
  a.equalised_odds_gap = in.probabilities ? std::max({0.0, tpr_hi - tpr_lo, fpr_hi - fpr_lo}) : kNaN;
  return a;
}

nlohmann::json audit_json(const SubgroupAudit& a) {
  const auto num = [](double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); };
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : a.rows)
    rows.push_back({{"group", r.group},
                    {"n", r.n},
                    {"outcome_rate", r.outcome_rate},
                    {a.metric_name, num(r.metric)},
                    {"ci95", {num(r.lower), num(r.upper)}},
                    {"ece", num(r.ece)},
                    {"tpr", num(r.tpr)},
                    {"fpr", num(r.fpr)},
                    {"below_rest", r.below_rest}});
  return {{"column", a.column},
          {"metric", a.metric_name},
          {"groups", rows},
          {"equalised_odds_gap", num(a.equalised_odds_gap)},
          {"warnings", a.warnings}};
}

std::string audit_text(const SubgroupAudit& a) {
  std::string out = "subgroups by " + a.column + " (" + a.metric_name + " with 95 % CI";
  out += std::isnan(a.equalised_odds_gap) ? "):\n" : "; TPR/FPR at the operating threshold):\n";
  char line[256];
  for (const auto& r : a.rows) {
    std::snprintf(line, sizeof line, "  %-26s n %6zu  rate %.3f  %s %.3f (%.3f-%.3f)", r.group.c_str(), r.n,
                  r.outcome_rate, a.metric_name.c_str(), r.metric, r.lower, r.upper);
    out += line;
    if (!std::isnan(r.ece)) {
      std::snprintf(line, sizeof line, "  ECE %.3f  TPR %.3f  FPR %.3f", r.ece, r.tpr, r.fpr);
      out += line;
    }
    out += r.below_rest ? "  BELOW THE REST\n" : "\n";
  }
  if (!std::isnan(a.equalised_odds_gap)) {
    std::snprintf(line, sizeof line, "  equalised-odds gap %.3f\n", a.equalised_odds_gap);
    out += line;
  }
  return out;
}

void save_audit_plot(const std::filesystem::path& path, const std::vector<SubgroupAudit>& audits) {
  std::vector<io::PlotPanel> panels;
  for (const auto& a : audits) {
    io::PlotPanel p{a.column + ": " + a.metric_name + " by group (95 % CI)", "group", a.metric_name};
    p.x_range = {{-0.5, static_cast<double>(a.rows.size()) - 0.5}};
    for (size_t g = 0; g < a.rows.size(); ++g) {
      const auto& r = a.rows[g];
      if (std::isnan(r.metric)) continue;
      const std::array<unsigned char, 3> colour =
          r.below_rest ? std::array<unsigned char, 3>{214, 39, 40} : std::array<unsigned char, 3>{31, 119, 180};
      const double x = static_cast<double>(g);
      if (!std::isnan(r.lower)) p.series.push_back({"", {x, x}, {r.lower, r.upper}, colour});
      io::Series point{"", {x}, {r.metric}, colour, true};
      point.point_labels.push_back(r.group + " (n " + std::to_string(r.n) + ")");
      p.series.push_back(point);
    }
    panels.push_back(p);
  }
  if (!panels.empty()) io::save_plot(path, panels);
}

}  // namespace medai::metrics
