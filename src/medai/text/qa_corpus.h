#pragma once
// A question-answer collection (MedQuAD layout) as retrieval sees it: the pool of distinct answer
// texts, and questions with their gold answers.
//
// Protocol (issue 11): only rows with an answer; the pool holds the distinct answer texts after
// whitespace normalisation; a question is its whitespace-normalised text, and its gold set is
// every distinct answer paired with that text in any used row.
#include <filesystem>
#include <string>
#include <vector>

#include "medai/data/row_splits.h"
#include "medai/io/csv.h"

namespace medai::text {

struct QaColumns {
  std::string question = "question", answer = "answer", url = "url", focus = "focus";
};

struct QaAnswer {
  std::string text, url, focus;  // url / focus from the first row with this answer ("" if no column)
};

struct QaQuestion {
  std::string text;
  std::vector<size_t> gold;  // pool indices, ascending
  unsigned parts = 0;        // bit (1 << RowSplits::Part) for each split its rows are in; 0 without splits
  bool in(int part) const { return (parts >> part) & 1u; }
};

struct QaCorpus {
  std::vector<QaAnswer> pool;
  std::vector<QaQuestion> questions;
};

// Rows with `splits` kUnused are skipped (every row is used without splits; `splits` must be a
// row,split file). A question whose rows sit in several splits is in each of them. Fails naming
// the file, row and column on a missing column or non-UTF-8 text, or when no row has an answer.
QaCorpus build_qa_corpus(const io::CsvTable& table, const QaColumns& columns, const data::RowSplits* splits);

}  // namespace medai::text
