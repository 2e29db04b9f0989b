#pragma once
// Input schedules for the simulator: CSV with columns minute,carbs_g,insulin_u_per_min (a meal of
// carbs_g announced at that minute; the insulin rate delivered during that minute). Minutes not
// listed get no meal and no insulin.
#include <filesystem>
#include <map>
#include <string>

#include "medai/glucose/patient_model.h"

namespace medai::glucose {

struct ScheduleEntry {
  double carbs_g = 0;
  double insulin_u_per_min = 0;
};
using Schedule = std::map<int, ScheduleEntry>;

// Errors name the file, the line and the field (missing columns, unparseable or non-finite
// numbers, negative carbs/insulin, repeated or negative minutes).
Schedule read_schedule(const std::filesystem::path& csv);
// Only minute,carbs_g are required (a meal list); minutes with 0 g are dropped.
std::map<int, double> read_schedule_meals(const std::filesystem::path& csv);

// Runs `minutes` one-minute steps and writes minute,bg_mgdl,cho_g_per_min,insulin_u_per_min and
// the 13 states x1..x13 (atomically). Row k holds the state after minute k (row 0: the start).
void simulate_to_csv(PatientModel& patient, const Schedule& schedule, int minutes, const std::filesystem::path& out);

}  // namespace medai::glucose
