#pragma once
// Kaplan-Meier with Greenwood standard errors and log-scale confidence limits (R survfit's
// defaults), the Nelson-Aalen cumulative hazard, and the k-group log-rank test (R survdiff, rho 0).
#include <string>
#include <vector>

namespace medai::survival {

struct KmCurve {
  std::string group;
  size_t n = 0, events = 0;
  // One entry per distinct time with an event or a censoring, as R's survfit lists them.
  std::vector<double> time;
  std::vector<size_t> n_risk, n_event, n_censor;
  std::vector<double> survival, std_err, lower, upper;    // std_err of S (Greenwood); limits on the log scale
  std::vector<double> cumhaz, cumhaz_se;                  // Nelson-Aalen
  double median = 0, median_lower = 0, median_upper = 0;  // NaN when not reached

  double survival_at(double t) const;  // S(t), right-continuous; 1 before the first time
  size_t at_risk(double t) const;      // subjects with time >= t
};

KmCurve kaplan_meier(const std::vector<double>& time, const std::vector<int>& event, double level = 0.95);

struct LogRankTest {
  std::vector<std::string> groups;
  std::vector<size_t> n;
  std::vector<double> observed, expected;
  double chi_square = 0, p = 1;
  int df = 0;
};

// `group` indexes `names` for each subject; groups without subjects are an error.
LogRankTest log_rank(const std::vector<double>& time, const std::vector<int>& event, const std::vector<int>& group,
                     const std::vector<std::string>& names);

}  // namespace medai::survival
