#pragma once
// What the transformer code needs of a tokenizer, whichever it is (WordPiece over a BERT
// vocab.txt, or a SentencePiece model): text -> ids, id -> piece, the special ids, and BERT's
// [CLS] a [SEP] (b [SEP]) encoding with truncation and padding.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace medai::text {

struct Encoding {
  std::vector<int64_t> ids;
  std::vector<int64_t> attention_mask;  // 1 for tokens, 0 for padding
  std::vector<int64_t> token_type_ids;  // 0 for the first segment, 1 for the second
};

class SubwordTokenizer {
 public:
  virtual ~SubwordTokenizer() = default;
  // The pieces of `text` and their ids, without special tokens around them.
  virtual std::vector<std::string> tokenize(std::string_view text) const = 0;
  virtual std::vector<int64_t> token_ids(std::string_view text) const = 0;
  // Fails on an id outside the vocabulary.
  virtual const std::string& token(int64_t id) const = 0;
  virtual size_t size() const = 0;
  virtual std::string kind() const = 0;  // "wordpiece" | "sentencepiece"
  // Its files in a model folder (vocab.txt or sentencepiece.model, and tokenizer_config.json).
  virtual void save(const std::filesystem::path& dir, int64_t max_length) const = 0;
  int64_t pad_id() const { return pad_; }
  int64_t unk_id() const { return unk_; }
  int64_t cls_id() const { return cls_; }
  int64_t sep_id() const { return sep_; }
  int64_t mask_id() const { return mask_; }
  // [CLS] a [SEP] (b [SEP]), truncated to `max_length` (longest segment first), padded to it
  // when `pad` is set.
  Encoding encode(std::string_view a, size_t max_length, bool pad = false, std::string_view b = {}) const;

 protected:
  int64_t pad_ = 0, unk_ = 0, cls_ = 0, sep_ = 0, mask_ = 0;
};

}  // namespace medai::text
