#pragma once
// Right-censored survival data from a CSV: follow-up time, event indicator and a design matrix of
// covariates, with categorical covariates coded as R codes a factor (one 0/1 column per level but
// the first, the reference; levels sorted numerically when every value is a number, else bytewise)
// and optional strata. Rows with a missing covariate, stratum, time or event are dropped and counted.
#include <map>
#include <string>
#include <vector>

#include "medai/io/csv.h"

namespace medai::survival {

struct SurvivalColumns {
  std::string time, event;
  std::vector<std::string> covariates;  // in order; factors among them are expanded in place
  std::vector<std::string> factors;     // covariates to treat as categorical
  std::vector<std::string> strata;      // stratify on the combination of these columns
  std::vector<std::string> groups;      // carried through unexpanded (audits, KM by group)
  // Missing covariate values replaced by these (column -> value as text) instead of dropping the
  // row: imputation_values() gives the training means (numeric) and most frequent levels (factors).
  std::map<std::string, std::string> impute;
};

// How a factor was coded: the levels seen in training, the first being the reference.
struct FactorCoding {
  std::string column;
  std::vector<std::string> levels;
};

struct SurvivalData {
  std::vector<double> time;
  std::vector<int> event;          // 1 = event, 0 = censored
  std::vector<std::string> names;  // design columns, e.g. "age", "celltypelarge"
  std::vector<double> x;           // row-major, time.size() x names.size()
  std::vector<int> stratum;        // per row, index into stratum_names (all 0 without strata)
  std::vector<std::string> stratum_names;
  std::vector<std::vector<std::string>> group_values;  // per SurvivalColumns::groups, per row
  std::vector<size_t> source_rows;                     // 0-based data rows of the CSV used
  std::vector<FactorCoding> factors;
  size_t dropped_missing = 0;
  std::map<std::string, size_t> imputed;  // per covariate: values filled in from SurvivalColumns::impute
  std::string event_coding;               // "0/1" or "1/2" (R's convention: 2 = event)

  size_t n() const { return time.size(); }
  size_t p() const { return names.size(); }
  double at(size_t row, size_t column) const { return x[row * names.size() + column]; }
  size_t events() const;
};

// Reads the columns of `table` (every row, or those in `rows`). `coding`, when given, fixes the
// factor levels (a fitted model's): an unseen level is an error naming the row. Fails naming file,
// line and column on a missing column, a time <= 0 or not a number, an event outside 0/1 (or 1/2),
// a non-numeric covariate not declared a factor, or no usable row.
SurvivalData read_survival_data(const io::CsvTable& table, const SurvivalColumns& columns,
                                const std::vector<FactorCoding>* coding = nullptr,
                                const std::vector<size_t>* rows = nullptr);

// The mean of each numeric covariate and the most frequent level of each factor over the rows
// (all, or `rows`) where it is present.
std::map<std::string, std::string> imputation_values(const io::CsvTable& table, const SurvivalColumns& columns,
                                                     const std::vector<size_t>* rows = nullptr);

using io::split_names;  // io/csv.h

}  // namespace medai::survival
