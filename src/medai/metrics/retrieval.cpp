#include "medai/metrics/retrieval.h"

#include <algorithm>
#include <limits>

#include "medai/core/error.h"

namespace medai::metrics {

size_t gold_rank(const std::vector<float>& scores, const std::vector<size_t>& gold) {
  if (gold.empty()) fail(ErrorCode::Internal, "gold_rank: empty gold set");
  float best = -std::numeric_limits<float>::infinity();
  std::vector<char> is_gold(scores.size(), 0);
  for (size_t g : gold) {
    is_gold.at(g) = 1;
    best = std::max(best, scores[g]);
  }
  size_t ahead = 0;
  for (size_t i = 0; i < scores.size(); ++i)
    if (!is_gold[i] && scores[i] >= best) ++ahead;
  return ahead + 1;
}

RetrievalMetrics retrieval_metrics(const std::vector<size_t>& ranks) {
  RetrievalMetrics m;
  m.n = ranks.size();
  if (ranks.empty()) return m;
  for (size_t r : ranks) {
    m.hits_at_1 += r <= 1;
    m.hits_at_10 += r <= 10;
    m.mrr += 1.0 / static_cast<double>(r);
  }
  const double n = static_cast<double>(ranks.size());
  m.hits_at_1 /= n;
  m.hits_at_10 /= n;
  m.mrr /= n;
  return m;
}

}  // namespace medai::metrics
