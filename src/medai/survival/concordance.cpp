#include "medai/survival/concordance.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

namespace medai::survival {

double Concordance::c() const {
  const double comparable = concordant + discordant + tied_risk;
  return comparable > 0 ? (concordant + tied_risk / 2) / comparable : std::numeric_limits<double>::quiet_NaN();
}

namespace {

struct Fenwick {
  std::vector<double> tree;
  explicit Fenwick(size_t n) : tree(n + 1, 0.0) {}
  void add(size_t i, double v) {
    for (++i; i < tree.size(); i += i & (~i + 1)) tree[i] += v;
  }
  double prefix(size_t i) const {  // sum over [0, i)
    double s = 0;
    for (; i > 0; i -= i & (~i + 1)) s += tree[i];
    return s;
  }
};

void count_stratum(const std::vector<double>& time, const std::vector<int>& event, const std::vector<double>& risk,
                   const std::vector<double>* weight, std::vector<size_t>& members, Concordance& out) {
  std::vector<double> ranks;
  for (size_t i : members) ranks.push_back(risk[i]);
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  const auto rank = [&](size_t i) {
    return static_cast<size_t>(std::lower_bound(ranks.begin(), ranks.end(), risk[i]) - ranks.begin());
  };
  // Longest times first: the tree holds every subject whose time is longer than the current one.
  std::sort(members.begin(), members.end(), [&](size_t a, size_t b) { return time[a] > time[b]; });
  Fenwick tree(ranks.size());
  double inside = 0;
  for (size_t s = 0; s < members.size();) {
    size_t e = s;
    while (e < members.size() && time[members[e]] == time[members[s]]) ++e;
    for (size_t k = s; k < e; ++k)  // censored at this time outlive its events
      if (!event[members[k]]) tree.add(rank(members[k]), 1), ++inside;
    for (size_t k = s; k < e; ++k) {
      if (!event[members[k]]) continue;
      const size_t r = rank(members[k]);
      const double below = tree.prefix(r), up_to = tree.prefix(r + 1);
      const double w = weight ? (*weight)[members[k]] : 1.0;
      out.concordant += w * below;
      out.tied_risk += w * (up_to - below);
      out.discordant += w * (inside - up_to);
    }
    for (size_t k = s; k < e; ++k)
      if (event[members[k]]) tree.add(rank(members[k]), 1), ++inside;
    s = e;
  }
}

}  // namespace

Concordance harrell_concordance(const std::vector<double>& time, const std::vector<int>& event,
                                const std::vector<double>& risk, const std::vector<int>* stratum,
                                const std::vector<double>* weight) {
  std::map<int, std::vector<size_t>> groups;
  for (size_t i = 0; i < time.size(); ++i) groups[stratum ? (*stratum)[i] : 0].push_back(i);
  Concordance out;
  for (auto& [s, members] : groups) count_stratum(time, event, risk, weight, members, out);
  return out;
}

}  // namespace medai::survival
