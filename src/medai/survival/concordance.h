#pragma once
// Harrell's concordance of a risk score with right-censored survival, counted as R's
// survival::concordance counts it: a pair is comparable when the shorter time is an event (a
// censoring at the same time as an event counts as the longer); a higher risk for the shorter time
// is concordant; tied risks count one half; pairs in different strata are not compared.
// O(n log n) (a Fenwick tree over risk ranks).
#include <vector>

namespace medai::survival {

struct Concordance {
  double concordant = 0, discordant = 0, tied_risk = 0;
  double c() const;  // (concordant + tied_risk / 2) / comparable; NaN without comparable pairs
};

// `weight`, when given, weighs each comparable pair by the weight of its shorter (event) subject:
// Uno's C passes 1 / G(T-)^2 of the censoring distribution.
Concordance harrell_concordance(const std::vector<double>& time, const std::vector<int>& event,
                                const std::vector<double>& risk, const std::vector<int>* stratum = nullptr,
                                const std::vector<double>* weight = nullptr);

}  // namespace medai::survival
