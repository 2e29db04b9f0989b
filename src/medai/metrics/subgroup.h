#pragma once
// Subgroup (bias) audit: the same model judged within each group of a column (sex, age band, ICU
// type, a cohort): n, prevalence or event rate, a discrimination metric (AUROC, or C for survival)
// with a bootstrap CI, and for binary models the calibration (ECE) and the TPR/FPR at the operating
// threshold, the equalised-odds gap (the largest between-group difference in TPR or FPR) and a
// warning whenever a group's CI lies wholly below the CI of all the other groups pooled.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace medai::metrics {

struct AuditInput {
  std::string column;                 // what the groups are, e.g. "sex"
  std::vector<std::string> group;     // one per case
  std::string metric_name = "auroc";  // or "c_harrell"
  // The metric on a subset of the cases (indices into the inputs); NaN when undefined.
  std::function<double(const std::vector<size_t>&)> metric;
  std::vector<int> outcome;  // 0/1 per case: the label, or the event indicator
  // Binary models: the predicted probabilities and the operating threshold (TPR, FPR, ECE).
  const std::vector<double>* probabilities = nullptr;
  double threshold = 0.5;
  int bootstrap = 500;
  size_t min_group = 10;  // smaller groups are listed without a metric
};

struct AuditRow {
  std::string group;
  size_t n = 0;
  double outcome_rate = 0;  // prevalence, or the share with an event
  double metric = 0, lower = 0, upper = 0;
  double ece = 0, tpr = 0, fpr = 0;  // binary only (NaN otherwise)
  bool below_rest = false;
};

struct SubgroupAudit {
  std::string column, metric_name;
  std::vector<AuditRow> rows;
  double equalised_odds_gap = 0;  // binary only
  std::vector<std::string> warnings;
};

SubgroupAudit audit_subgroups(const AuditInput& input);
nlohmann::json audit_json(const SubgroupAudit& audit);
// A table for people: one line per group, the gap, and the warnings' marks.
std::string audit_text(const SubgroupAudit& audit);
// One panel per audit: each group's metric with its 95 % CI.
void save_audit_plot(const std::filesystem::path& path, const std::vector<SubgroupAudit>& audits);
// Age in years -> "0-39", "40-59", "60-79", "80+" (missing: "unknown").
std::string age_band(double age);

}  // namespace medai::metrics
