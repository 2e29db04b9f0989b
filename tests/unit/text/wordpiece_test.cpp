// WordPiece against hand-worked tokenisations of a small vocabulary (BertTokenizer's rules).
#include <gtest/gtest.h>

#include "medai/core/error.h"
#include "medai/text/wordpiece.h"
#include "medai/text/wordpiece_trainer.h"
#include "support/test_support.h"

using namespace medai;
using namespace medai::text;

namespace {
std::vector<std::string> vocab() {
  return {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the",   "patient", "has", "hyper", "##tension",
          "##s",   ".",     ",",     "cafe",  "un",     "##aff", "##able",  "a",   "b"};
}
WordPieceTokenizer tok(WordPieceOptions o = {}) { return WordPieceTokenizer::from_tokens(vocab(), o, "vocab.txt"); }
using V = std::vector<std::string>;
}  // namespace

TEST(WordPiece, SplitsWordsIntoLongestPieces) {
  const auto t = tok();
  EXPECT_EQ(t.tokenize("The patient has hypertension."), (V{"the", "patient", "has", "hyper", "##tension", "."}));
  EXPECT_EQ(t.tokenize("unaffable"), (V{"un", "##aff", "##able"}));
  EXPECT_EQ(t.tokenize("xyz patients"), (V{"[UNK]", "patient", "##s"}));
  EXPECT_EQ(t.tokenize("a,b"), (V{"a", ",", "b"}));
  EXPECT_EQ(t.tokenize("  Caf\xc3\xa9\t"), (V{"cafe"}));  // lower-cased, accent stripped
  EXPECT_EQ(t.tokenize("CAF\xc3\x89"), (V{"cafe"}));      // upper-case accented letter
  EXPECT_EQ(t.tokenize("the [MASK] has"), (V{"the", "[MASK]", "has"}));
  EXPECT_EQ(t.tokenize("\xe4\xb8\xad\xe6\x96\x87"), (V{"[UNK]", "[UNK]"}));  // CJK: one token per ideograph
  EXPECT_EQ(t.tokenize(std::string(101, 'a')), (V{"[UNK]"}));
  EXPECT_EQ(t.tokenize("a\x01 b"), (V{"a", "b"}));  // control characters dropped
  WordPieceOptions cased;
  cased.lower_case = false;
  cased.strip_accents = false;
  EXPECT_EQ(tok(cased).tokenize("The patient"), (V{"[UNK]", "patient"}));
}

TEST(WordPiece, EncodesWithSpecialTokensTruncationAndPadding) {
  const auto t = tok();
  auto e = t.encode("The patient has hypertension.", 6);
  EXPECT_EQ(e.ids, (std::vector<int64_t>{2, 5, 6, 7, 8, 3}));
  e = t.encode("the patient", 6, true);
  EXPECT_EQ(e.ids, (std::vector<int64_t>{2, 5, 6, 3, 0, 0}));
  EXPECT_EQ(e.attention_mask, (std::vector<int64_t>{1, 1, 1, 1, 0, 0}));
  e = t.encode("the patient has", 7, false, "a b");
  EXPECT_EQ(e.ids, (std::vector<int64_t>{2, 5, 6, 3, 17, 18, 3}));  // the longer segment gave way
  EXPECT_EQ(e.token_type_ids, (std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(t.token(9), "##tension");
  EXPECT_THROW(t.encode("x", 1), Error);
  try {
    t.token(999);
    ADD_FAILURE();
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("token id 999 is outside the vocabulary"), std::string::npos) << err.what();
  }
}

TEST(WordPiece, VocabularyErrorsNameTheFile) {
  test::TempDir dir;
  test::write_text(dir / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n");
  try {
    WordPieceTokenizer::load(dir / "vocab.txt");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vocab.txt: the vocabulary has no [MASK]"), std::string::npos) << e.what();
  }
  test::write_text(dir / "dup.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nthe\n");
  try {
    WordPieceTokenizer::load(dir / "dup.txt");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dup.txt line 7"), std::string::npos) << e.what();
  }
  test::write_text(dir / "ok.txt", "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nthe\r\n");
  EXPECT_EQ(WordPieceTokenizer::load(dir / "ok.txt").id("the"), 5);
  EXPECT_THROW(tok().tokenize("\xff"), Error);
}

// Byte-pair merges with a continuation prefix, worked by hand: "ab" x3 and "abc" x1 give the
// characters a (4), ##b (4), ##c (1); the pair (a, ##b) occurs 4 times and merges first; then
// (ab, ##c) occurs once, below min_frequency 2.
TEST(WordPieceTrainer, LearnsHandWorkedMergesAndTokenisesWithThem) {
  WordPieceTrainerOptions o;
  o.vocab_size = 100;
  const std::vector<std::string> corpus{"ab AB ab", "abc"};
  const auto v = learn_wordpiece_vocab(corpus, o);
  EXPECT_EQ(v, (V{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "##b", "##c", "a", "ab"}));
  const auto t = WordPieceTokenizer::from_tokens(v, {}, "learned");
  EXPECT_EQ(t.tokenize("abc ab"), (V{"ab", "##c", "ab"}));
  o.min_frequency = 1;
  EXPECT_EQ(learn_wordpiece_vocab(corpus, o).back(), "abc");
  o.vocab_size = 8;  // room for the alphabet only
  EXPECT_EQ(learn_wordpiece_vocab(corpus, o).size(), 8u);
  EXPECT_EQ(learn_wordpiece_vocab(corpus, o), learn_wordpiece_vocab(corpus, o));  // deterministic
  o.vocab_size = 5;
  EXPECT_THROW(learn_wordpiece_vocab(corpus, o), Error);
  o.vocab_size = 100;
  EXPECT_THROW(learn_wordpiece_vocab({" ", "\t"}, o), Error);
}

TEST(WordPieceTrainer, MedicalWordsBecomeFewPieces) {
  std::vector<std::string> corpus;
  for (int i = 0; i < 50; ++i)
    corpus.push_back("The patient with hypertension and diabetes was given insulin; hypertensive crisis ruled out.");
  WordPieceTrainerOptions o;
  o.vocab_size = 200;
  const auto t = WordPieceTokenizer::from_tokens(learn_wordpiece_vocab(corpus, o), {}, "learned");
  EXPECT_EQ(t.tokenize("Hypertension"), (V{"hypertension"}));
  EXPECT_EQ(t.tokenize("hypertensive")[0], "hypertensive");
  for (const auto& piece : t.tokenize("hyperinsulin")) EXPECT_NE(piece, "[UNK]");  // unseen word: pieces, not [UNK]
}
