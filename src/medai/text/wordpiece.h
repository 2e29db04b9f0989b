#pragma once
// BERT's WordPiece tokenizer over a `vocab.txt` (one token per line; the id is the 0-based line),
// as Hugging Face's BertTokenizer does it: clean the text (control characters dropped, whitespace
// unified), space out CJK ideographs, optionally lower-case and strip accents, split on whitespace
// and punctuation, then greedy longest-match-first pieces with the "##" continuation prefix;
// a word longer than 100 characters or without a full cover is [UNK].
//
// Unicode handling without ICU: lower-casing and accent stripping cover ASCII, Latin-1 and Latin
// Extended-A (the accented letters of European languages); other scripts pass through unchanged.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace medai::text {

struct WordPieceOptions {
  bool lower_case = true;
  bool strip_accents = true;  // HF: follows lower_case unless set
  size_t max_chars_per_word = 100;
};

struct Encoding {
  std::vector<int64_t> ids;
  std::vector<int64_t> attention_mask;  // 1 for tokens, 0 for padding
  std::vector<int64_t> token_type_ids;  // 0 for the first segment, 1 for the second
};

class WordPieceTokenizer {
 public:
  // Fails naming the file on an empty vocabulary, a duplicate token, or a missing special token
  // ([PAD], [UNK], [CLS], [SEP], [MASK]).
  static WordPieceTokenizer load(const std::filesystem::path& vocab_txt, WordPieceOptions options = {});
  static WordPieceTokenizer from_tokens(std::vector<std::string> tokens, WordPieceOptions options,
                                        const std::string& source);

  // The basic tokenizer's words (before WordPiece).
  std::vector<std::string> basic_tokens(std::string_view text) const;
  std::vector<std::string> tokenize(std::string_view text) const;
  // [CLS] a [SEP] (b [SEP]), truncated to `max_length` (longest segment first), padded to it
  // when `pad` is set.
  Encoding encode(std::string_view a, size_t max_length, bool pad = false, std::string_view b = {}) const;
  // Fails on an id outside the vocabulary.
  const std::string& token(int64_t id) const;
  int64_t id(const std::string& token) const;  // the [UNK] id when absent
  size_t size() const { return tokens_.size(); }
  int64_t pad_id() const { return pad_; }
  int64_t unk_id() const { return unk_; }
  int64_t cls_id() const { return cls_; }
  int64_t sep_id() const { return sep_; }
  int64_t mask_id() const { return mask_; }
  const WordPieceOptions& options() const { return options_; }

 private:
  void wordpiece(const std::string& word, std::vector<std::string>& out) const;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int64_t> ids_;
  WordPieceOptions options_;
  std::string source_;
  int64_t pad_ = 0, unk_ = 0, cls_ = 0, sep_ = 0, mask_ = 0;
};

}  // namespace medai::text
