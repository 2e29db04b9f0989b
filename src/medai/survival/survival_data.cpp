#include "medai/survival/survival_data.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "medai/core/error.h"

namespace medai::survival {

namespace {

bool is_missing(const std::string& v) { return v.empty() || v == "NA" || v == "na" || v == "."; }

std::string where(const io::CsvTable& t, size_t row, const std::string& column) {
  return t.source.string() + ":" + std::to_string(row + 2) + ": column '" + column + "'";
}

// Levels as R's factor() orders them: numerically when all are numbers, else bytewise.
std::vector<std::string> sorted_levels(const std::set<std::string>& seen) {
  std::vector<std::string> levels(seen.begin(), seen.end());
  const bool numeric =
      std::all_of(levels.begin(), levels.end(), [](const std::string& s) { return io::parse_number(s).has_value(); });
  if (numeric)
    std::stable_sort(levels.begin(), levels.end(), [](const std::string& a, const std::string& b) {
      return *io::parse_number(a) < *io::parse_number(b);
    });
  return levels;
}

struct Column {
  std::string name;
  size_t index = 0;
  bool factor = false;
  std::vector<std::string> levels;  // factor levels, the first the reference
};

}  // namespace

size_t SurvivalData::events() const {
  size_t e = 0;
  for (int v : event) e += v;
  return e;
}

std::map<std::string, std::string> imputation_values(const io::CsvTable& table, const SurvivalColumns& columns,
                                                     const std::vector<size_t>* rows) {
  std::map<std::string, std::string> out;
  for (const auto& name : columns.covariates) {
    const size_t col = table.column(name);
    const bool factor = std::find(columns.factors.begin(), columns.factors.end(), name) != columns.factors.end();
    std::map<std::string, size_t> counts;
    double sum = 0;
    size_t n = 0;
    const auto visit = [&](size_t r) {
      const std::string& v = table.rows.at(r)[col];
      if (is_missing(v)) return;
      if (factor) return void(++counts[v]);
      const auto x = io::parse_number(v);
      if (x && std::isfinite(*x)) sum += *x, ++n;
    };
    if (rows)
      for (size_t r : *rows) visit(r);
    else
      for (size_t r = 0; r < table.rows.size(); ++r) visit(r);
    if (factor && !counts.empty())
      out[name] =
          std::max_element(counts.begin(), counts.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
    if (!factor && n > 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", sum / static_cast<double>(n));
      out[name] = buf;
    }
  }
  return out;
}

SurvivalData read_survival_data(const io::CsvTable& table, const SurvivalColumns& columns,
                                const std::vector<FactorCoding>* coding, const std::vector<size_t>* rows) {
  const std::string file = table.source.string();
  const size_t time_col = table.column(columns.time), event_col = table.column(columns.event);
  for (const auto& f : columns.factors)
    if (std::find(columns.covariates.begin(), columns.covariates.end(), f) == columns.covariates.end())
      fail_invalid("--factors '" + f + "' is not among the covariates");
  std::vector<Column> covs;
  for (const auto& name : columns.covariates) {
    if (name == columns.time || name == columns.event)
      fail_invalid("covariate '" + name + "' is the time or event column");
    Column c{name, table.column(name)};
    c.factor = std::find(columns.factors.begin(), columns.factors.end(), name) != columns.factors.end();
    covs.push_back(c);
  }
  std::vector<size_t> strata_cols, group_cols;
  for (const auto& s : columns.strata) strata_cols.push_back(table.column(s));
  for (const auto& g : columns.groups) group_cols.push_back(table.column(g));

  std::vector<size_t> all;
  if (!rows) {
    all.resize(table.rows.size());
    for (size_t r = 0; r < all.size(); ++r) all[r] = r;
    rows = &all;
  }
  // Complete cases first (R's na.omit over every variable of the model).
  std::vector<size_t> used;
  SurvivalData d;
  for (size_t r : *rows) {
    const auto& row = table.rows.at(r);
    bool missing = is_missing(row[time_col]) || is_missing(row[event_col]);
    for (const auto& c : covs) missing = missing || (is_missing(row[c.index]) && !columns.impute.count(c.name));
    for (size_t s : strata_cols) missing = missing || is_missing(row[s]);
    if (missing) {
      ++d.dropped_missing;
      continue;
    }
    used.push_back(r);
  }
  if (used.empty()) fail_invalid(file + ": no row has every one of the model's columns");

  // A covariate's value in a used row: the cell, or its imputed value.
  const auto value = [&](size_t r, const Column& c) -> const std::string& {
    const std::string& v = table.rows[r][c.index];
    return is_missing(v) ? columns.impute.at(c.name) : v;
  };
  for (size_t r : used)
    for (const auto& c : covs)
      if (is_missing(table.rows[r][c.index])) ++d.imputed[c.name];

  // Event coding: 0/1 (or TRUE/FALSE), or R's 1/2 with 2 the event when no 0 occurs.
  std::set<std::string> event_values;
  for (size_t r : used) event_values.insert(table.rows[r][event_col]);
  const bool one_two = !event_values.count("0") && event_values.count("2");
  d.event_coding = one_two ? "1/2" : "0/1";
  for (size_t r : used) {
    const auto& row = table.rows[r];
    const auto t = io::parse_number(row[time_col]);
    if (!t || !std::isfinite(*t) || *t <= 0)
      fail_invalid(where(table, r, columns.time) + ": time '" + row[time_col] + "' is not a positive number");
    const std::string& e = row[event_col];
    int ev;
    if (one_two && (e == "1" || e == "2")) ev = e == "2";
    else if (!one_two && (e == "0" || e == "1" || e == "TRUE" || e == "FALSE")) ev = e == "1" || e == "TRUE";
    else fail_invalid(where(table, r, columns.event) + ": event '" + e + "' is not 0/1 (or 1/2 with 2 the event)");
    d.time.push_back(*t);
    d.event.push_back(ev);
    d.source_rows.push_back(r);
  }

  // Design columns.
  for (auto& c : covs) {
    if (!c.factor) {
      d.names.push_back(c.name);
      continue;
    }
    const FactorCoding* fixed = nullptr;
    if (coding)
      for (const auto& f : *coding)
        if (f.column == c.name) fixed = &f;
    if (fixed) {
      c.levels = fixed->levels;
    } else {
      std::set<std::string> seen;
      for (size_t r : used) seen.insert(value(r, c));
      c.levels = sorted_levels(seen);
      if (c.levels.size() < 2) fail_invalid(file + ": factor '" + c.name + "' has one level ('" + c.levels[0] + "')");
    }
    d.factors.push_back({c.name, c.levels});
    for (size_t l = 1; l < c.levels.size(); ++l) d.names.push_back(c.name + c.levels[l]);
  }
  const size_t p = d.names.size();
  d.x.reserve(used.size() * p);
  for (size_t r : used) {
    const auto& row = table.rows[r];
    for (const auto& c : covs) {
      const std::string& v = value(r, c);
      if (!c.factor) {
        const auto x = io::parse_number(v);
        if (!x || !std::isfinite(*x))
          fail_invalid(where(table, r, c.name) + ": '" + v + "' is not a number (declare it with --factors)");
        d.x.push_back(*x);
        continue;
      }
      const auto it = std::find(c.levels.begin(), c.levels.end(), v);
      if (it == c.levels.end()) fail_invalid(where(table, r, c.name) + ": level '" + v + "' was not seen in training");
      for (size_t l = 1; l < c.levels.size(); ++l) d.x.push_back(static_cast<size_t>(it - c.levels.begin()) == l);
    }
  }

  // Strata: the combination of the strata columns' values, in sorted order.
  std::map<std::string, int> strata;
  std::vector<std::string> keys;
  for (size_t r : used) {
    std::string key;
    for (size_t i = 0; i < strata_cols.size(); ++i)
      key += (i ? ", " : "") + columns.strata[i] + "=" + table.rows[r][strata_cols[i]];
    strata.emplace(key, 0);
    keys.push_back(key);
  }
  for (auto& [key, index] : strata) {
    index = static_cast<int>(d.stratum_names.size());
    d.stratum_names.push_back(key);
  }
  for (const auto& key : keys) d.stratum.push_back(strata.at(key));
  d.group_values.resize(group_cols.size());
  for (size_t g = 0; g < group_cols.size(); ++g)
    for (size_t r : used) d.group_values[g].push_back(table.rows[r][group_cols[g]]);
  return d;
}

}  // namespace medai::survival
