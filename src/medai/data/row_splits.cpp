#include "medai/data/row_splits.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <unordered_map>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/io/csv.h"

namespace medai::data {

int RowSplits::fold_count() const {
  if (!folds) return 0;
  int top = -1;
  for (int a : assignment) top = std::max(top, a);
  return top + 1;
}

std::vector<size_t> RowSplits::rows_with(int value) const {
  std::vector<size_t> out;
  for (size_t i = 0; i < assignment.size(); ++i)
    if (assignment[i] == value) out.push_back(i);
  return out;
}

std::vector<size_t> RowSplits::rows_without(int value) const {
  std::vector<size_t> out;
  for (size_t i = 0; i < assignment.size(); ++i)
    if (assignment[i] != value && assignment[i] != kUnused) out.push_back(i);
  return out;
}

namespace {
int parse_part(const std::string& v, bool folds, const std::string& where) {
  if (folds) {
    const auto x = io::parse_number(v);
    if (!x || *x < 0 || *x != std::floor(*x) || *x > 1e6)
      fail_invalid(where + ": fold '" + v + "' is not an integer >= 0");
    return static_cast<int>(*x);
  }
  if (v == "train") return RowSplits::kTrain;
  if (v == "valid") return RowSplits::kValid;
  if (v == "test") return RowSplits::kTest;
  fail_invalid(where + ": unknown split '" + v + "' (known: train, valid, test)");
}
}  // namespace

int split_part(const std::string& name) {
  if (name == "train") return RowSplits::kTrain;
  if (name == "valid") return RowSplits::kValid;
  if (name == "test") return RowSplits::kTest;
  fail_invalid("--split '" + name + "': expected train, valid or test");
}

RowSplits read_row_splits(const std::filesystem::path& path, size_t n_rows) {
  const io::CsvTable t = io::read_csv(path);
  RowSplits s;
  s.source = path;
  const auto row_col = t.find_column("row");
  const auto split_col = t.find_column("split");
  const auto fold_col = t.find_column("fold");
  if (!row_col || (!split_col && !fold_col) || (split_col && fold_col))
    fail_invalid(path.string() + ": a split file needs the header row,split or row,fold");
  s.folds = fold_col.has_value();
  const size_t value_col = s.folds ? *fold_col : *split_col;
  s.assignment.assign(n_rows, RowSplits::kUnused);
  for (size_t i = 0; i < t.rows.size(); ++i) {
    const std::string where = path.string() + " line " + std::to_string(i + 2);
    const std::string& rv = t.rows[i][*row_col];
    const auto r = io::parse_number(rv);
    if (!r || *r != std::floor(*r) || *r < 0) fail_invalid(where + ": row '" + rv + "' is not a 0-based row number");
    if (*r >= static_cast<double>(n_rows))
      fail_invalid(where + ": row " + rv + " is out of range (the data has " + std::to_string(n_rows) + " rows)");
    const auto row = static_cast<size_t>(*r);
    if (s.assignment[row] != RowSplits::kUnused) fail_invalid(where + ": row " + rv + " is listed twice");
    s.assignment[row] = parse_part(t.rows[i][value_col], s.folds, where);
  }
  if (t.rows.empty()) fail_invalid(path.string() + ": the split file lists no rows");
  return s;
}

}  // namespace medai::data

namespace medai::data {

RowSplits make_row_splits(const RowSplitRequest& q) {
  const size_t n = q.groups.size();
  if (!q.strata.empty() && q.strata.size() != n) fail(ErrorCode::Internal, "make_row_splits: strata length");
  if (q.folds == 1 || q.folds < 0) fail_invalid("folds must be at least 2");
  if (q.folds == 0 && (q.valid_fraction < 0 || q.test_fraction < 0 || q.valid_fraction + q.test_fraction >= 1))
    fail_invalid("the valid and test fractions must be >= 0 and sum below 1");
  // Groups in first-seen order, bucketed by stratum.
  std::unordered_map<std::string, size_t> group_of;
  std::vector<std::vector<size_t>> members;
  std::map<std::string, std::vector<size_t>> by_stratum;
  for (size_t r = 0; r < n; ++r) {
    auto [it, fresh] = group_of.try_emplace(q.groups[r], members.size());
    if (fresh) {
      members.emplace_back();
      by_stratum[q.strata.empty() ? std::string() : q.strata[r]].push_back(it->second);
    }
    members[it->second].push_back(r);
  }
  RowSplits s;
  s.folds = q.folds > 0;
  s.assignment.assign(n, RowSplits::kUnused);
  std::mt19937_64 rng(q.seed);
  for (auto& [stratum, groups] : by_stratum) {
    std::shuffle(groups.begin(), groups.end(), rng);
    const double m = static_cast<double>(groups.size());
    for (size_t i = 0; i < groups.size(); ++i) {
      int part;
      if (s.folds) {
        part = static_cast<int>(i % static_cast<size_t>(q.folds));
      } else {
        const double u = (static_cast<double>(i) + 0.5) / m;
        part = u < q.test_fraction                      ? RowSplits::kTest
               : u < q.test_fraction + q.valid_fraction ? RowSplits::kValid
                                                        : RowSplits::kTrain;
      }
      for (size_t r : members[groups[i]]) s.assignment[r] = part;
    }
  }
  return s;
}

void write_row_splits(const RowSplits& s, const std::filesystem::path& path) {
  static const char* kNames[] = {"train", "valid", "test"};
  std::string out = s.folds ? "row,fold\n" : "row,split\n";
  for (size_t r = 0; r < s.assignment.size(); ++r) {
    const int a = s.assignment[r];
    if (a == RowSplits::kUnused) continue;
    out += std::to_string(r) + ',' + (s.folds ? std::to_string(a) : std::string(kNames[a])) + '\n';
  }
  core::write_file_atomic(path, out);
}

}  // namespace medai::data
