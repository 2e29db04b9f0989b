#pragma once
// Split files for tabular and text data: a CSV with a header `row,split` (train | valid | test)
// or `row,fold` (an integer >= 0), where `row` is the 0-based data row of the data CSV. Rows not
// listed are not used.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace medai::data {

struct RowSplits {
  enum Part { kUnused = -1, kTrain = 0, kValid = 1, kTest = 2 };
  std::filesystem::path source;
  bool folds = false;           // `row,fold`; otherwise `row,split`
  std::vector<int> assignment;  // per data row: a Part for split files, the fold for fold files, kUnused
  int fold_count() const;       // 1 + the largest fold (0 for split files)
  std::vector<size_t> rows_with(int value) const;
  std::vector<size_t> rows_without(int value) const;  // listed rows with another value
};

// Fails (InvalidInput, naming the file and line) on a missing or unknown header, a row out of
// [0, n_rows), a row listed twice, an unknown split name or a fold that is not an integer >= 0.
RowSplits read_row_splits(const std::filesystem::path& path, size_t n_rows);
// A command's --split NAME (train | valid | test) as a Part; anything else fails naming the flag.
int split_part(const std::string& name);

}  // namespace medai::data

namespace medai::data {

// Assigns rows to folds (`folds` >= 2) or to train/valid/test (`folds` == 0, by the fractions),
// keeping rows with the same group key together and, when `strata` is non-empty, spreading each
// stratum's groups evenly (a group's stratum is that of its first row). Deterministic for a seed.
struct RowSplitRequest {
  std::vector<std::string> groups;  // one per row; identical keys stay together
  std::vector<std::string> strata;  // empty, or one per row
  int folds = 0;
  double valid_fraction = 0.0, test_fraction = 0.2;
  uint64_t seed = 1;
};
RowSplits make_row_splits(const RowSplitRequest& request);
// `row,split` or `row,fold`, written atomically.
void write_row_splits(const RowSplits& splits, const std::filesystem::path& path);

}  // namespace medai::data
