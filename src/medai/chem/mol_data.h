#pragma once
// Molecule datasets as MoleculeNet ships them: a CSV with a SMILES column and one or more task
// columns (empty = not measured). A SMILES that does not parse is skipped, counted and reported
// with its line; it never aborts the dataset. Labels are checked: a classification task takes
// 0/1, a regression task finite numbers; a task with no label at all is an error.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "medai/bridges/rdkit/chem.h"
#include "medai/data/row_splits.h"

namespace medai::chem {

enum class TaskType { Classification, Regression };
std::string task_type_name(TaskType t);

struct RowError {
  size_t row = 0;   // 0-based data row
  size_t line = 0;  // line in the file (header = 1)
  std::string smiles, reason;
};

struct MolDataset {
  std::filesystem::path source;
  std::string smiles_column;
  std::vector<std::string> tasks;
  TaskType type = TaskType::Classification;
  size_t total_rows = 0;
  std::vector<size_t> rows;  // data row of each parsed molecule
  std::vector<std::string> smiles;
  std::vector<bridges::chem::Molecule> molecules;
  std::vector<float> labels;  // rows.size() x tasks.size(), NaN = missing (empty when without labels)
  std::vector<RowError> errors;
  size_t size() const { return rows.size(); }
  float label(size_t i, size_t t) const { return labels[i * tasks.size() + t]; }
};

struct MolReadOptions {
  std::string smiles_column = "smiles";
  std::string tasks = "all";       // "a,b" or "all": every column but the SMILES one that is numeric or empty
  std::string task_type = "auto";  // auto | classification | regression
  bool labels = true;              // false: SMILES only (prediction)
};

// Reads and parses the dataset (in parallel). Errors (InvalidInput, naming the file, the line and
// the column): a missing file or column, an empty file, no parseable SMILES, a task all missing,
// a classification label other than 0/1, a regression label that is not a finite number.
// auto: classification when every task holds only 0/1, regression when some task holds
// non-integer numbers; integer labels beyond 0/1 are refused as ambiguous (name the type).
MolDataset read_mol_dataset(const std::filesystem::path& csv, const MolReadOptions& options);
// SMILES from a text file (one per line, or the first column of a CSV with a `smiles` header) or
// given directly; rows that do not parse are reported as errors.
MolDataset read_smiles_list(const std::vector<std::string>& smiles, const std::filesystem::path& source);
MolDataset read_smiles_file(const std::filesystem::path& path);

// The subset of the dataset whose data rows have `part` in a split file (fold or split value);
// rows of the split file whose SMILES did not parse are left out (counted in the log).
MolDataset subset(const MolDataset& d, const data::RowSplits& splits, int part);
MolDataset subset_rows(const MolDataset& d, const std::vector<size_t>& molecule_indices);
// A one-line summary of the rows that did not parse (with the first few lines), for the log.
std::string describe_errors(const MolDataset& d, size_t show = 5);

// DeepChem's ScaffoldSplitter (Bemis-Murcko scaffolds without chirality; scaffold sets sorted by
// (size, first index) descending; each set to train while it fits in frac_train * n, then valid,
// else test), over the parsed molecules. Returns the split per molecule (data::RowSplits::Part).
std::vector<int> scaffold_split(const MolDataset& d, double frac_train = 0.8, double frac_valid = 0.1);
// A seeded random permutation cut at the same fractions.
std::vector<int> random_split(size_t n, uint64_t seed, double frac_train = 0.8, double frac_valid = 0.1);
// The split as a row_splits file's content (data rows of the parsed molecules; others unlisted).
data::RowSplits to_row_splits(const MolDataset& d, const std::vector<int>& parts);

}  // namespace medai::chem
