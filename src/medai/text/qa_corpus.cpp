#include "medai/text/qa_corpus.h"

#include <algorithm>
#include <unordered_map>

#include "medai/core/error.h"
#include "medai/text/text_util.h"

namespace medai::text {

QaCorpus build_qa_corpus(const io::CsvTable& t, const QaColumns& c, const data::RowSplits* splits) {
  const size_t qcol = t.column(c.question), acol = t.column(c.answer);
  const auto ucol = t.find_column(c.url), fcol = t.find_column(c.focus);
  if (splits && splits->folds) fail_invalid(splits->source.string() + ": retrieval needs a row,split file, not folds");
  QaCorpus out;
  std::unordered_map<std::string, size_t> answer_index, question_index;
  const std::string file = t.source.string();
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const int part = splits ? splits->assignment[r] : data::RowSplits::kUnused;
    if (splits && part == data::RowSplits::kUnused) continue;
    const auto& row = t.rows[r];
    std::string answer = normalise_whitespace(row[acol]);
    if (answer.empty()) continue;
    const std::string where = file + " row " + std::to_string(r);
    check_text(answer, where + ", column '" + c.answer + "'");
    std::string question = normalise_whitespace(row[qcol]);
    check_text(question, where + ", column '" + c.question + "'");
    auto [ait, anew] = answer_index.try_emplace(answer, out.pool.size());
    if (anew) out.pool.push_back({std::move(answer), ucol ? row[*ucol] : "", fcol ? row[*fcol] : ""});
    auto [qit, qnew] = question_index.try_emplace(question, out.questions.size());
    if (qnew) out.questions.push_back({std::move(question), {}, 0});
    QaQuestion& q = out.questions[qit->second];
    if (splits) q.parts |= 1u << part;
    q.gold.push_back(ait->second);
  }
  if (out.pool.empty()) fail_invalid(file + ": no row has an answer in column '" + c.answer + "'");
  for (auto& q : out.questions) {
    std::sort(q.gold.begin(), q.gold.end());
    q.gold.erase(std::unique(q.gold.begin(), q.gold.end()), q.gold.end());
  }
  return out;
}

}  // namespace medai::text
