#pragma once
// Okapi BM25 over a fixed document collection (Robertson & Zaragoza 2009, the Lucene idf
// log(1 + (N - df + 0.5) / (df + 0.5)) so that no weight is negative).
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace medai::text {

struct Bm25Options {
  double k1 = 1.2;
  double b = 0.75;
  bool stop_words = true;  // drop is_stop_word() tokens
  bool stem = true;        // Harman's S-stemmer (plural endings)
};

// Tokens as BM25 sees them: word_tokens(), then the options' stop words and stemming.
std::vector<std::string> bm25_terms(std::string_view text, const Bm25Options& options);
// Harman (1991) S-stemmer: "-ies" -> "-y", "-es" -> "-e", "-s" -> "" with its exceptions.
std::string s_stem(const std::string& word);

class Bm25Index {
 public:
  explicit Bm25Index(Bm25Options options = {});
  void build(const std::vector<std::string>& documents);
  size_t size() const { return doc_length_.size(); }
  // One score per document (0 where no query term occurs).
  std::vector<float> scores(std::string_view query) const;
  // The k best (document, score), best first; ties by document order.
  std::vector<std::pair<size_t, float>> top(std::string_view query, size_t k) const;
  const Bm25Options& options() const { return options_; }
  // The Lucene idf of a term (as bm25_terms() gives it); the largest value for a term no
  // document holds.
  double idf(const std::string& term) const;
  // Whether any of the query's terms occurs in some document (cheap: no scoring).
  bool knows_any_term(std::string_view query) const;

 private:
  struct Posting {
    uint32_t doc;
    uint32_t tf;
  };
  Bm25Options options_;
  std::unordered_map<std::string, std::vector<Posting>> postings_;
  std::vector<uint32_t> doc_length_;
  double mean_length_ = 0;
};

// The k largest entries of `scores` as (index, score), best first, ties by index.
std::vector<std::pair<size_t, float>> top_k(const std::vector<float>& scores, size_t k);

}  // namespace medai::text
