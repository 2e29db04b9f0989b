#include "medai/glucose/cgm_data.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "medai/core/error.h"
#include "medai/io/csv.h"

namespace medai::glucose {

namespace {
// The grid holds one slot per 5 minutes of the span: bound it before allocating.
constexpr int64_t kMaxGapMinutes = 30LL * 24 * 60;
constexpr int64_t kMaxSpanMinutes = 5LL * 366 * 24 * 60;

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {  // Howard Hinnant's algorithm
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}
}  // namespace

int64_t parse_timestamp_minutes(const std::string& t) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, used = 0;
  int n = std::sscanf(t.c_str(), "%4d-%2d-%2d%*[ T]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &used);
  if (n < 6) {
    used = 0;
    n = std::sscanf(t.c_str(), "%4d-%2d-%2d%*[ T]%2d:%2d%n", &y, &mo, &d, &h, &mi, &used);
    if (n < 5) throw Error(ErrorCode::InvalidInput, "'" + t + "' is not a time like 2024-05-01 13:45:00");
  }
  if (static_cast<size_t>(used) != t.size() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59 ||
      h < 0 || mi < 0 || s < 0)
    throw Error(ErrorCode::InvalidInput, "'" + t + "' is not a time like 2024-05-01 13:45:00");
  return days_from_civil(y, mo, d) * 1440 + h * 60 + mi + (s >= 30 ? 1 : 0);
}

CgmSeries read_cgm_csv(const std::filesystem::path& csv, const std::string& tcol, const std::string& gcol) {
  io::CsvTable t = io::read_csv(csv);
  const size_t tc = t.column(tcol), gc = t.column(gcol);
  const auto ic = t.find_column("insulin_u"), cc = t.find_column("carbs_g");
  if (ic.has_value() != cc.has_value())
    fail_invalid(csv.string() + ": insulin_u and carbs_g come together (one is missing)");
  std::vector<std::pair<double, double>> inputs;
  CgmSeries s;
  s.id = csv.stem().string();
  int64_t prev = std::numeric_limits<int64_t>::min();
  std::vector<std::pair<int64_t, double>> readings;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const std::string where = csv.string() + ": line " + std::to_string(r + 2);
    int64_t minute = 0;
    try {
      minute = parse_timestamp_minutes(t.rows[r][tc]);
    } catch (const Error& e) {
      fail_invalid(where + ", field '" + tcol + "': " + e.what());
    }
    if (minute < prev) fail_invalid(where + ", field '" + tcol + "': time goes backwards");
    if (prev != std::numeric_limits<int64_t>::min() && minute - prev > kMaxGapMinutes)
      fail_invalid(where + ", field '" + tcol + "': time jumps " + std::to_string((minute - prev) / 1440) +
                   " days forward (a mistyped date? recordings may pause for at most 30 days)");
    prev = minute;
    const std::string& g = t.rows[r][gc];
    const double v = io::parse_number(g).value_or(std::numeric_limits<double>::quiet_NaN());
    if (!std::isfinite(v)) fail_invalid(where + ", field '" + gcol + "': '" + g + "' is not a glucose value");
    if (v <= 0 || v > 1000)
      fail_invalid(where + ", field '" + gcol + "': " + g + " mg/dL is outside the physiological range (0-1000]");
    readings.emplace_back(minute, v);
    if (ic) {
      auto amount = [&](size_t c) {
        const std::string& x = t.rows[r][c];
        if (x.empty()) return 0.0;
        const double a = io::parse_number(x).value_or(std::numeric_limits<double>::quiet_NaN());
        if (!std::isfinite(a) || a < 0)
          fail_invalid(where + ", field '" + t.header[c] + "': '" + x + "' is not a non-negative amount");
        return a;
      };
      inputs.emplace_back(amount(*ic), amount(*cc));
    }
  }
  if (readings.empty()) fail_invalid(csv.string() + ": no readings");
  if (readings.back().first - readings.front().first > kMaxSpanMinutes)
    fail_invalid(csv.string() + ": readings span more than 5 years (the 5-minute grid would not fit in memory)");
  s.start_minute = readings.front().first;
  const int64_t last = (readings.back().first - s.start_minute + 2) / 5;
  s.mgdl.assign(static_cast<size_t>(last + 1), std::numeric_limits<double>::quiet_NaN());
  if (ic) {
    s.insulin_u.assign(s.mgdl.size(), 0.0);
    s.carbs_g.assign(s.mgdl.size(), 0.0);
  }
  for (size_t k = 0; k < readings.size(); ++k) {
    const auto& [m, v] = readings[k];
    const size_t slot = static_cast<size_t>((m - s.start_minute + 2) / 5);  // nearest 5-minute slot
    s.mgdl[slot] = v;                                                       // a later reading in the same slot wins
    if (ic) {
      s.insulin_u[slot] += inputs[k].first;
      s.carbs_g[slot] += inputs[k].second;
    }
  }
  mark_straight_runs(s);
  return s;
}

std::vector<CgmSeries> read_cgm_folder(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir)) fail_not_found(dir.string() + ": no such folder of CGM CSV files");
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".csv" && e.path().filename().string().find("metadata") == std::string::npos)
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) fail_invalid(dir.string() + ": no .csv files (one per person: timestamp,glucose_value_mg_dl)");
  std::vector<CgmSeries> out;
  for (const auto& f : files) out.push_back(read_cgm_csv(f));
  return out;
}

void mark_straight_runs(CgmSeries& s, int min_slots) {
  const size_t n = s.mgdl.size();
  s.straight.assign(n, false);
  size_t i = 0;
  while (i + 2 < n) {
    // Grow a run [i, j] while the second differences stay zero.
    size_t j = i + 1;
    if (std::isnan(s.mgdl[i]) || std::isnan(s.mgdl[j])) {
      ++i;
      continue;
    }
    const double step = s.mgdl[j] - s.mgdl[i];
    while (j + 1 < n && !std::isnan(s.mgdl[j + 1]) && std::fabs((s.mgdl[j + 1] - s.mgdl[j]) - step) < 1e-6) ++j;
    if (static_cast<int>(j - i) > min_slots)
      for (size_t k = i; k <= j; ++k) s.straight[k] = true;
    i = j > i + 1 ? j : i + 1;  // runs share their end point
  }
}

ForecastWindows make_windows(const std::vector<CgmSeries>& series, int history, int max_horizon) {
  ForecastWindows w;
  w.history = history;
  for (int si = 0; si < static_cast<int>(series.size()); ++si) {
    const auto& v = series[si].mgdl;
    const int n = static_cast<int>(v.size());
    // valid[k]: number of consecutive present readings ending at k.
    std::vector<int> run(n, 0);
    for (int k = 0; k < n; ++k) run[k] = std::isnan(v[k]) ? 0 : (k > 0 ? run[k - 1] : 0) + 1;
    for (int last = history - 1; last + max_horizon < n; ++last)
      if (run[last] >= history && run[last + max_horizon] >= history + max_horizon) w.at.emplace_back(si, last);
  }
  return w;
}

bool window_touches_straight(const CgmSeries& s, int last, int history, int max_horizon) {
  for (int k = last - history + 1; k <= last + max_horizon; ++k)
    if (s.straight[k]) return true;
  return false;
}

size_t split_by_sorted_id(std::vector<CgmSeries>& series, double test_fraction) {
  std::sort(series.begin(), series.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  if (!(test_fraction >= 0 && test_fraction < 1)) fail_invalid("--test-fraction must be in [0, 1)");
  return static_cast<size_t>(std::llround(series.size() * (1 - test_fraction)));
}

}  // namespace medai::glucose
