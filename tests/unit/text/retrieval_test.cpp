// Q&A corpus protocol, retrieval evaluation and the persisted answer index.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "medai/core/error.h"
#include "medai/io/csv.h"
#include "medai/text/answer_type.h"
#include "medai/text/qa_corpus.h"
#include "medai/text/retrieval.h"
#include "support/test_support.h"

using namespace medai;
using namespace medai::text;

namespace {
const char* kQa =
    "question,answer,url,focus,qtype\n"
    "What is asthma?,Asthma is a chronic disease of the airways.,u1,Asthma,information\n"
    "What is  asthma?,\"Asthma   is a chronic disease of the airways.\",u1b,Asthma,information\n"
    "What are the symptoms of asthma?,\"Wheezing, cough and shortness of breath are symptoms of "
    "asthma.\",u2,Asthma,symptoms\n"
    "What is asthma?,Asthma narrows the airways and makes breathing hard.,u3,Asthma,information\n"
    "What causes gout?,Gout is caused by uric acid crystals in a joint.,u4,Gout,causes\n"
    "What are the symptoms of gout?,A hot swollen painful big toe joint is the usual symptom of "
    "gout.,u5,Gout,symptoms\n"
    "How to treat gout?,,u6,Gout,treatment\n";
}  // namespace

TEST(QaCorpus, PoolAndGoldSetsFollowTheProtocol) {
  const auto t = io::parse_csv(kQa, "qa.csv");
  const auto c = build_qa_corpus(t, QaColumns{}, nullptr);
  // Rows 0 and 1 hold the same answer once whitespace is normalised; row 6 has no answer.
  ASSERT_EQ(c.pool.size(), 5u);
  EXPECT_EQ(c.pool[0].url, "u1");
  ASSERT_EQ(c.questions.size(), 4u);
  EXPECT_EQ(c.questions[0].text, "What is asthma?");
  EXPECT_EQ(c.questions[0].gold, (std::vector<size_t>{0, 2}));

  data::RowSplits folds;
  folds.folds = true;
  folds.assignment.assign(t.rows.size(), 0);
  try {
    build_qa_corpus(t, QaColumns{}, &folds);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row,split"), std::string::npos);
  }
}

TEST(QaRetrieval, Bm25RanksAndIndexRoundTrips) {
  const auto t = io::parse_csv(kQa, "qa.csv");
  auto corpus = build_qa_corpus(t, QaColumns{}, nullptr);
  const auto bm25 = pool_bm25(corpus.pool);
  std::vector<size_t> ranks;
  const auto m = evaluate_retrieval(
      corpus, [&](const std::string& q) { return bm25.scores(q); }, data::RowSplits::kUnused, &ranks);
  EXPECT_EQ(m.n, 4u);
  ASSERT_EQ(ranks.size(), 4u);
  EXPECT_GE(m.mrr, 0.5);

  auto index = AnswerIndex::build(corpus, Bm25Options{}, 100, 1);
  test::TempDir dir;
  index.save(dir / "ix");
  const auto back = AnswerIndex::load(dir / "ix");
  ASSERT_EQ(back.size(), index.size());
  const auto a = index.ask("symptoms of gout", 3), b = back.ask("symptoms of gout", 3);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a[0].index, b[0].index);
  EXPECT_NEAR(a[0].confidence, b[0].confidence, 1e-6);
  EXPECT_EQ(back.answer(a[0].index).focus, "Gout");
  EXPECT_GE(a[0].confidence, 0.0);
  EXPECT_LE(a[0].confidence, 1.0);

  // answers.csv that no longer matches index.json is refused, naming the file.
  test::write_text(dir / "ix" / "answers.csv", "answer,url,focus\nonly one,u,f\n");
  try {
    AnswerIndex::load(dir / "ix");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("answers.csv"), std::string::npos) << e.what();
  }
}

TEST(AnswerTypes, ModelRoundTripsAndRejectsCorruptFiles) {
  const auto t = io::parse_csv(kQa, "qa.csv");
  const auto rows = qa_typed_rows(t, QaColumns{}, "qtype", nullptr, data::RowSplits::kUnused);
  ASSERT_EQ(rows.questions.size(), 6u);
  const auto m = AnswerTypeModel::fit(rows.questions, rows.answers, rows.types);
  test::TempDir dir;
  m.save(dir / "types.bin");
  const auto back = AnswerTypeModel::load(dir / "types.bin");
  EXPECT_EQ(back.types(), m.types());
  const auto p = m.question_types("symptoms of gout?"), q = back.question_types("symptoms of gout?");
  for (size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(p[i], q[i], 1e-5);
  const std::string bytes = test::read_text(dir / "types.bin");
  test::write_text(dir / "cut.bin", bytes.substr(0, bytes.size() / 2));
  try {
    AnswerTypeModel::load(dir / "cut.bin");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cut.bin"), std::string::npos) << e.what();
  }
}
