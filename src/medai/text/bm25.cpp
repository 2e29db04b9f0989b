#include "medai/text/bm25.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "medai/text/text_util.h"

namespace medai::text {

std::string s_stem(const std::string& w) {
  const auto ends = [&](const char* suffix) {
    const size_t n = std::char_traits<char>::length(suffix);
    return w.size() > n && w.compare(w.size() - n, n, suffix) == 0;
  };
  if (w.size() > 3 && ends("ies") && !ends("eies") && !ends("aies")) return w.substr(0, w.size() - 3) + "y";
  if (w.size() > 3 && ends("es") && !ends("aes") && !ends("ees") && !ends("oes")) return w.substr(0, w.size() - 1);
  if (w.size() > 3 && ends("s") && !ends("us") && !ends("ss")) return w.substr(0, w.size() - 1);
  return w;
}

std::vector<std::string> bm25_terms(std::string_view text, const Bm25Options& o) {
  std::vector<std::string> out;
  for (auto& t : word_tokens(text)) {
    if (o.stop_words && is_stop_word(t)) continue;
    out.push_back(o.stem ? s_stem(t) : std::move(t));
  }
  return out;
}

Bm25Index::Bm25Index(Bm25Options options) : options_(options) {}

void Bm25Index::build(const std::vector<std::string>& documents) {
  postings_.clear();
  doc_length_.assign(documents.size(), 0);
  std::unordered_map<std::string, uint32_t> tf;
  for (size_t d = 0; d < documents.size(); ++d) {
    tf.clear();
    const auto terms = bm25_terms(documents[d], options_);
    for (const auto& t : terms) ++tf[t];
    doc_length_[d] = static_cast<uint32_t>(terms.size());
    for (const auto& [term, count] : tf) postings_[term].push_back({static_cast<uint32_t>(d), count});
  }
  const double total = std::accumulate(doc_length_.begin(), doc_length_.end(), 0.0);
  mean_length_ = documents.empty() ? 0 : total / static_cast<double>(documents.size());
}

std::vector<float> Bm25Index::scores(std::string_view query) const {
  std::vector<float> s(doc_length_.size(), 0.0f);
  if (doc_length_.empty()) return s;
  const double n = static_cast<double>(doc_length_.size());
  // A query term that occurs twice counts twice (as rank_bm25 and Lucene's term queries do).
  for (const auto& t : bm25_terms(query, options_)) {
    const auto it = postings_.find(t);
    if (it == postings_.end()) continue;
    const double df = static_cast<double>(it->second.size());
    const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
    for (const Posting& p : it->second) {
      const double norm = options_.k1 * (1.0 - options_.b + options_.b * doc_length_[p.doc] / mean_length_);
      s[p.doc] += static_cast<float>(idf * p.tf * (options_.k1 + 1.0) / (p.tf + norm));
    }
  }
  return s;
}

double Bm25Index::idf(const std::string& term) const {
  const auto it = postings_.find(term);
  const double n = static_cast<double>(doc_length_.size()), df = it == postings_.end() ? 0.0 : it->second.size();
  return std::log(1.0 + (n - df + 0.5) / (df + 0.5));
}

bool Bm25Index::knows_any_term(std::string_view query) const {
  for (const auto& t : bm25_terms(query, options_))
    if (postings_.count(t)) return true;
  return false;
}

std::vector<std::pair<size_t, float>> top_k(const std::vector<float>& scores, size_t k) {
  std::vector<size_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  k = std::min(k, idx.size());
  const auto better = [&](size_t a, size_t b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); };
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(), better);
  std::vector<std::pair<size_t, float>> out;
  out.reserve(k);
  for (size_t i = 0; i < k; ++i) out.emplace_back(idx[i], scores[idx[i]]);
  return out;
}

std::vector<std::pair<size_t, float>> Bm25Index::top(std::string_view query, size_t k) const {
  return top_k(scores(query), k);
}

}  // namespace medai::text
