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

#include "medai/text/subword_tokenizer.h"

namespace medai::text {

struct WordPieceOptions {
  bool lower_case = true;
  bool strip_accents = true;  // HF: follows lower_case unless set
  size_t max_chars_per_word = 100;
};

class WordPieceTokenizer : public SubwordTokenizer {
 public:
  // Fails naming the file on an empty vocabulary, a duplicate token, or a missing special token
  // ([PAD], [UNK], [CLS], [SEP], [MASK]).
  static WordPieceTokenizer load(const std::filesystem::path& vocab_txt, WordPieceOptions options = {});
  // `dir`/vocab.txt with the casing of `dir`/tokenizer_config.json (do_lower_case; default true),
  // as a Hugging Face BERT folder holds them.
  static WordPieceTokenizer load_folder(const std::filesystem::path& dir);
  static WordPieceTokenizer from_tokens(std::vector<std::string> tokens, WordPieceOptions options,
                                        const std::string& source);

  // The basic tokenizer's words (before WordPiece).
  std::vector<std::string> basic_tokens(std::string_view text) const;
  std::vector<std::string> tokenize(std::string_view text) const override;
  std::vector<int64_t> token_ids(std::string_view text) const override;
  // Fails on an id outside the vocabulary.
  const std::string& token(int64_t id) const override;
  int64_t id(const std::string& token) const;  // the [UNK] id when absent
  size_t size() const override { return tokens_.size(); }
  std::string kind() const override { return "wordpiece"; }
  // vocab.txt and tokenizer_config.json (do_lower_case, strip_accents), as load_folder reads them.
  void save(const std::filesystem::path& dir, int64_t max_length) const override;
  const WordPieceOptions& options() const { return options_; }

 private:
  void wordpiece(const std::string& word, std::vector<std::string>& out) const;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int64_t> ids_;
  WordPieceOptions options_;
  std::string source_;
};

}  // namespace medai::text
