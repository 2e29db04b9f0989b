#include "medai/train/trainer.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "medai/core/error.h"
#include "medai/core/progress.h"
#include "medai/core/run_folder.h"
#include "medai/train/checkpoint.h"

namespace medai::train {

namespace fs = std::filesystem;
using nlohmann::json;

bool Selector::offer(double value, int step) {
  const bool better = maximize_ ? value > best_ + min_delta_ : value < best_ - min_delta_;
  if (better) {
    best_ = value;
    best_step_ = step;
    since_best_ = 0;
  } else {
    ++since_best_;
  }
  return better;
}

double EpochRecord::metric(const std::string& name) const {
  for (const auto& [k, v] : metrics)
    if (k == name) return v;
  throw Error(ErrorCode::Internal, "trainer: validation gave no metric '" + name + "'");
}

namespace {

json record_json(const EpochRecord& r) {
  json j = {{"epoch", r.epoch}, {"train_loss", r.train_loss}};
  for (const auto& [k, v] : r.metrics) j[k] = v;
  j["lr"] = r.lr;
  j["seconds"] = r.seconds;
  return j;
}

EpochRecord record_from_json(const json& j, const std::string& where) {
  EpochRecord r;
  r.epoch = core::json_int(j, "epoch", where, 1, 1 << 30);
  for (const auto& [k, v] : j.items()) {
    if (!v.is_number()) fail_invalid(where + ": history field '" + k + "' is not a number");
    const double x = v.get<double>();
    if (k == "train_loss") r.train_loss = x;
    else if (k == "lr") r.lr = x;
    else if (k == "seconds") r.seconds = x;
    else if (k != "epoch") r.metrics.emplace_back(k, x);
  }
  return r;
}

std::string format_metrics(const Metrics& m) {
  std::string s;
  for (const auto& [k, v] : m) s += fmt::format(", {} {:.4f}", k, v);
  return s;
}

// The state of an interrupted run (train_state.json), or nothing for a fresh one.
struct ResumeState {
  std::vector<EpochRecord> history;
  Selector selector{true};
  bool stopped_early = false;
  double seconds = 0;
  fs::path checkpoint;
};

ResumeState read_state(const TrainerOptions& o) {
  ResumeState r;
  const json st = read_checkpoint(o.run_dir, r.checkpoint);
  const std::string where = (o.run_dir / kTrainStateFile).string();
  r.selector = Selector(o.maximize, o.min_delta);
  const auto& h = st.contains("history") ? st["history"] : json();
  if (!h.is_array()) fail_invalid(where + ": 'history' must be an array");
  for (const auto& e : h) r.history.push_back(record_from_json(e, where));
  if (st.contains("metric_order") && st["metric_order"].is_array()) {  // JSON objects forget the order
    std::vector<std::string> order;
    for (const auto& n : st["metric_order"]) order.push_back(n.is_string() ? n.get<std::string>() : "");
    for (auto& rec : r.history) {
      Metrics sorted;
      for (const auto& name : order)
        for (const auto& m : rec.metrics)
          if (m.first == name) sorted.push_back(m);
      if (sorted.size() != rec.metrics.size()) fail_invalid(where + ": 'metric_order' does not match the history");
      rec.metrics = sorted;
    }
  }
  const char* best_key = st.contains("best_value") ? "best_value" : "best_auroc";  // medai <= 0.8 wrote best_auroc
  r.selector.restore(core::json_number(st, best_key, where, -1e300, 1e300),
                     core::json_int(st, "best_epoch", where, 0, 1 << 30),
                     core::json_int(st, "since_best", where, 0, 1 << 30));
  r.stopped_early = core::json_bool(st, "stopped_early", where, false);
  r.seconds = st.contains("seconds") ? core::json_number(st, "seconds", where, 0, 1e12) : 0.0;
  if (static_cast<int>(r.history.size()) != core::json_int(st, "epoch_completed", where, 1, 1 << 30))
    fail_invalid(where + ": 'history' does not match 'epoch_completed'");
  return r;
}

// The model's files (save_checkpoint hook) and the loop's state (history, selection, options).
void write_epoch_checkpoint(const TrainerOptions& o, const TrainerHooks& hooks, const ResumeState& s) {
  const int epoch = s.history.back().epoch;
  json history = json::array(), order = json::array();
  for (const auto& r : s.history) history.push_back(record_json(r));
  for (const auto& m : s.history.back().metrics) order.push_back(m.first);
  json state = {{"options", o.run_options ? *o.run_options : json::object()},
                {"epoch_completed", epoch},
                {"history", history},
                {"metric_order", order},
                {"monitor", o.monitor},
                {"best_value", s.selector.best()},
                {"best_epoch", s.selector.best_step()},
                {"since_best", s.selector.since_best()},
                {"stopped_early", s.stopped_early},
                {"seconds", s.seconds}};
  write_checkpoint(
      o.run_dir, "epoch-" + std::to_string(epoch),
      [&](const fs::path& folder) {
        if (hooks.save_checkpoint) hooks.save_checkpoint(folder);
      },
      state);
}

// One pass over the training data; returns the mean loss and the last learning rate.
std::pair<double, double> train_epoch(const TrainerOptions& o, const TrainerHooks& hooks, int epoch) {
  if (hooks.begin_epoch) hooks.begin_epoch(epoch);
  core::ProgressBar bar(o.label + " " + std::to_string(epoch) + "/" + std::to_string(o.epochs),
                        o.units_per_epoch > 0 ? o.units_per_epoch : o.steps_per_epoch, o.unit, o.progress);
  double loss_sum = 0, lr = o.schedule.base_lr;
  int64_t step = 0;
  for (; step < o.steps_per_epoch; ++step) {
    lr = o.schedule.lr_at((epoch - 1) * o.steps_per_epoch + step);
    const auto r = hooks.train_step(step, lr);
    if (!r) break;
    if (!std::isfinite(r->first))
      throw Error(ErrorCode::Internal, "training diverged (loss is not finite); try a lower learning rate");
    loss_sum += r->first;
    bar.set_postfix(fmt::format("loss {:.4f}", loss_sum / (step + 1)));
    bar.advance(r->second);
  }
  bar.finish();
  return {loss_sum / std::max<int64_t>(1, step), lr};
}

}  // namespace

TrainResult fit(const TrainerOptions& o, const TrainerHooks& hooks) {
  if (o.epochs < 1 || o.steps_per_epoch < 1) fail_invalid("training needs at least one epoch of one step");
  const bool checkpoints = !o.run_dir.empty();
  ResumeState s;
  s.selector = Selector(o.maximize, o.min_delta);
  if (o.resume) {
    if (!checkpoints) throw Error(ErrorCode::Internal, "trainer: resume needs a run folder");
    s = read_state(o);
    if (hooks.load_checkpoint) hooks.load_checkpoint(s.checkpoint);
    spdlog::info("resuming {} after epoch {}", o.run_dir.string(), s.history.size());
  }
  const auto t_start = std::chrono::steady_clock::now();
  const double seconds_before = s.seconds;
  for (int epoch = static_cast<int>(s.history.size()) + 1; epoch <= o.epochs && !s.stopped_early; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    EpochRecord rec;
    rec.epoch = epoch;
    std::tie(rec.train_loss, rec.lr) = train_epoch(o, hooks, epoch);
    rec.metrics = hooks.validate(epoch);
    rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    spdlog::log(o.log_epochs ? spdlog::level::info : spdlog::level::debug, "{} {}/{}: train loss {:.4f}{} ({:.0f} s)",
                o.label, epoch, o.epochs, rec.train_loss, format_metrics(rec.metrics), rec.seconds);
    s.history.push_back(rec);
    if (s.selector.offer(rec.metric(o.monitor), epoch)) {
      if (hooks.save_best) hooks.save_best();
    } else if (s.selector.since_best() >= o.patience) {
      s.stopped_early = true;
      spdlog::log(o.log_epochs ? spdlog::level::info : spdlog::level::debug,
                  "early stopping: no {} gain for {} epochs (best {:.4f} at epoch {})", o.monitor, o.patience,
                  s.selector.best(), s.selector.best_step());
    }
    s.seconds = seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    if (checkpoints) write_epoch_checkpoint(o, hooks, s);
    if (hooks.end_epoch) hooks.end_epoch(s.history);
  }
  return {s.history, s.selector.best_step(), s.selector.best(), s.stopped_early, s.seconds};
}

Curves epoch_curves(const std::vector<EpochRecord>& history) {
  std::vector<CurveColumn> cols{{"epoch", 0}, {"train_loss", 6}};
  if (!history.empty())
    for (const auto& m : history.front().metrics) cols.push_back({m.first, 6});
  cols.push_back({"lr", 8});
  cols.push_back({"seconds", 1});
  Curves c(cols);
  for (const auto& r : history) {
    std::vector<double> row{static_cast<double>(r.epoch), r.train_loss};
    for (const auto& m : r.metrics) row.push_back(m.second);
    row.push_back(r.lr);
    row.push_back(r.seconds);
    c.add(row);
  }
  return c;
}

json resume_options(const fs::path& run_dir) {
  const fs::path path = run_dir / kTrainStateFile;
  if (!fs::exists(path)) fail_not_found(path.string() + ": nothing to resume (no training state)");
  const json st = core::read_json_file(path);
  if (!st.contains("options") || !st["options"].is_object())
    fail_invalid(path.string() + ": no 'options' object to resume with");
  return st["options"];
}

bool holds_training_run(const fs::path& run_dir) {
  for (const fs::path f : {fs::path(kTrainStateFile), fs::path(core::kModelCardFile), fs::path("members")})
    if (fs::exists(run_dir / f)) return true;
  return false;
}

void check_fresh_run_folder(const fs::path& run_dir) {
  if (holds_training_run(run_dir))
    fail_invalid(run_dir.string() + ": already holds a training run; resume it or choose another output folder");
}

}  // namespace medai::train
