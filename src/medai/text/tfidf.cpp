#include "medai/text/tfidf.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "medai/io/binary_io.h"
#include "medai/text/text_util.h"

namespace medai::text {

std::vector<std::string> TfidfVectorizer::terms(std::string_view document) const {
  const auto words = word_tokens(document);
  std::vector<std::string> out = words;
  for (int n = 2; n <= options_.max_ngram; ++n)
    for (size_t i = 0; i + n <= words.size(); ++i) {
      std::string g = words[i];
      for (int k = 1; k < n; ++k) g += ' ' + words[i + k];
      out.push_back(std::move(g));
    }
  for (const auto& w : words) {
    const std::string padded = " " + w + " ";
    for (int n = options_.char_min; n <= options_.char_max && n > 0; ++n)
      for (size_t i = 0; i + static_cast<size_t>(n) <= padded.size(); ++i)
        out.push_back("\x01" + padded.substr(i, static_cast<size_t>(n)));  // \x01: never in a word term
  }
  return out;
}

void TfidfVectorizer::fit(const std::vector<std::string>& documents) {
  std::unordered_map<std::string, uint32_t> df;
  for (const auto& d : documents) {
    auto t = terms(d);
    std::sort(t.begin(), t.end());
    t.erase(std::unique(t.begin(), t.end()), t.end());
    for (auto& term : t) ++df[term];
  }
  std::vector<std::pair<std::string, uint32_t>> kept;
  for (auto& [term, count] : df)
    if (static_cast<int>(count) >= options_.min_df) kept.emplace_back(term, count);
  // Most frequent first, then alphabetical, so the vocabulary is deterministic.
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (kept.size() > options_.max_features) kept.resize(options_.max_features);
  vocabulary_.clear();
  idf_.clear();
  const double n = static_cast<double>(documents.size());
  for (auto& [term, count] : kept) {
    vocabulary_.emplace(term, static_cast<uint32_t>(idf_.size()));
    idf_.push_back(static_cast<float>(std::log((1.0 + n) / (1.0 + count)) + 1.0));
  }
}

SparseVector TfidfVectorizer::transform(std::string_view document) const {
  std::map<uint32_t, double> tf;
  for (const auto& t : terms(document)) {
    const auto it = vocabulary_.find(t);
    if (it != vocabulary_.end()) tf[it->second] += 1.0;
  }
  SparseVector v;
  double norm = 0;
  for (auto& [i, count] : tf) {
    const double w = (options_.sublinear_tf ? 1.0 + std::log(count) : count) * idf_[i];
    v.index.push_back(i);
    v.value.push_back(static_cast<float>(w));
    norm += w * w;
  }
  if (norm > 0)
    for (float& x : v.value) x = static_cast<float>(x / std::sqrt(norm));
  return v;
}

void TfidfVectorizer::write(io::ByteWriter& out) const {
  // The n-gram lengths share one field: word n in the low byte, character n-grams above (0 in
  // files written before they existed).
  out.u32(static_cast<uint32_t>(options_.max_ngram) | static_cast<uint32_t>(options_.char_min) << 8 |
          static_cast<uint32_t>(options_.char_max) << 16);
  out.u32(static_cast<uint32_t>(options_.min_df));
  out.u64(options_.max_features);
  out.u32(options_.sublinear_tf ? 1 : 0);
  std::vector<const std::string*> by_index(idf_.size());
  for (const auto& [term, i] : vocabulary_) by_index[i] = &term;
  out.u64(by_index.size());
  for (const auto* t : by_index) out.str(*t);
  out.f32s(idf_);
}

TfidfVectorizer TfidfVectorizer::read(io::ByteReader& in) {
  TfidfOptions o;
  const uint32_t lengths = in.u32();
  o.max_ngram = static_cast<int>(lengths & 0xFF);
  o.char_min = static_cast<int>((lengths >> 8) & 0xFF);
  o.char_max = static_cast<int>((lengths >> 16) & 0xFF);
  if (o.char_max > 10 || o.char_min > o.char_max || (lengths >> 24) != 0) in.corrupt("character n-gram lengths");
  o.min_df = static_cast<int>(in.u32());
  o.max_features = in.u64();
  o.sublinear_tf = in.u32() != 0;
  if (o.max_ngram < 1 || o.max_ngram > 5) in.corrupt("n-gram length " + std::to_string(o.max_ngram));
  TfidfVectorizer v(o);
  const uint64_t n = in.u64();
  for (uint64_t i = 0; i < n; ++i) {
    if (!v.vocabulary_.emplace(in.str(), static_cast<uint32_t>(i)).second) in.corrupt("a vocabulary term repeats");
  }
  v.idf_ = in.f32s();
  if (v.idf_.size() != n) in.corrupt("vocabulary and idf lengths differ");
  return v;
}

}  // namespace medai::text
