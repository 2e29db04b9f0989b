#pragma once
// Learning-rate schedules as pure functions of the step, so a resumed run continues exactly.
#include <cstdint>
#include <string>

namespace medai::train {

enum class ScheduleKind { Cosine, OneCycle, Constant };
ScheduleKind parse_schedule(const std::string& name);

struct Schedule {
  ScheduleKind kind = ScheduleKind::Cosine;
  double base_lr = 1e-3;
  int64_t total_steps = 1;
  int64_t warmup_steps = 0;      // linear warm-up (cosine)
  double final_fraction = 0.01;  // lr at the end, as a fraction of base_lr
  double lr_at(int64_t step) const;
};

}  // namespace medai::train
