#pragma once
// A Hugging Face BERT folder (config.json, vocab.txt, tokenizer_config.json, model.safetensors)
// as one thing: the encoder and its tokenizer, checked against each other. Used by every command
// that takes --init or a BERT --model (libtorch; include only from .cpp files that use it).
#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "medai/nn/nets/bert.h"
#include "medai/text/subword_tokenizer.h"

namespace medai::text {

struct BertFolder {
  nn::BertEncoder encoder{nullptr};
  std::shared_ptr<const SubwordTokenizer> tokenizer;
};

// The folder's tokenizer: sentencepiece.model when there is one, else vocab.txt (WordPiece).
std::shared_ptr<const SubwordTokenizer> load_folder_tokenizer(const std::filesystem::path& dir);
// Fails naming the file when the vocabulary has more tokens than the model's vocab_size (ids the
// model does not know). The encoder is in eval mode; `extra` as load_hf_bert's.
BertFolder load_bert_folder(const std::filesystem::path& dir,
                            const std::vector<std::pair<std::string, torch::Tensor>>& extra = {});

// Padded ids and attention masks of [CLS] text [SEP] for a batch, each cut to `max_length`.
struct EncodedBatch {
  torch::Tensor ids, attention;
};
EncodedBatch encode_batch(const SubwordTokenizer& tokenizer, const std::vector<const std::string*>& texts,
                          size_t max_length);
// Mean of the hidden states (N, S, H) over the attended positions -> (N, H).
torch::Tensor mean_pool(const torch::Tensor& hidden, const torch::Tensor& attention);

}  // namespace medai::text
