#include "medai/chem/mol_data.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "medai/core/error.h"
#include "medai/core/runtime.h"
#include "medai/io/csv.h"

namespace medai::chem {

namespace fs = std::filesystem;
namespace bc = bridges::chem;

std::string task_type_name(TaskType t) { return t == TaskType::Classification ? "classification" : "regression"; }

namespace {

// Parses every SMILES on the runtime's threads; nullopt + reason for the ones that fail.
struct Parsed {
  std::vector<std::optional<bc::Molecule>> mols;
  std::vector<std::string> reasons;
};
Parsed parse_all(const std::vector<std::string>& smiles) {
  Parsed p;
  p.mols.resize(smiles.size());
  p.reasons.resize(smiles.size());
  core::parallel_for(smiles.size(), [&](size_t i) { p.mols[i] = bc::parse_smiles(smiles[i], &p.reasons[i]); });
  return p;
}

// Fills d.rows/smiles/molecules/errors from the SMILES of every data row.
void add_molecules(MolDataset& d, const std::vector<std::string>& smiles, const std::vector<bool>& keep) {
  auto parsed = parse_all(smiles);
  for (size_t r = 0; r < smiles.size(); ++r) {
    if (!keep.empty() && !keep[r]) continue;
    if (!parsed.mols[r]) {
      d.errors.push_back({r, r + 2, smiles[r], parsed.reasons[r]});
      continue;
    }
    d.rows.push_back(r);
    d.smiles.push_back(smiles[r]);
    d.molecules.push_back(std::move(*parsed.mols[r]));
  }
}

TaskType decide_type(const io::CsvTable& t, const std::vector<size_t>& cols, const std::string& requested) {
  if (requested == "classification") return TaskType::Classification;
  if (requested == "regression") return TaskType::Regression;
  if (requested != "auto") fail_invalid("--task-type '" + requested + "': expected auto, classification or regression");
  bool integers = true;
  std::set<double> seen;
  for (size_t c : cols)
    for (const auto& row : t.rows)
      if (const auto v = io::parse_number(row[c]); v && std::isfinite(*v)) {
        if (*v != std::floor(*v)) integers = false;
        seen.insert(*v);
      }
  if (!integers) return TaskType::Regression;
  if (std::all_of(seen.begin(), seen.end(), [](double v) { return v == 0 || v == 1; })) return TaskType::Classification;
  std::string values;
  for (double v : seen) values += (values.empty() ? "" : ", ") + std::to_string(static_cast<long long>(v));
  fail_invalid(t.source.string() + ": the task labels are integers {" + values +
               "}; a classification task takes 0/1 - fix the labels, or pass --task-type regression for a numeric "
               "target");
}

}  // namespace

MolDataset read_mol_dataset(const fs::path& csv, const MolReadOptions& o) {
  if (!fs::exists(csv)) fail_not_found(csv.string() + ": no such file");
  const auto t = io::read_csv(csv);
  if (t.rows.empty()) fail_invalid(csv.string() + ": no data rows (an empty file, or a header only)");
  MolDataset d;
  d.source = csv;
  d.smiles_column = o.smiles_column;
  d.total_rows = t.rows.size();
  const size_t sc = t.column(o.smiles_column);
  std::vector<size_t> cols;
  if (o.labels) {
    if (o.tasks == "all") {
      for (size_t c = 0; c < t.header.size(); ++c) {
        if (c == sc) continue;
        const bool numeric = std::all_of(t.rows.begin(), t.rows.end(), [&](const auto& r) {
          return r[c].empty() || io::parse_number(r[c]).has_value();
        });
        if (numeric) cols.push_back(c), d.tasks.push_back(t.header[c]);
      }
      if (cols.empty())
        fail_invalid(csv.string() + ": --tasks all found no numeric column besides '" + o.smiles_column + "'");
    } else {
      for (const auto& name : io::split_names(o.tasks, "--tasks"))
        cols.push_back(t.column(name)), d.tasks.push_back(name);
      if (cols.empty()) fail_invalid("--tasks: no task named");
    }
    d.type = decide_type(t, cols, o.task_type);
  }
  std::vector<std::string> smiles;
  for (const auto& r : t.rows) smiles.push_back(r[sc]);
  add_molecules(d, smiles, {});
  if (d.rows.empty())
    fail_invalid(csv.string() + ": no SMILES in column '" + o.smiles_column + "' parses (" + describe_errors(d) + ")");
  if (!o.labels) return d;
  d.labels.assign(d.rows.size() * cols.size(), std::nanf(""));
  std::vector<size_t> labelled(cols.size(), 0);
  for (size_t i = 0; i < d.rows.size(); ++i)
    for (size_t k = 0; k < cols.size(); ++k) {
      const auto& field = t.rows[d.rows[i]][cols[k]];
      if (field.empty()) continue;
      const auto v = io::parse_number(field);
      const std::string where = csv.string() + ":" + std::to_string(d.rows[i] + 2) + ": column '" + d.tasks[k] + "'";
      if (!v || !std::isfinite(*v)) fail_invalid(where + ": '" + field + "' is not a finite number");
      if (d.type == TaskType::Classification && *v != 0 && *v != 1)
        fail_invalid(where + ": label '" + field + "' is not 0/1 (a classification task)");
      d.labels[i * cols.size() + k] = static_cast<float>(*v);
      ++labelled[k];
    }
  for (size_t k = 0; k < cols.size(); ++k)
    if (labelled[k] == 0)
      fail_invalid(csv.string() + ": task column '" + d.tasks[k] + "' has no label in any parsed row");
  return d;
}

MolDataset read_smiles_list(const std::vector<std::string>& smiles, const fs::path& source) {
  if (smiles.empty()) fail_invalid(source.string() + ": no SMILES given");
  MolDataset d;
  d.source = source;
  d.total_rows = smiles.size();
  add_molecules(d, smiles, {});
  return d;
}

MolDataset read_smiles_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) fail_not_found(path.string() + ": cannot open");
  std::string first;
  std::getline(in, first);
  in.close();
  if (first.find(',') != std::string::npos || first == "smiles" || first == "SMILES") {
    const auto t = io::read_csv(path);
    auto c = t.find_column("smiles");
    if (!c) c = t.find_column("SMILES");
    if (!c) fail_invalid(path.string() + ": a CSV needs a 'smiles' column");
    std::vector<std::string> s;
    for (const auto& r : t.rows) s.push_back(r[*c]);
    return read_smiles_list(s, path);
  }
  std::ifstream again(path);
  std::vector<std::string> s;
  for (std::string line; std::getline(again, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto cut = line.find_first_of(" \t");  // "SMILES name" lines (.smi)
    s.push_back(cut == std::string::npos ? line : line.substr(0, cut));
  }
  while (!s.empty() && s.back().empty()) s.pop_back();
  return read_smiles_list(s, path);
}

MolDataset subset_rows(const MolDataset& d, const std::vector<size_t>& idx) {
  MolDataset s;
  s.source = d.source, s.smiles_column = d.smiles_column, s.tasks = d.tasks, s.type = d.type;
  s.total_rows = d.total_rows;
  for (size_t i : idx) {
    s.rows.push_back(d.rows[i]);
    s.smiles.push_back(d.smiles[i]);
    s.molecules.push_back(d.molecules[i]);
    if (!d.labels.empty())
      s.labels.insert(s.labels.end(), d.labels.begin() + static_cast<std::ptrdiff_t>(i * d.tasks.size()),
                      d.labels.begin() + static_cast<std::ptrdiff_t>((i + 1) * d.tasks.size()));
  }
  return s;
}

MolDataset subset(const MolDataset& d, const data::RowSplits& splits, int part) {
  if (splits.assignment.size() != d.total_rows)
    fail_invalid(splits.source.string() + ": made for " + std::to_string(splits.assignment.size()) +
                 " data rows, the data has " + std::to_string(d.total_rows));
  std::vector<size_t> idx;
  for (size_t i = 0; i < d.rows.size(); ++i)
    if (splits.assignment[d.rows[i]] == part) idx.push_back(i);
  size_t unparsed = 0;
  for (const auto& e : d.errors)
    if (splits.assignment[e.row] == part) ++unparsed;
  if (unparsed) spdlog::warn("{} rows of this split hold SMILES that do not parse; left out", unparsed);
  return subset_rows(d, idx);
}

std::string describe_errors(const MolDataset& d, size_t show) {
  if (d.errors.empty()) return "every SMILES parsed";
  std::string s = std::to_string(d.errors.size()) + " of " + std::to_string(d.total_rows) + " SMILES do not parse";
  for (size_t i = 0; i < d.errors.size() && i < show; ++i)
    s += (i ? "; " : ": ") + std::string("line ") + std::to_string(d.errors[i].line) + " (" + d.errors[i].reason + ")";
  if (d.errors.size() > show) s += "; ...";
  return s;
}

std::vector<int> scaffold_split(const MolDataset& d, double frac_train, double frac_valid) {
  std::map<std::string, std::vector<size_t>> sets;
  for (size_t i = 0; i < d.size(); ++i) sets[bc::murcko_scaffold(d.molecules[i])].push_back(i);
  std::vector<const std::vector<size_t>*> order;
  for (const auto& [k, v] : sets) order.push_back(&v);  // members are in index order already
  std::sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return a->size() != b->size() ? a->size() > b->size() : a->front() > b->front();
  });
  const double n = static_cast<double>(d.size()), train_cut = frac_train * n, valid_cut = (frac_train + frac_valid) * n;
  std::vector<int> parts(d.size(), data::RowSplits::kTest);
  size_t n_train = 0, n_valid = 0;
  for (const auto* set : order) {
    int part = data::RowSplits::kTrain;
    if (static_cast<double>(n_train + set->size()) > train_cut) {
      part = static_cast<double>(n_train + n_valid + set->size()) > valid_cut ? data::RowSplits::kTest
                                                                              : data::RowSplits::kValid;
    }
    if (part == data::RowSplits::kTrain) n_train += set->size();
    if (part == data::RowSplits::kValid) n_valid += set->size();
    for (size_t i : *set) parts[i] = part;
  }
  return parts;
}

std::vector<int> random_split(size_t n, uint64_t seed, double frac_train, double frac_valid) {
  std::vector<size_t> perm(n);
  std::iota(perm.begin(), perm.end(), size_t{0});
  std::mt19937_64 rng(seed);
  std::shuffle(perm.begin(), perm.end(), rng);
  const auto train_end = static_cast<size_t>(frac_train * static_cast<double>(n));
  const auto valid_end = static_cast<size_t>((frac_train + frac_valid) * static_cast<double>(n));
  std::vector<int> parts(n);
  for (size_t k = 0; k < n; ++k)
    parts[perm[k]] = k < train_end   ? data::RowSplits::kTrain
                     : k < valid_end ? data::RowSplits::kValid
                                     : data::RowSplits::kTest;
  return parts;
}

data::RowSplits to_row_splits(const MolDataset& d, const std::vector<int>& parts) {
  data::RowSplits s;
  s.assignment.assign(d.total_rows, data::RowSplits::kUnused);
  for (size_t i = 0; i < d.size(); ++i) s.assignment[d.rows[i]] = parts[i];
  return s;
}

}  // namespace medai::chem
