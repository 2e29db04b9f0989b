// The training engine with a model of one number (no libtorch): gradient descent on (w - 3)^2,
// validated by |w - 3| with a scripted rise to trigger early stopping.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/io/csv.h"
#include "medai/train/trainer.h"
#include "support/test_support.h"

namespace medai::train {
namespace {

namespace fs = std::filesystem;

struct Scalar {
  double w = 0, best_w = 0;
  std::vector<double> val_offset;  // added to the validation error per epoch (scripted)
  TrainerHooks hooks() {
    TrainerHooks h;
    h.train_step = [this](int64_t, double lr) -> std::optional<std::pair<double, int64_t>> {
      const double loss = (w - 3) * (w - 3);
      w -= lr * 2 * (w - 3);
      return std::pair{loss, int64_t{1}};
    };
    h.validate = [this](int epoch) {
      const double off = epoch <= static_cast<int>(val_offset.size()) ? val_offset[epoch - 1] : 0.0;
      return Metrics{{"val_error", std::abs(w - 3) + off}, {"abs_w", std::abs(w)}};  // not alphabetical
    };
    h.save_best = [this] { best_w = w; };
    h.save_checkpoint = [this](const fs::path& dir) { core::write_json_file(dir / "w.json", nlohmann::json(w)); };
    h.load_checkpoint = [this](const fs::path& dir) { w = core::read_json_file(dir / "w.json").get<double>(); };
    return h;
  }
};

TrainerOptions options(int epochs) {
  TrainerOptions o;
  o.epochs = epochs;
  o.steps_per_epoch = 4;
  o.schedule = {ScheduleKind::Constant, 0.1, 4 * epochs, 0};
  o.monitor = "val_error";
  o.maximize = false;
  o.patience = 2;
  o.progress = false;
  return o;
}

TEST(Selector, KeepsTheBestAndCountsOffersSinceIt) {
  Selector s(true, 0.01);
  EXPECT_TRUE(s.offer(0.5, 1));
  EXPECT_FALSE(s.offer(0.505, 2));  // within min_delta
  EXPECT_TRUE(s.offer(0.6, 3));
  EXPECT_FALSE(s.offer(0.1, 4));
  EXPECT_EQ(s.best_step(), 3);
  EXPECT_DOUBLE_EQ(s.best(), 0.6);
  EXPECT_EQ(s.since_best(), 1);
}

TEST(Trainer, StopsEarlyOnTheNamedMetricAndReportsTheBestEpoch) {
  Scalar m;
  m.val_offset = {0, 0, 5, 5, 5, 5};  // epochs 3.. look worse: stop after patience 2
  auto r = fit(options(8), m.hooks());
  EXPECT_TRUE(r.stopped_early);
  EXPECT_EQ(r.best_epoch, 2);
  ASSERT_EQ(r.history.size(), 4u);
  EXPECT_LT(r.history[1].train_loss, r.history[0].train_loss);
  EXPECT_DOUBLE_EQ(r.history[3].lr, 0.1);
  EXPECT_NEAR(m.best_w, 3 - 3 * std::pow(0.8, 8), 1e-12);  // the state after epoch 2 (8 steps)
}

TEST(Trainer, ANonFiniteLossIsAnErrorNotACurve) {
  Scalar m;
  auto h = m.hooks();
  h.train_step = [](int64_t, double) -> std::optional<std::pair<double, int64_t>> {
    return std::pair{std::nan(""), int64_t{1}};
  };
  EXPECT_THROW(fit(options(2), h), Error);
}

TEST(Trainer, AResumedRunEndsWhereAnUninterruptedOneDoes) {
  test::TempDir dir;
  Scalar full;
  auto o = options(5);
  o.patience = 10;
  o.run_dir = dir.path() / "full";
  fs::create_directories(o.run_dir);
  const nlohmann::json stored = {{"lr", 0.1}};
  o.run_options = &stored;
  auto rf = fit(o, full.hooks());

  Scalar cut;
  o.run_dir = dir.path() / "cut";
  fs::create_directories(o.run_dir);
  o.epochs = 2;  // "killed" after epoch 2: its checkpoint and state are on disk
  fit(o, cut.hooks());
  EXPECT_EQ(resume_options(o.run_dir), stored);
  EXPECT_THROW(check_fresh_run_folder(o.run_dir), Error);
  Scalar resumed;  // a new process: the state comes from the checkpoint
  o.epochs = 5;
  o.resume = true;
  auto rr = fit(o, resumed.hooks());
  EXPECT_DOUBLE_EQ(resumed.w, full.w);
  ASSERT_EQ(rr.history.size(), rf.history.size());
  for (size_t i = 0; i < rf.history.size(); ++i) EXPECT_DOUBLE_EQ(rr.history[i].train_loss, rf.history[i].train_loss);
  EXPECT_EQ(rr.best_epoch, rf.best_epoch);
  EXPECT_EQ(std::distance(fs::directory_iterator(o.run_dir / "checkpoints"), fs::directory_iterator()), 1);

  auto csv = epoch_curves(rr.history).to_csv();
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "epoch,train_loss,val_error,abs_w,lr,seconds");
}

TEST(Trainer, NothingToResumeIsNamed) {
  test::TempDir dir;
  try {
    resume_options(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("train_state.json"), std::string::npos);
  }
}

TEST(Curves, WritesTheDeclaredDecimalsAndFiltersRows) {
  Curves c({{"member", 0}, {"epoch", 0}, {"rmse", 4}});
  c.add({0, 1, 22.25331});
  c.add({1, 1, 20.0});
  EXPECT_EQ(c.to_csv(), "member,epoch,rmse\n0,1,22.2533\n1,1,20.0000\n");
  EXPECT_EQ(c.where("member", 1).rows().size(), 1u);
  EXPECT_THROW(c.add({1, 2}), Error);
}

}  // namespace
}  // namespace medai::train
