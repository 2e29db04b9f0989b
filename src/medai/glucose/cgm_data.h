#pragma once
// Real CGM recordings: one CSV per person (timestamp,glucose_value_mg_dl with local time
// "YYYY-MM-DD HH:MM:SS", as the Glucose-ML extracts of HUPA-UCM and D1NAMO), put on a 5-minute
// grid with gaps as NaN; forecast windows; patient-level splits; detection of straight-line
// (interpolated) runs.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace medai::glucose {

struct CgmSeries {
  std::string id;              // file stem, e.g. HUPA0001P
  int64_t start_minute = 0;    // minutes since 1970-01-01 of the first slot
  std::vector<double> mgdl;    // one slot every 5 min; NaN where no reading
  std::vector<bool> straight;  // slot lies in a straight-line run longer than one hour
  // Optional columns insulin_u and carbs_g (units delivered / grams eaten), summed per slot;
  // empty when the file has neither (e.g. the real recordings here).
  std::vector<double> insulin_u, carbs_g;
  bool has_inputs() const { return !insulin_u.empty(); }
};

// "YYYY-MM-DD HH:MM[:SS]" -> minutes since 1970-01-01 (no time zone); throws on anything else.
int64_t parse_timestamp_minutes(const std::string& text);

// Reads one file. Errors name the file, the line and the field (unparseable time, NaN or
// non-positive glucose, glucose above 1000 mg/dL, time going backwards, negative or non-finite
// insulin_u / carbs_g when those columns are present).
CgmSeries read_cgm_csv(const std::filesystem::path& csv, const std::string& time_column = "timestamp",
                       const std::string& glucose_column = "glucose_value_mg_dl");
// Every *.csv in `dir` except *metadata*, sorted by id.
std::vector<CgmSeries> read_cgm_folder(const std::filesystem::path& dir);

// Marks slots inside runs of more than `min_slots` intervals with equal consecutive
// differences (a straight line: second differences 0 within 1e-6 mg/dL); 12 intervals = 1 hour.
void mark_straight_runs(CgmSeries& s, int min_slots = 12);

struct ForecastWindows {
  int history = 24;                  // readings fed to a model (2 h)
  std::vector<int> horizons{6, 12};  // steps ahead (30 and 60 min)
  // For each window: series index and the slot of the last history reading.
  std::vector<std::pair<int, int>> at;
};
// All windows whose history and targets are present (every slot, stride 1).
ForecastWindows make_windows(const std::vector<CgmSeries>& series, int history, int max_horizon);
// True when any slot of the window (history or up to the largest horizon) is in a straight run.
bool window_touches_straight(const CgmSeries& s, int last, int history, int max_horizon);

// Patients sorted by id; the first (1 - test_fraction) train, the rest test (the issue's
// HUPA-UCM protocol). Returns the number of training patients.
size_t split_by_sorted_id(std::vector<CgmSeries>& series, double test_fraction);

}  // namespace medai::glucose
