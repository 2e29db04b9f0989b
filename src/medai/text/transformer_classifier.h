#pragma once
// A BERT-family encoder fine-tuned for text classification: mean of the last hidden states over
// the attended tokens, dropout, one linear layer, class-balanced cross-entropy; AdamW with warm-up
// and linear decay through the shared Trainer. The encoder comes from `text pretrain` or any
// Hugging Face BERT folder (`--init`). A saved model is such a folder too, with the head as
// "classifier.weight" / "classifier.bias" and the classes in config.json (id2label).
// This header needs no libtorch.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "medai/text/text_classification.h"

namespace medai::text {

struct FineTuneOptions {
  int64_t epochs = 4, batch_size = 16, max_length = 256;
  double lr = 1e-4, weight_decay = 0.01, warmup_fraction = 0.1, dropout = 0.1;
  bool balanced = true;  // class weights n / (k * n_c), as the TF-IDF baseline's
  int64_t seed = 42;
  std::string precision = "auto";
  bool progress = true;
  std::filesystem::path run_dir;  // checkpoints and curves (empty: in memory)
};

class TransformerTextClassifier {
 public:
  // Fine-tunes the encoder in `init` on the texts; with validation texts, keeps the epoch with the
  // best validation macro-F1 (else the last).
  static TransformerTextClassifier fine_tune(const std::filesystem::path& init, const std::vector<std::string>& texts,
                                             const std::vector<int>& labels, std::vector<std::string> classes,
                                             const FineTuneOptions& options,
                                             const std::vector<std::string>& valid_texts = {},
                                             const std::vector<int>& valid_labels = {});
  // Class probabilities of each text (batched).
  std::vector<std::vector<double>> probabilities(const std::vector<std::string>& texts) const;
  std::vector<double> probabilities(const std::string& text) const;
  const std::vector<std::string>& classes() const;
  std::string description() const;  // e.g. "4-layer BERT, hidden 256, 256 tokens"
  // A BERT folder: config.json (+ id2label), vocab.txt, tokenizer_config.json, model.safetensors.
  void save(const std::filesystem::path& dir) const;
  static TransformerTextClassifier load(const std::filesystem::path& dir);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// A `text train` run of either kind: TF-IDF + LR (text_classifier.bin) or a fine-tuned
// transformer (a BERT folder with id2label); fails naming the folder when it holds neither.
class TextClassifierModel {
 public:
  static TextClassifierModel load(const std::filesystem::path& run_dir);
  std::vector<std::vector<double>> probabilities(const std::vector<std::string>& texts) const;
  std::vector<double> probabilities(const std::string& text) const;
  const std::vector<std::string>& classes() const;
  const std::string& method() const { return method_; }  // "tfidf-lr" | "transformer"

 private:
  std::shared_ptr<const TfidfTextClassifier> tfidf_;
  std::shared_ptr<const TransformerTextClassifier> transformer_;
  std::string method_;
};

// Fine-tuning from `init` for cross_validate (in memory, the last epoch).
TextClassifierFactory transformer_classifier_factory(const std::filesystem::path& init, const FineTuneOptions& options);

}  // namespace medai::text
