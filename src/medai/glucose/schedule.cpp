#include "medai/glucose/schedule.h"

#include <cmath>
#include <cstdio>
#include <optional>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/io/csv.h"

namespace medai::glucose {

namespace {
double number(const io::CsvTable& t, size_t r, size_t c) {
  const std::string& s = t.rows[r][c];
  const std::string where = t.source.string() + ": line " + std::to_string(r + 2) + ", field '" + t.header[c] + "'";
  const auto parsed = io::parse_number(s);
  if (!parsed) fail_invalid(where + ": '" + s + "' is not a number");
  const double v = *parsed;
  if (!std::isfinite(v)) fail_invalid(where + ": must be a finite number, got '" + s + "'");
  if (v < 0) fail_invalid(where + ": must not be negative, got " + s);
  return v;
}
}  // namespace

namespace {
Schedule read_any(const std::filesystem::path& csv, bool need_insulin) {
  io::CsvTable t = io::read_csv(csv);
  size_t mc = t.column("minute"), cc = t.column("carbs_g");
  auto ic = need_insulin ? std::optional<size_t>(t.column("insulin_u_per_min")) : t.find_column("insulin_u_per_min");
  Schedule s;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    double m = number(t, r, mc);
    constexpr double kMaxMinute = 5 * 366 * 1440;  // five years, as for CGM recordings
    if (m != std::floor(m))
      fail_invalid(csv.string() + ": line " + std::to_string(r + 2) + ", field 'minute': must be a whole minute");
    if (m > kMaxMinute)  // (and a float beyond an int is undefined to convert)
      fail_invalid(csv.string() + ": line " + std::to_string(r + 2) + ", field 'minute': beyond five years (" +
                   std::to_string(static_cast<int>(kMaxMinute)) + ")");
    int minute = static_cast<int>(m);
    if (s.count(minute))
      fail_invalid(csv.string() + ": line " + std::to_string(r + 2) + ": minute " + std::to_string(minute) +
                   " appears twice");
    s[minute] = {number(t, r, cc), ic ? number(t, r, *ic) : 0.0};
  }
  return s;
}
}  // namespace

Schedule read_schedule(const std::filesystem::path& csv) { return read_any(csv, true); }

std::map<int, double> read_schedule_meals(const std::filesystem::path& csv) {
  std::map<int, double> meals;
  for (const auto& [minute, e] : read_any(csv, false))
    if (e.carbs_g > 0) meals[minute] = e.carbs_g;
  return meals;
}

void simulate_to_csv(PatientModel& patient, const Schedule& schedule, int minutes, const std::filesystem::path& out) {
  if (minutes <= 0) fail_invalid("--minutes must be positive");
  std::string csv = "minute,bg_mgdl,cho_g_per_min,insulin_u_per_min";
  for (int i = 1; i <= PatientModel::kStates; ++i) csv += ",x" + std::to_string(i);
  csv += "\n";
  auto row = [&](int minute, double cho, double insulin) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%d,%.6f,%.4f,%.6f", minute, patient.bg_mgdl(), cho, insulin);
    csv += buf;
    for (double x : patient.state()) {
      std::snprintf(buf, sizeof buf, ",%.9g", x);
      csv += buf;
    }
    csv += "\n";
  };
  row(0, 0, 0);
  for (int minute = 0; minute < minutes; ++minute) {
    auto it = schedule.find(minute);
    ScheduleEntry e = it == schedule.end() ? ScheduleEntry{} : it->second;
    patient.step(e.carbs_g, e.insulin_u_per_min);
    row(minute + 1, patient.carbs_eaten_last_minute(), e.insulin_u_per_min);
  }
  core::write_file_atomic(out, csv);
}

}  // namespace medai::glucose
