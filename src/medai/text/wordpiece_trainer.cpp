#include "medai/text/wordpiece_trainer.h"

#include <algorithm>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "medai/core/error.h"

namespace medai::text {

namespace {

constexpr const char* kSpecials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

// The UTF-8 code points of a word, each as its bytes.
std::vector<std::string> characters(const std::string& word) {
  std::vector<std::string> out;
  for (size_t i = 0; i < word.size(); ++i) {
    if ((static_cast<unsigned char>(word[i]) & 0xC0) == 0x80 && !out.empty()) out.back() += word[i];
    else out.emplace_back(1, word[i]);
  }
  return out;
}

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

// Byte-pair merges over counted words, with pair counts kept up to date incrementally.
class PairMerger {
 public:
  PairMerger(std::vector<std::vector<int32_t>> words, std::vector<int64_t> counts)
      : words_(std::move(words)), counts_(std::move(counts)) {
    for (size_t w = 0; w < words_.size(); ++w) add_pairs(w, +1);
    for (const auto& [key, n] : pairs_) heap_.push({n, ~key});
    touched_.clear();
  }
  // The most frequent pair (ties: the smaller symbol ids, i.e. the earlier pieces), if any
  // occurs at least `min_count` times.
  bool best(int64_t min_count, int32_t& a, int32_t& b) {
    while (!heap_.empty()) {
      const auto [n, inv] = heap_.top();
      const uint64_t key = ~inv;
      const auto it = pairs_.find(key);
      if (it == pairs_.end() || it->second != n) {  // stale entry
        heap_.pop();
        continue;
      }
      if (n < min_count) return false;
      a = static_cast<int32_t>(key >> 32), b = static_cast<int32_t>(key & 0xFFFFFFFFu);
      return true;
    }
    return false;
  }
  // Replaces every adjacent (a, b) by `merged` in the words that hold it.
  void merge(int32_t a, int32_t b, int32_t merged) {
    const uint64_t key = pair_key(a, b);
    const auto holders = where_[key];
    for (size_t w : holders) {
      auto& s = words_[w];
      bool found = false;
      for (size_t i = 0; i + 1 < s.size(); ++i) found = found || (s[i] == a && s[i + 1] == b);
      if (!found) continue;
      add_pairs(w, -1);
      std::vector<int32_t> out;
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) out.push_back(merged), ++i;
        else out.push_back(s[i]);
      }
      s = std::move(out);
      add_pairs(w, +1);
    }
    where_.erase(key);
    pairs_.erase(key);
    for (uint64_t k : touched_) {
      const auto it = pairs_.find(k);
      if (it != pairs_.end() && it->second > 0) heap_.push({it->second, ~k});
    }
    touched_.clear();
  }

 private:
  void add_pairs(size_t w, int sign) {
    const auto& s = words_[w];
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const uint64_t k = pair_key(s[i], s[i + 1]);
      auto& n = pairs_[k];
      n += sign * counts_[w];
      if (n <= 0) pairs_.erase(k);
      else if (sign > 0) where_[k].insert(w);
      touched_.push_back(k);
    }
  }
  std::vector<std::vector<int32_t>> words_;
  std::vector<int64_t> counts_;
  std::unordered_map<uint64_t, int64_t> pairs_;
  std::unordered_map<uint64_t, std::unordered_set<size_t>> where_;
  std::priority_queue<std::pair<int64_t, uint64_t>> heap_;  // (count, ~key): larger count, then smaller key
  std::vector<uint64_t> touched_;
};

}  // namespace

std::vector<std::string> learn_wordpiece_vocab(const std::vector<std::string>& texts,
                                               const WordPieceTrainerOptions& options) {
  constexpr size_t kSpecialCount = std::size(kSpecials);
  if (options.vocab_size < kSpecialCount + 2)
    fail_invalid("vocabulary size " + std::to_string(options.vocab_size) + " leaves no room beyond the " +
                 std::to_string(kSpecialCount) + " special tokens");
  std::vector<std::string> vocab(std::begin(kSpecials), std::end(kSpecials));
  const auto basic = WordPieceTokenizer::from_tokens(vocab, options.basic, "vocabulary trainer");
  std::unordered_map<std::string, int64_t> word_counts;
  for (const auto& t : texts)
    for (auto& w : basic.basic_tokens(t))
      if (w.size() <= options.basic.max_chars_per_word) ++word_counts[std::move(w)];
  if (word_counts.empty()) fail_invalid("vocabulary trainer: the corpus holds no words");

  // Sorted words (determinism), their characters, the alphabet by frequency.
  std::vector<std::pair<std::string, int64_t>> sorted(word_counts.begin(), word_counts.end());
  std::sort(sorted.begin(), sorted.end());
  std::unordered_map<std::string, int64_t> char_counts;  // "c" and "##c" separately
  std::vector<std::vector<std::string>> split(sorted.size());
  for (size_t w = 0; w < sorted.size(); ++w) {
    split[w] = characters(sorted[w].first);
    for (size_t i = 1; i < split[w].size(); ++i) split[w][i] = "##" + split[w][i];
    for (const auto& c : split[w]) char_counts[c] += sorted[w].second;
  }
  std::vector<std::pair<std::string, int64_t>> alphabet(char_counts.begin(), char_counts.end());
  std::sort(alphabet.begin(), alphabet.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  });
  const size_t room = options.vocab_size - kSpecialCount;
  alphabet.resize(std::min({alphabet.size(), options.max_alphabet, room}));
  std::sort(alphabet.begin(), alphabet.end());

  std::unordered_map<std::string, int32_t> symbol_ids;  // every piece, in or out of the vocabulary
  std::vector<std::string> symbols;
  const auto symbol = [&](const std::string& s) {
    const auto [it, fresh] = symbol_ids.try_emplace(s, static_cast<int32_t>(symbols.size()));
    if (fresh) symbols.push_back(s);
    return it->second;
  };
  for (const auto& [c, n] : alphabet) vocab.push_back(c), symbol(c);
  std::vector<std::vector<int32_t>> words;
  std::vector<int64_t> counts;
  for (size_t w = 0; w < sorted.size(); ++w) {
    std::vector<int32_t> s;
    bool known = true;
    for (const auto& c : split[w]) known = known && symbol_ids.count(c) > 0;
    if (!known || split[w].size() < 2) continue;  // words with a rare character stay [UNK]
    for (const auto& c : split[w]) s.push_back(symbol_ids.at(c));
    words.push_back(std::move(s));
    counts.push_back(sorted[w].second);
  }
  std::unordered_set<std::string> in_vocab(vocab.begin(), vocab.end());
  PairMerger merger(std::move(words), std::move(counts));
  int32_t a = 0, b = 0;
  while (vocab.size() < options.vocab_size && merger.best(std::max<int64_t>(1, options.min_frequency), a, b)) {
    const std::string& right = symbols[static_cast<size_t>(b)];
    const std::string piece = symbols[static_cast<size_t>(a)] + (right.rfind("##", 0) == 0 ? right.substr(2) : right);
    const int32_t merged = symbol(piece);
    merger.merge(a, b, merged);
    if (in_vocab.insert(piece).second) vocab.push_back(piece);
  }
  return vocab;
}

}  // namespace medai::text
