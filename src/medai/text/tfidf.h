#pragma once
// TF-IDF bag of word n-grams, as scikit-learn's TfidfVectorizer(ngram_range=(1, n),
// sublinear_tf=True, min_df) computes it: idf = ln((1 + N) / (1 + df)) + 1, rows L2-normalised.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace medai::io {
class ByteReader;
class ByteWriter;
}  // namespace medai::io

namespace medai::text {

struct SparseVector {
  std::vector<uint32_t> index;  // ascending
  std::vector<float> value;
};

struct TfidfOptions {
  int max_ngram = 2;
  int min_df = 2;                // documents a term must occur in
  size_t max_features = 200000;  // the most frequent terms (by document frequency) are kept
  bool sublinear_tf = true;      // 1 + ln(tf)
  // Character n-grams inside words padded with a space (sklearn's analyzer="char_wb"), added to
  // the word n-grams when char_max > 0.
  int char_min = 0, char_max = 0;
};

class TfidfVectorizer {
 public:
  explicit TfidfVectorizer(TfidfOptions options = {}) : options_(options) {}
  void fit(const std::vector<std::string>& documents);
  SparseVector transform(std::string_view document) const;
  size_t dimension() const { return idf_.size(); }
  void write(io::ByteWriter& out) const;
  static TfidfVectorizer read(io::ByteReader& in);

 private:
  std::vector<std::string> terms(std::string_view document) const;
  TfidfOptions options_;
  std::unordered_map<std::string, uint32_t> vocabulary_;
  std::vector<float> idf_;
};

}  // namespace medai::text
