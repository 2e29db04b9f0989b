#pragma once
// SentencePiece (Kudo & Richardson 2018; Debian's libsentencepiece) trained on the user's corpus,
// behind the plugin in text/sentencepiece_bridge/ (loaded at run time; see bridge.cpp for why it
// is not linked). Unigram or BPE pieces; BERT's special tokens are pieces 0-4 ([PAD] [UNK] [CLS]
// [SEP] [MASK]), so an encoder treats it like a WordPiece vocabulary.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "medai/text/subword_tokenizer.h"

namespace medai::text {

struct SentencePieceTrainOptions {
  size_t vocab_size = 8000;
  std::string model_type = "unigram";  // unigram | bpe
  bool lower_case = true;              // NFKC with case folding (else plain NFKC)
  int threads = 2;
};

class SentencePieceTokenizer : public SubwordTokenizer {
 public:
  static constexpr const char* kModelFile = "sentencepiece.model";
  // Trains on `texts` (cut into sentences) and writes `dir`/sentencepiece.model; fails with
  // SentencePiece's reason (e.g. a vocabulary larger than the corpus allows).
  static SentencePieceTokenizer train(const std::vector<std::string>& texts, const std::filesystem::path& dir,
                                      const SentencePieceTrainOptions& options);
  // Fails naming the file when it is not a SentencePiece model or lacks the special pieces.
  static SentencePieceTokenizer load(const std::filesystem::path& model_file);
  // Whether the plugin loads here; `why` says what is missing when not.
  static bool available(std::string* why = nullptr);

  std::vector<std::string> tokenize(std::string_view text) const override;
  std::vector<int64_t> token_ids(std::string_view text) const override;
  const std::string& token(int64_t id) const override;
  size_t size() const override { return pieces_.size(); }
  std::string kind() const override { return "sentencepiece"; }
  // `dir`/sentencepiece.model and tokenizer_config.json.
  void save(const std::filesystem::path& dir, int64_t max_length) const override;

 private:
  std::shared_ptr<void> handle_;
  std::vector<std::string> pieces_;
  std::string model_bytes_;
  std::string source_;
};

}  // namespace medai::text
