#include "medai/train/schedule.h"

#include <algorithm>
#include <cmath>

#include "medai/core/error.h"

namespace medai::train {

ScheduleKind parse_schedule(const std::string& name) {
  if (name == "cosine") return ScheduleKind::Cosine;
  if (name == "onecycle") return ScheduleKind::OneCycle;
  if (name == "constant") return ScheduleKind::Constant;
  fail_invalid("--schedule: unknown schedule '" + name + "' (cosine, onecycle, constant)");
}

double Schedule::lr_at(int64_t step) const {
  const double pi = 3.14159265358979323846;
  double lo = base_lr * final_fraction;
  switch (kind) {
    case ScheduleKind::Constant: return base_lr;
    case ScheduleKind::Cosine: {
      if (step < warmup_steps) return base_lr * (step + 1) / static_cast<double>(warmup_steps);
      double t = std::clamp(static_cast<double>(step - warmup_steps) / std::max<int64_t>(1, total_steps - warmup_steps),
                            0.0, 1.0);
      return lo + 0.5 * (base_lr - lo) * (1 + std::cos(pi * t));
    }
    case ScheduleKind::OneCycle: {  // 30% up from base/25 to base, then cosine down (Smith 2018)
      int64_t up = std::max<int64_t>(1, static_cast<int64_t>(0.3 * total_steps));
      double start = base_lr / 25;
      if (step < up) return start + (base_lr - start) * 0.5 * (1 - std::cos(pi * step / up));
      double t = std::clamp(static_cast<double>(step - up) / std::max<int64_t>(1, total_steps - up), 0.0, 1.0);
      return lo + 0.5 * (base_lr - lo) * (1 + std::cos(pi * t));
    }
  }
  return base_lr;
}

}  // namespace medai::train
