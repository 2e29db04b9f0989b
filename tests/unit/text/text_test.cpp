// Text primitives, BM25, TF-IDF, logistic regression, metrics and split files, checked against
// hand-worked values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "medai/core/error.h"
#include "medai/data/row_splits.h"
#include "medai/io/binary_io.h"
#include "medai/io/csv.h"
#include "medai/metrics/multiclass.h"
#include "medai/metrics/retrieval.h"
#include "medai/text/bm25.h"
#include "medai/text/softmax_regression.h"
#include "medai/text/text_classification.h"
#include "medai/text/text_util.h"
#include "medai/text/tfidf.h"
#include "support/test_support.h"

using namespace medai;
using namespace medai::text;

namespace {
// Runs `f`, expecting a medai error whose message contains every one of `parts`.
template <class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(TextUtil, Utf8ValidationRejectsMalformedSequences) {
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xc3"));              // truncated
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xff"));
  expect_error([] { check_text("\xff", "x.csv row 3, column 'text'"); }, {"x.csv row 3", "UTF-8"});
  expect_error([] { check_text(" \t\n", "x.csv row 4"); }, {"row 4", "empty"});
}

TEST(TextUtil, WhitespaceAndWordTokens) {
  EXPECT_EQ(normalise_whitespace("  What is\n\tAsthma ?  "), "What is Asthma ?");
  EXPECT_EQ(word_tokens("What's HbA1c? (caf\xc3\xa9)"),
            (std::vector<std::string>{"what", "s", "hba1c", "caf\xc3\xa9"}));
  EXPECT_TRUE(is_stop_word("the"));
  EXPECT_FALSE(is_stop_word("asthma"));
}

TEST(Bm25, SStemmerFollowsHarmansRules) {
  EXPECT_EQ(s_stem("allergies"), "allergy");
  EXPECT_EQ(s_stem("diseases"), "disease");
  EXPECT_EQ(s_stem("symptoms"), "symptom");
  EXPECT_EQ(s_stem("virus"), "virus");  // -us kept
  EXPECT_EQ(s_stem("illness"), "illness");
  EXPECT_EQ(s_stem("toes"), "toe");  // -oes is not "-es -> -e" but falls to "-s -> \"\""
  EXPECT_EQ(s_stem("is"), "is");     // too short
}

TEST(Bm25, ScoresMatchHandWorkedValues) {
  Bm25Index index;  // k1 1.2, b 0.75
  index.build({"chest pain", "pain, pains and relief", "diabetes"});
  // "and" is a stop word and "pains" stems to "pain": lengths 2, 3, 1 (mean 2); df(pain) = 2.
  const double idf = std::log(1 + (3 - 2 + 0.5) / (2 + 0.5));
  const auto s = index.scores("Pain?");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_NEAR(s[0], idf * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / 2.0)), 1e-6);
  EXPECT_NEAR(s[1], idf * 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 3 / 2.0)), 1e-6);
  EXPECT_EQ(s[2], 0.0f);
  const auto top = index.top("pain", 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].first, 1u);
  EXPECT_TRUE(index.knows_any_term("the diabetes"));
  EXPECT_FALSE(index.knows_any_term("gearbox"));
  EXPECT_EQ(top_k({1, 3, 3, 2}, 3), (std::vector<std::pair<size_t, float>>{{1, 3.f}, {2, 3.f}, {3, 2.f}}));
}

TEST(RetrievalMetrics, TiesWithNonGoldCountAgainst) {
  EXPECT_EQ(metrics::gold_rank({0.5f, 0.9f, 0.1f}, {1}), 1u);
  EXPECT_EQ(metrics::gold_rank({0.9f, 0.9f, 0.1f}, {1}), 2u);     // tie with answer 0
  EXPECT_EQ(metrics::gold_rank({0.9f, 0.9f, 0.1f}, {0, 1}), 1u);  // tie among gold answers
  EXPECT_EQ(metrics::gold_rank({0.9f, 0.8f, 0.1f}, {2}), 3u);
  const auto m = metrics::retrieval_metrics({1, 2, 12, 1});
  EXPECT_DOUBLE_EQ(m.hits_at_1, 0.5);
  EXPECT_DOUBLE_EQ(m.hits_at_10, 0.75);
  EXPECT_DOUBLE_EQ(m.mrr, (1 + 0.5 + 1.0 / 12 + 1) / 4);
  EXPECT_EQ(m.n, 4u);
}

TEST(MulticlassMetrics, MatchHandWorkedClassificationReport) {
  // truth   0 0 0 1 1 2 ; predicted 0 0 1 1 2 2. Class 3 never occurs: it counts as F1 0.
  const auto m = metrics::multiclass_metrics({0, 0, 0, 1, 1, 2}, {0, 0, 1, 1, 2, 2}, 4);
  EXPECT_DOUBLE_EQ(m.accuracy, 4.0 / 6);
  EXPECT_DOUBLE_EQ(m.per_class[0].precision, 1.0);
  EXPECT_DOUBLE_EQ(m.per_class[0].recall, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.per_class[1].f1, 0.5);      // p 1/2, r 1/2
  EXPECT_DOUBLE_EQ(m.per_class[2].f1, 2.0 / 3);  // p 1/2, r 1
  EXPECT_DOUBLE_EQ(m.per_class[3].f1, 0.0);
  EXPECT_NEAR(m.macro_f1, (0.8 + 0.5 + 2.0 / 3 + 0) / 4, 1e-12);
  EXPECT_EQ(m.confusion[0][1], 1);
  EXPECT_EQ(m.per_class[0].support, 3);
}

TEST(Tfidf, MatchesSklearnFormula) {
  TfidfOptions o;
  o.max_ngram = 1;
  o.min_df = 1;
  TfidfVectorizer v(o);
  v.fit({"pain chest", "pain pain"});
  ASSERT_EQ(v.dimension(), 2u);
  // idf(pain) = ln(3/3) + 1 = 1, idf(chest) = ln(3/2) + 1; L2-normalised rows.
  auto a = v.transform("pain chest");
  std::vector<float> values = a.value;
  std::sort(values.begin(), values.end());
  const double chest = std::log(1.5) + 1, norm = std::sqrt(1 + chest * chest);
  ASSERT_EQ(values.size(), 2u);
  EXPECT_NEAR(values[0], 1 / norm, 1e-6);
  EXPECT_NEAR(values[1], chest / norm, 1e-6);
  auto b = v.transform("pain pain unknown");
  ASSERT_EQ(b.value.size(), 1u);
  EXPECT_NEAR(b.value[0], 1.0, 1e-6);
  EXPECT_TRUE(v.transform("nothing known").index.empty());
}

TEST(SoftmaxRegression, LearnsSeparableClassesAndRoundTrips) {
  std::vector<std::string> docs{"fever cough",    "cough fever night", "rash itch",
                                "itch rash skin", "fracture bone",     "bone fracture fall"};
  std::vector<int> y{0, 0, 1, 1, 2, 2};
  TfidfOptions o;
  o.min_df = 1;
  TfidfVectorizer v(o);
  v.fit(docs);
  std::vector<SparseVector> x;
  for (const auto& d : docs) x.push_back(v.transform(d));
  SoftmaxRegression lr;
  lr.fit(x, y, 3, v.dimension());
  for (size_t i = 0; i < docs.size(); ++i) EXPECT_EQ(lr.predict(x[i]), y[i]);
  const auto p = lr.probabilities(v.transform("skin itch"));
  EXPECT_NEAR(p[0] + p[1] + p[2], 1.0, 1e-9);
  EXPECT_GT(p[1], 0.5);
  io::ByteWriter w;
  lr.write(w);
  io::ByteReader r(w.bytes(), "lr.bin");
  const auto back = SoftmaxRegression::read(r);
  EXPECT_TRUE(r.done());
  EXPECT_NEAR(back.probabilities(x[4])[2], lr.probabilities(x[4])[2], 1e-5);
}

TEST(BinaryIo, TruncatedOrOversizedCountsAreClearErrors) {
  io::ByteWriter w;
  w.u64(uint64_t{1} << 60);  // declares far more floats than follow
  io::ByteReader r(w.bytes(), "model.bin");
  expect_error([&] { r.f32s(); }, {"model.bin", "corrupt", "more than the file holds"});
  io::ByteReader s(std::string_view("\x01\x02", 2), "short.bin");
  expect_error([&] { s.u32(); }, {"short.bin", "truncated"});
  io::ByteReader t(std::string_view("NOPE"), "tag.bin");
  expect_error([&] { t.expect("MDAI"); }, {"tag.bin", "MDAI"});
}

TEST(RowSplits, ReadsBothLayoutsAndRejectsBadFiles) {
  test::TempDir dir;
  test::write_text(dir / "s.csv", "row,split\n0,train\n2,test\n3,valid\n");
  const auto s = data::read_row_splits(dir / "s.csv", 4);
  EXPECT_FALSE(s.folds);
  EXPECT_EQ(s.assignment, (std::vector<int>{0, -1, 2, 1}));
  EXPECT_EQ(s.rows_without(data::RowSplits::kTest), (std::vector<size_t>{0, 3}));
  test::write_text(dir / "f.csv", "row,fold\n0,1\n1,0\n");
  EXPECT_EQ(data::read_row_splits(dir / "f.csv", 2).fold_count(), 2);

  const auto bad = [&](const std::string& body, std::initializer_list<std::string> parts) {
    test::write_text(dir / "bad.csv", body);
    expect_error([&] { data::read_row_splits(dir / "bad.csv", 4); }, parts);
  };
  bad("row,part\n0,train\n", {"bad.csv", "row,split or row,fold"});
  bad("row,split\n4,train\n", {"bad.csv line 2", "out of range", "4 rows"});
  bad("row,split\n0,train\n1,holdout\n", {"line 3", "unknown split 'holdout'"});
  bad("row,split\n0,train\n0,test\n", {"line 3", "listed twice"});
  bad("row,split\n,train\n", {"line 2", "not a 0-based row"});
  bad("row,fold\n0,-1\n", {"line 2", "not an integer"});
  bad("row,split\n", {"lists no rows"});
}

TEST(RowSplits, GroupsStayTogetherAndStrataSpread) {
  data::RowSplitRequest q;
  for (int i = 0; i < 200; ++i) {
    q.groups.push_back("g" + std::to_string(i / 4));  // 50 groups of 4 rows
    q.strata.push_back(i < 100 ? "a" : "b");
  }
  q.folds = 5;
  const auto s = data::make_row_splits(q);
  EXPECT_EQ(s.fold_count(), 5);
  for (int i = 0; i < 200; i += 4)
    for (int j = 1; j < 4; ++j) EXPECT_EQ(s.assignment[i + j], s.assignment[i]);
  for (int f = 0; f < 5; ++f) {
    const auto rows = s.rows_with(f);
    const auto in_a = std::count_if(rows.begin(), rows.end(), [](size_t r) { return r < 100; });
    EXPECT_EQ(rows.size(), 40u);
    EXPECT_EQ(in_a, 20);
  }
  EXPECT_EQ(data::make_row_splits(q).assignment, s.assignment);  // deterministic
  test::TempDir dir;
  data::write_row_splits(s, dir / "folds.csv");
  EXPECT_EQ(data::read_row_splits(dir / "folds.csv", 200).assignment, s.assignment);
}

TEST(TextClassification, ReaderNamesBadRowsAndCvPoolsOutOfFold) {
  const auto table = io::parse_csv("text,label\nfever and cough,resp\nrash,skin\n\xff,skin\n", "notes.csv");
  expect_error([&] { read_labelled_texts(table, "text", "label", nullptr); }, {"notes.csv", "row 2", "UTF-8"});
  expect_error([&] { read_labelled_texts(table, "body", "label", nullptr); }, {"notes.csv", "body"});
  const auto one = io::parse_csv("text,label\na b,x\nc d,x\n", "one.csv");
  expect_error([&] { read_labelled_texts(one, "text", "label", nullptr); }, {"one.csv", "label"});

  std::string csv = "text,label\n";
  const char* words[3][2] = {
      {"fever cough", "wheeze breath"}, {"rash itch", "skin lesion"}, {"bone fracture", "fall injury"}};
  for (int i = 0; i < 60; ++i)
    csv += std::string(words[i % 3][i / 3 % 2]) + " case " + std::to_string(i) + ",c" + std::to_string(i % 3) + "\n";
  const auto t = io::parse_csv(csv, "cv.csv");
  const auto all = read_labelled_texts(t, "text", "label", nullptr);
  EXPECT_EQ(all.classes, (std::vector<std::string>{"c0", "c1", "c2"}));
  data::RowSplits folds;
  folds.folds = true;
  for (int i = 0; i < 60; ++i) folds.assignment.push_back(i % 5);
  TfidfOptions o;
  o.min_df = 1;
  const auto report = cross_validate(all, folds, tfidf_logistic_factory(o));
  EXPECT_EQ(report.pooled.n, 60u);
  EXPECT_DOUBLE_EQ(report.pooled.macro_f1, 1.0);
  EXPECT_EQ(report.fold_macro_f1.size(), 5u);
  const auto j = cv_json(report, all.classes);
  EXPECT_EQ(j["n"], 60);
  EXPECT_TRUE(j.contains("macro_f1") && j.contains("accuracy") && j.contains("confusion"));
}
