#pragma once
// Learns a WordPiece vocabulary (a BERT `vocab.txt`) from the user's corpus, as Hugging Face
// `tokenizers`' WordPieceTrainer does: the words of the basic tokenizer are counted, every
// character becomes a piece ("c" at the start of a word, "##c" inside), and the most frequent
// adjacent pair of pieces is merged until the vocabulary has its size (byte-pair encoding with a
// continuation prefix). The result is tokenised by WordPieceTokenizer's greedy longest match.
#include <cstdint>
#include <string>
#include <vector>

#include "medai/text/wordpiece.h"

namespace medai::text {

struct WordPieceTrainerOptions {
  size_t vocab_size = 8000;    // special tokens included
  int64_t min_frequency = 2;   // a merged pair must occur at least this often
  size_t max_alphabet = 1000;  // the most frequent characters (the rest become [UNK])
  WordPieceOptions basic;      // lower-casing and accents, as the tokenizer will apply them
};

// The special tokens ([PAD] [UNK] [CLS] [SEP] [MASK], ids 0-4), the alphabet, then the merges in
// the order they were learned. Deterministic for a given corpus. Fails on a corpus without words
// or a vocabulary size that does not leave room beyond the special tokens.
std::vector<std::string> learn_wordpiece_vocab(const std::vector<std::string>& texts,
                                               const WordPieceTrainerOptions& options);

}  // namespace medai::text
