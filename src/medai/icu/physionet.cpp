#include "medai/icu/physionet.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/runtime.h"
#include "medai/io/csv.h"

namespace medai::icu {

namespace fs = std::filesystem;

const std::vector<std::string>& series_names() {
  static const std::vector<std::string> names{
      "ALP",       "ALT",   "AST",       "Albumin",  "BUN",       "Bilirubin", "Cholesterol", "Creatinine",
      "DiasABP",   "FiO2",  "GCS",       "Glucose",  "HCO3",      "HCT",       "HR",          "K",
      "Lactate",   "MAP",   "MechVent",  "Mg",       "NIDiasABP", "NIMAP",     "NISysABP",    "Na",
      "PaCO2",     "PaO2",  "Platelets", "RespRate", "SaO2",      "SysABP",    "Temp",        "TroponinI",
      "TroponinT", "Urine", "WBC",       "pH",       "Weight"};
  return names;
}

const std::vector<PlausibleRange>& plausible_ranges() {
  // Wide limits: only values no living patient has (or unit/entry errors) are dropped.
  static const std::vector<PlausibleRange> ranges{
      {"ALP", 1, 5000, "IU/L"},
      {"ALT", 1, 20000, "IU/L"},
      {"AST", 1, 30000, "IU/L"},
      {"Albumin", 0.5, 7, "g/dL"},
      {"BUN", 0.5, 300, "mg/dL"},
      {"Bilirubin", 0.05, 80, "mg/dL"},
      {"Cholesterol", 20, 1000, "mg/dL"},
      {"Creatinine", 0.05, 30, "mg/dL"},
      {"DiasABP", 5, 250, "mmHg; 0 is a disconnected line"},
      {"FiO2", 0.21, 1, "fraction; room air is 0.21"},
      {"GCS", 3, 15, "Glasgow coma scale"},
      {"Glucose", 10, 2000, "mg/dL"},
      {"HCO3", 2, 60, "mmol/L"},
      {"HCT", 5, 75, "%"},
      {"HR", 10, 300, "bpm; 0 is a lost signal"},
      {"K", 1, 12, "mEq/L"},
      {"Lactate", 0.1, 40, "mmol/L"},
      {"MAP", 10, 300, "mmHg; 0 is a disconnected line"},
      {"MechVent", 0, 1, "0/1"},
      {"Mg", 0.2, 10, "mmol/L"},
      {"NIDiasABP", 5, 250, "mmHg; 0 is a failed cuff reading"},
      {"NIMAP", 10, 300, "mmHg"},
      {"NISysABP", 20, 300, "mmHg"},
      {"Na", 90, 200, "mEq/L"},
      {"PaCO2", 5, 200, "mmHg"},
      {"PaO2", 10, 800, "mmHg"},
      {"Platelets", 1, 2500, "10^3/uL"},
      {"RespRate", 1, 100, "breaths/min"},
      {"SaO2", 20, 100, "%"},
      {"SysABP", 20, 300, "mmHg; 0 is a disconnected line"},
      {"Temp", 25, 45, "deg C; values near 0 or -17.8 are entry errors"},
      {"TroponinI", 0, 100, "ug/L"},
      {"TroponinT", 0, 50, "ug/L"},
      {"Urine", 0, 10000, "mL per charting interval"},
      {"WBC", 0.1, 500, "10^3/uL"},
      {"pH", 6.5, 8.0, "values like 735 are entry errors"},
      {"Weight", 20, 350, "kg; -1 is missing"},
  };
  return ranges;
}

void CleaningReport::merge(const CleaningReport& other) {
  for (const auto& [k, v] : other.kept) kept[k] += v;
  for (const auto& [k, v] : other.dropped) dropped[k] += v;
  stays += other.stays;
}

namespace {

std::string at(const fs::path& file, size_t line) { return file.string() + ":" + std::to_string(line); }

float parse_minutes(const std::string& t, const fs::path& file, size_t line) {
  const size_t colon = t.find(':');
  const auto bad = [&] { fail_invalid(at(file, line) + ": Time '" + t + "' is not HH:MM"); };
  if (colon == std::string::npos || colon == 0 || colon + 3 != t.size()) bad();
  for (size_t i = 0; i < t.size(); ++i)
    if (i != colon && !std::isdigit(static_cast<unsigned char>(t[i]))) bad();
  const int h = std::stoi(t.substr(0, colon)), m = std::stoi(t.substr(colon + 1));
  if (m > 59 || h > 999) bad();
  return static_cast<float>(h * 60 + m);
}

float descriptor(double v, float low, float high) {
  return v == -1 || v < low || v > high ? NAN : static_cast<float>(v);
}

}  // namespace

Stay read_stay(const fs::path& file, CleaningReport* report) {
  const std::string text = core::read_file(file);
  const io::CsvTable t = io::parse_csv(text, file);
  if (t.header != std::vector<std::string>{"Time", "Parameter", "Value"})
    fail_invalid(file.string() + ": the header is not Time,Parameter,Value (PhysioNet 2012 format)");
  static const std::map<std::string, int> index = [] {
    std::map<std::string, int> m;
    for (size_t i = 0; i < series_names().size(); ++i) m[series_names()[i]] = static_cast<int>(i);
    return m;
  }();
  static const std::vector<PlausibleRange> ranges = [] {
    std::vector<PlausibleRange> r(series_names().size());
    for (const auto& p : plausible_ranges()) r[index.at(p.variable)] = p;
    return r;
  }();
  Stay s;
  bool have_id = false;
  CleaningReport local;
  local.stays = 1;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const size_t line = r + 2;
    const auto& row = t.rows[r];
    const float minutes = parse_minutes(row[0], file, line);
    const auto v = io::parse_number(row[2]);
    if (!v || !std::isfinite(*v)) fail_invalid(at(file, line) + ": Value '" + row[2] + "' is not a number");
    const std::string& p = row[1];
    if (p == "RecordID") {
      s.record_id = static_cast<int64_t>(*v);
      have_id = true;
    } else if (p == "Age") {
      s.age = descriptor(*v, 0, 130);
    } else if (p == "Gender") {
      s.gender = descriptor(*v, 0, 1);
    } else if (p == "Height") {
      s.height = descriptor(*v, 100, 230);
    } else if (p == "ICUType") {
      s.icu_type = descriptor(*v, 1, 4);
    } else {
      const auto it = index.find(p);
      if (it == index.end()) fail_invalid(at(file, line) + ": Parameter '" + p + "' is not a PhysioNet 2012 variable");
      if (p == "Weight" && *v == -1) continue;  // the descriptor's missing marker
      const auto& range = ranges[it->second];
      if (*v < range.low || *v > range.high) {
        ++local.dropped[p];
        continue;
      }
      ++local.kept[p];
      if (p == "Weight" && minutes == 0 && std::isnan(s.weight)) s.weight = static_cast<float>(*v);
      s.observations.push_back({minutes, it->second, static_cast<float>(*v)});
    }
  }
  if (!have_id) fail_invalid(file.string() + ": no RecordID row");
  if (report) report->merge(local);
  return s;
}

std::vector<Stay> read_stays(const fs::path& dir, CleaningReport* report) {
  if (!fs::is_directory(dir)) fail_not_found(dir.string() + ": not a folder of stay files");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".txt") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) fail_invalid(dir.string() + ": no *.txt stay files");
  std::vector<Stay> stays(files.size());
  std::vector<CleaningReport> reports(files.size());
  std::atomic<size_t> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  const auto work = [&] {
    for (size_t i; (i = next++) < files.size();) {
      try {
        stays[i] = read_stay(files[i], &reports[i]);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next = files.size();
      }
    }
  };
  std::vector<std::thread> threads;
  const int n = std::max(1, std::min<int>(core::runtime_threads(), 16));
  for (int k = 0; k < n; ++k) threads.emplace_back(work);
  for (auto& th : threads) th.join();
  if (error) std::rethrow_exception(error);
  if (report)
    for (const auto& r : reports) report->merge(r);
  std::sort(stays.begin(), stays.end(), [](const Stay& a, const Stay& b) { return a.record_id < b.record_id; });
  for (size_t i = 1; i < stays.size(); ++i)
    if (stays[i].record_id == stays[i - 1].record_id)
      fail_invalid(dir.string() + ": RecordID " + std::to_string(stays[i].record_id) + " occurs in two files");
  return stays;
}

std::map<int64_t, int> read_outcomes(const fs::path& file) {
  const io::CsvTable t = io::read_csv(file);
  const size_t id = t.column("RecordID"), death = t.column("In-hospital_death");
  std::map<int64_t, int> out;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto i = io::parse_number(t.rows[r][id]);
    const std::string& d = t.rows[r][death];
    if (!i || *i != std::floor(*i))
      fail_invalid(at(file, r + 2) + ": RecordID '" + t.rows[r][id] + "' is not an integer");
    if (d != "0" && d != "1") fail_invalid(at(file, r + 2) + ": In-hospital_death '" + d + "' is not 0 or 1");
    if (!out.emplace(static_cast<int64_t>(*i), d == "1").second)
      fail_invalid(at(file, r + 2) + ": RecordID " + t.rows[r][id] + " is listed twice");
  }
  return out;
}

std::map<int64_t, int> read_record_folds(const fs::path& file) {
  const io::CsvTable t = io::read_csv(file);
  if (t.header.size() < 2 || t.header[0] != "RecordID" || t.header[1] != "fold")
    fail_invalid(file.string() + ": the header must be RecordID,fold");
  std::map<int64_t, int> out;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto i = io::parse_number(t.rows[r][0]), f = io::parse_number(t.rows[r][1]);
    if (!i || *i != std::floor(*i))
      fail_invalid(at(file, r + 2) + ": RecordID '" + t.rows[r][0] + "' is not an integer");
    if (!f || *f != std::floor(*f) || *f < 0)
      fail_invalid(at(file, r + 2) + ": fold '" + t.rows[r][1] + "' is not an integer >= 0");
    if (!out.emplace(static_cast<int64_t>(*i), static_cast<int>(*f)).second)
      fail_invalid(at(file, r + 2) + ": RecordID " + t.rows[r][0] + " is listed twice");
  }
  if (out.empty()) fail_invalid(file.string() + ": no rows");
  return out;
}

}  // namespace medai::icu
