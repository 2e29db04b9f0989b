#include "medai/text/bert_folder.h"

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/text/sentencepiece.h"
#include "medai/text/wordpiece.h"

namespace medai::text {

std::shared_ptr<const SubwordTokenizer> load_folder_tokenizer(const std::filesystem::path& dir) {
  if (std::filesystem::exists(dir / SentencePieceTokenizer::kModelFile))
    return std::make_shared<SentencePieceTokenizer>(
        SentencePieceTokenizer::load(dir / SentencePieceTokenizer::kModelFile));
  return std::make_shared<WordPieceTokenizer>(WordPieceTokenizer::load_folder(dir));
}

BertFolder load_bert_folder(const std::filesystem::path& dir,
                            const std::vector<std::pair<std::string, torch::Tensor>>& extra) {
  if (!std::filesystem::is_directory(dir))
    fail_invalid(dir.string() + ": not a folder (a BERT folder holds config.json, vocab.txt, model.safetensors)");
  BertFolder f{nn::load_hf_bert(dir, extra), load_folder_tokenizer(dir)};
  if (static_cast<int64_t>(f.tokenizer->size()) > f.encoder->config.vocab_size)
    fail_invalid(
        (dir / (f.tokenizer->kind() == "sentencepiece" ? SentencePieceTokenizer::kModelFile : "vocab.txt")).string() +
        ": " + std::to_string(f.tokenizer->size()) + " tokens, but config.json has vocab_size " +
        std::to_string(f.encoder->config.vocab_size) + ": ids from " + std::to_string(f.encoder->config.vocab_size) +
        " up are unknown to the model");
  return f;
}

EncodedBatch encode_batch(const SubwordTokenizer& tok, const std::vector<const std::string*>& texts,
                          size_t max_length) {
  std::vector<Encoding> enc;
  size_t s = 2;
  for (const auto* t : texts) {
    enc.push_back(tok.encode(*t, max_length));
    s = std::max(s, enc.back().ids.size());
  }
  const auto n = static_cast<int64_t>(texts.size());
  auto ids = torch::full({n, static_cast<int64_t>(s)}, tok.pad_id(), torch::kInt64);
  auto att = torch::zeros({n, static_cast<int64_t>(s)}, torch::kInt64);
  for (int64_t b = 0; b < n; ++b) {
    const auto& e = enc[static_cast<size_t>(b)];
    std::copy(e.ids.begin(), e.ids.end(), ids.data_ptr<int64_t>() + b * static_cast<int64_t>(s));
    std::copy(e.attention_mask.begin(), e.attention_mask.end(), att.data_ptr<int64_t>() + b * static_cast<int64_t>(s));
  }
  return {ids, att};
}

torch::Tensor mean_pool(const torch::Tensor& hidden, const torch::Tensor& attention) {
  const auto m = attention.to(hidden.dtype()).unsqueeze(-1);
  return (hidden * m).sum(1) / m.sum(1).clamp_min(1.0);
}

}  // namespace medai::text
