// medai text pretrain -> a Hugging Face BERT folder -> text embed, text train / cv / predict
// --init, on tiny synthetic corpora (seconds, no data files), and their errors.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace medai {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::quote;
using test::run_medai;

const char* kWords[3][4] = {{"fever", "cough", "wheeze", "sputum"},
                            {"rash", "itch", "eczema", "lesion"},
                            {"fracture", "fall", "cast", "wrist"}};

// Two corpus files with different text columns (as MedQuAD's answer and MTS-Dialog's dialogue).
void write_corpus(const fs::path& dir) {
  std::string a = "question,answer\n", d = "id,dialogue\n";
  for (int i = 0; i < 120; ++i) {
    const int c = i % 3;
    const std::string text = std::string("the patient reports ") + kWords[c][i % 4] + " and " + kWords[c][(i + 1) % 4] +
                             " since day " + std::to_string(i);
    (i % 2 ? a : d) += std::to_string(i) + "," + text + "\n";
  }
  a += "99,\n";  // an empty text is skipped
  test::write_text(dir / "qa.csv", a);
  test::write_text(dir / "dialogue.csv", d);
}

// 60 labelled notes in three classes, a row,split (every fifth row valid) and a 3-fold file.
void write_notes(const fs::path& dir) {
  std::string csv = "text,label\n", split = "row,split\n", folds = "row,fold\n";
  for (int i = 0; i < 60; ++i) {
    const int c = i % 3;
    csv += std::string(kWords[c][i % 4]) + " " + kWords[c][(i / 3) % 4] + " noted on visit " + std::to_string(i) +
           ",c" + std::to_string(c) + "\n";
    split += std::to_string(i) + (i % 5 == 0 ? ",valid\n" : ",train\n");
    folds += std::to_string(i) + "," + std::to_string(i % 3) + "\n";
  }
  test::write_text(dir / "notes.csv", csv);
  test::write_text(dir / "split.csv", split);
  test::write_text(dir / "folds.csv", folds);
}

const std::string kTiny =
    " --hidden 32 --layers 2 --heads 2 --intermediate 64 --max-length 32 --batch 8 --vocab-size 150 --seed 3";

TEST(TextModelCli, PretrainWritesABertFolderThatEmbedsAndFineTunes) {
  test::TempDir dir;
  write_corpus(dir.path());
  const std::string corpus =
      " --corpus " + quote(dir / "qa.csv") + " " + quote(dir / "dialogue.csv") + " --column answer,dialogue";
  auto r = run_medai("text pretrain" + corpus + kTiny + " --steps 40 --steps-per-epoch 10 --lr 0.002 --out " +
                     quote(dir / "enc") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto card = json::parse(r.out);
  EXPECT_EQ(card["corpus"]["documents"], 120);
  EXPECT_EQ(card["corpus"]["empty_rows_skipped"], 1);
  EXPECT_EQ(card["epochs_run"], 4);
  const double loss = card["validation"]["mlm_loss"].get<double>();
  EXPECT_TRUE(std::isfinite(loss) && loss > 0) << loss;
  for (const char* f : {"config.json", "vocab.txt", "tokenizer_config.json", "model.safetensors", "model.json",
                        "curves.csv", "curves.png", "train_state.json"})
    EXPECT_TRUE(fs::exists(dir / "enc" / f)) << f;
  // The curves fall: the last epoch's training loss is below the first's.
  const auto curves = test::read_text(dir / "enc" / "curves.csv");
  EXPECT_EQ(std::count(curves.begin(), curves.end(), '\n'), 5) << curves;

  test::write_text(dir / "in.txt", "The patient reports rash and itch.");
  r = run_medai("text embed --model " + quote(dir / "enc") + " --input " + quote(dir / "in.txt") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["hidden_size"], 32);

  // The same folder again needs --resume; a finished run resumes to the same card.
  r = run_medai("text pretrain" + corpus + kTiny + " --out " + quote(dir / "enc"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  r = run_medai("text pretrain" + corpus + " --resume --json --out " + quote(dir / "enc"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["epochs_run"], 4);

  write_notes(dir.path());
  const std::string data = " --data " + quote(dir / "notes.csv") + " --text-col text --label-col label";
  r = run_medai("text train" + data + " --splits " + quote(dir / "split.csv") + " --init " + quote(dir / "enc") +
                " --epochs 25 --lr 0.003 --batch 8 --max-length 16 --out " + quote(dir / "clf"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto clf = json::parse(test::read_text(dir / "clf" / "model.json"));
  EXPECT_EQ(clf["method"], "transformer");
  EXPECT_EQ(clf["validation"]["n"], 12);
  EXPECT_GE(clf["validation"]["macro_f1"].get<double>(), 0.8) << clf.dump();
  r = run_medai("text predict --model " + quote(dir / "clf") + " --json \"rash and eczema\"");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["label"], "c1") << r.out;
  const auto config = json::parse(test::read_text(dir / "clf" / "config.json"));
  EXPECT_EQ(config["id2label"]["2"], "c2");

  r = run_medai("text cv" + data + " --folds " + quote(dir / "folds.csv") + " --init " + quote(dir / "enc") +
                " --epochs 15 --lr 0.003 --batch 8 --max-length 16 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto cv = json::parse(r.out);
  EXPECT_EQ(cv["method"], "transformer");
  EXPECT_EQ(cv["n"], 60);
  EXPECT_TRUE(cv["baseline"].contains("macro_f1")) << cv.dump();
  EXPECT_EQ(cv["baseline"]["method"], "tfidf-lr");

  // Dense retrieval: the bi-encoder fine-tuned on the training questions, fused with BM25.
  std::string qa = "question,answer,url,focus\n", split = "row,split\n";
  for (int i = 0; i < 40; ++i) {
    const int c = i % 3;
    qa += "what about " + std::string(kWords[c][i % 4]) + " case " + std::to_string(i) + "?,the " +
          kWords[c][(i + 1) % 4] + " answer " + std::to_string(i) + ",https://x/" + std::to_string(i) + ",f\n";
    split += std::to_string(i) + (i % 4 == 0 ? ",test\n" : ",train\n");
  }
  test::write_text(dir / "qa_eval.csv", qa);
  test::write_text(dir / "qa_split.csv", split);
  r = run_medai("text retrieval-eval --data " + quote(dir / "qa_eval.csv") + " --splits " +
                quote(dir / "qa_split.csv") + " --init " + quote(dir / "enc") + " --dense-batch 4 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto re = json::parse(r.out);
  EXPECT_EQ(re["method"], "bm25+dense");
  EXPECT_EQ(re["n_questions"], 10);
  for (const char* key : {"hits_at_1", "mrr", "dense_only", "baseline_bm25", "dense_weight"})
    EXPECT_TRUE(re.contains(key)) << key;
  EXPECT_EQ(re["dense_training"]["tuning_questions"], 3);
}

TEST(TextModelCli, BadCorpusAndInitAreClearErrors) {
  test::TempDir dir;
  write_corpus(dir.path());
  auto r = run_medai("text pretrain --corpus " + quote(dir / "qa.csv") + " --column body --out " + quote(dir / "x"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("qa.csv: no column 'body'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "x" / "model.safetensors"));
  test::write_text(dir / "bad.csv", "answer\nfine text\n\xff\xfe broken\n");
  r = run_medai("text pretrain --corpus " + quote(dir / "bad.csv") + " --column answer --out " + quote(dir / "y"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("bad.csv row 1, column 'answer': not valid UTF-8"), std::string::npos) << r.err;
  write_notes(dir.path());
  r = run_medai("text train --data " + quote(dir / "notes.csv") + " --text-col text --label-col label --init " +
                quote(dir / "nowhere") + " --out " + quote(dir / "z"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("nowhere: not a folder"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace medai

namespace medai {
namespace {

TEST(TextModelCli, SentencePieceTokenizerPretrainsAndFineTunes) {
  test::TempDir dir;
  write_corpus(dir.path());
  auto r = run_medai("text pretrain --tokenizer sentencepiece --corpus " + quote(dir / "qa.csv") + " " +
                     quote(dir / "dialogue.csv") + " --column answer,dialogue" + kTiny +
                     " --steps 20 --steps-per-epoch 10 --lr 0.002 --out " + quote(dir / "enc") + " --json");
  if (r.exit_code != 0 && r.err.find("SentencePiece plugin") != std::string::npos)
    GTEST_SKIP() << "built without libsentencepiece-dev: " << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto card = json::parse(r.out);
  EXPECT_EQ(card["vocabulary"]["tokenizer"], "sentencepiece");
  EXPECT_TRUE(fs::exists(dir / "enc" / "sentencepiece.model"));
  EXPECT_FALSE(fs::exists(dir / "enc" / "vocab.txt"));
  EXPECT_FALSE(fs::exists(dir / "enc" / "sentencepiece_input.txt"));  // the training text is not left behind
  test::write_text(dir / "in.txt", "The patient reports RASH and itch.");
  r = run_medai("text embed --model " + quote(dir / "enc") + " --input " + quote(dir / "in.txt") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto tokens = json::parse(r.out)["tokens"];
  EXPECT_EQ(tokens.front(), "[CLS]");
  EXPECT_EQ(tokens.back(), "[SEP]");
  std::string joined;
  for (const auto& t : tokens) joined += t.get<std::string>();
  EXPECT_NE(joined.find("rash"), std::string::npos) << joined;  // case-folded pieces (U+2581 marks word starts)

  write_notes(dir.path());
  r = run_medai("text train --data " + quote(dir / "notes.csv") + " --text-col text --label-col label --splits " +
                quote(dir / "split.csv") + " --init " + quote(dir / "enc") +
                " --epochs 25 --lr 0.003 --batch 8 --max-length 16 --out " + quote(dir / "clf"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / "clf" / "sentencepiece.model"));
  r = run_medai("text predict --model " + quote(dir / "clf") + " --json \"rash and eczema\"");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["label"], "c1") << r.out;

  test::write_text(dir / "enc" / "sentencepiece.model", "not a model");
  r = run_medai("text embed --model " + quote(dir / "enc") + " --input " + quote(dir / "in.txt"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("sentencepiece.model: not a SentencePiece model"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace medai
