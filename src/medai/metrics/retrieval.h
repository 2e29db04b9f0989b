#pragma once
// Ranking metrics for retrieval with a gold set per query.
#include <cstddef>
#include <vector>

namespace medai::metrics {

// 1-based rank of the best-scoring gold item: 1 + the number of non-gold items scoring at least
// as high (a tie with a non-gold item counts against the query). `gold` must be non-empty.
size_t gold_rank(const std::vector<float>& scores, const std::vector<size_t>& gold);

struct RetrievalMetrics {
  double hits_at_1 = 0, hits_at_10 = 0, mrr = 0;
  size_t n = 0;
};
RetrievalMetrics retrieval_metrics(const std::vector<size_t>& ranks);

}  // namespace medai::metrics
