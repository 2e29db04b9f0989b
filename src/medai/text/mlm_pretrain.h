#pragma once
// Masked-language-model pretraining of the BERT encoder (nn/nets/bert.h) on the user's corpus,
// through the shared Trainer: a WordPiece vocabulary learned from the corpus (or given), documents
// cut into windows of max_length tokens, BERT's dynamic masking (15 % of the tokens; of those 80 %
// [MASK], 10 % a random token, 10 % kept), AdamW with warm-up and cosine decay, validation loss
// and accuracy on held-out documents every epoch, resume, curves. The run folder is a Hugging
// Face BERT folder (config.json, vocab.txt, tokenizer_config.json, model.safetensors with the MLM
// head) plus model.json (the card): load_hf_bert, `text embed` and every --init read it.
// This header needs no libtorch.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace medai::text {

struct PretrainOptions {
  std::vector<std::filesystem::path> corpus;  // CSV files
  std::vector<std::string> columns;           // per file: the first of these that its header has
  std::filesystem::path out;
  std::filesystem::path vocab;          // an existing vocab.txt or SentencePiece .model; empty: learn one
  std::string tokenizer = "wordpiece";  // what to learn: wordpiece | sentencepiece
  int64_t vocab_size = 8000;
  int64_t hidden = 256, layers = 4, heads = 4, intermediate = 1024;
  int64_t max_length = 128;  // tokens per window, [CLS] and [SEP] included
  int64_t batch_size = 32;
  int64_t steps = 0;                // 0: as many as fit in time_budget_minutes (measured on this machine)
  double time_budget_minutes = 25;  // for steps = 0: the whole run, vocabulary and tokenisation included
  int64_t steps_per_epoch = 250;
  double lr = 5e-4, weight_decay = 0.01, warmup_fraction = 0.06;
  double mask_probability = 0.15;
  double validation_fraction = 0.02;  // of the documents
  int64_t seed = 42;
  bool lower_case = true;
  std::string precision = "auto";  // auto: bf16 autocast on CPUs with AMX-BF16, else fp32
  bool resume = false, progress = true;
};

// The non-empty texts of `columns` in `files` (per file the first listed column its header has),
// whitespace-normalised and deduplicated, in file and row order. Fails naming the file (and row
// and column) on a file without any of the columns or a text that is not UTF-8; counts the empty
// rows it skipped in `skipped` when given.
std::vector<std::string> read_corpus(const std::vector<std::filesystem::path>& files,
                                     const std::vector<std::string>& columns, size_t* skipped = nullptr);

// Trains and writes the run folder; returns the card (model.json).
nlohmann::json pretrain_mlm(const PretrainOptions& options);

}  // namespace medai::text
