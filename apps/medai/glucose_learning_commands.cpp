// medai glucose train-forecaster | evaluate-forecaster | train-ppo | recommend
#include <cstdio>
#include <nlohmann/json.hpp>

#include "glucose_support.h"
#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/glucose/lstm_forecaster.h"
#include "medai/glucose/ppo_insulin.h"
#include "medai/glucose/recommend.h"

namespace medai::app {

namespace fs = std::filesystem;

std::unique_ptr<glucose::Controller> make_controller(const std::string& spec, const glucose::VirtualPatient&) {
  if (spec.rfind("ppo:", 0) == 0) return glucose::load_ppo_controller(spec.substr(4));
  return glucose::make_standard_controller(spec);
}

namespace {

void add_train_forecaster_command(CLI::App& glucose, GlobalOptions& g) {
  auto* tr = glucose.add_subcommand("train-forecaster", "train the LSTM glucose forecaster on real CGM recordings");
  auto o = std::make_shared<glucose::ForecasterTrainOptions>();
  auto json_out = std::make_shared<bool>(false);
  tr->add_option("--data", o->data, "folder of CGM CSVs, one per person (timestamp,glucose_value_mg_dl)")->required();
  tr->add_option("--out", o->out, "run folder to write")->required();
  tr->add_option("--test-fraction", o->test_fraction, "patients (sorted by id, the last ones) held out")
      ->capture_default_str();
  tr->add_option("--epochs", o->epochs)->capture_default_str();
  tr->add_option("--batch-size", o->batch_size)->capture_default_str();
  tr->add_option("--lr", o->lr)->capture_default_str();
  tr->add_option("--hidden", o->hidden, "LSTM units")->capture_default_str();
  tr->add_option("--layers", o->layers, "LSTM layers")->capture_default_str();
  tr->add_option("--dropout", o->dropout, "dropout between LSTM layers")->capture_default_str();
  auto no_tod = std::make_shared<bool>(false);
  tr->add_flag("--no-time-of-day", *no_tod, "do not feed the clock time");
  auto cgm_only = std::make_shared<bool>(false);
  tr->add_flag("--cgm-only", *cgm_only, "ignore insulin_u/carbs_g columns even when every recording has them");
  auto keep_straight = std::make_shared<bool>(false);
  tr->add_flag("--train-on-straight-runs", *keep_straight,
               "also learn from windows touching straight-line (interpolated) runs longer than 1 h");
  tr->add_option("--history", o->history, "CGM readings fed to the model (5 min apart)")->capture_default_str();
  tr->add_option("--patience", o->patience, "epochs without validation gain before stopping")->capture_default_str();
  tr->add_option("--seed", o->seed)->capture_default_str();
  tr->add_option("--ensemble", o->ensemble, "networks trained from consecutive seeds, predictions averaged")
      ->capture_default_str();
  tr->add_option("--max-windows", o->max_windows, "cap on training windows (0 = all; for quick runs)")
      ->capture_default_str();
  add_precision_option(tr, o->precision);
  tr->add_flag("--resume", o->resume, "continue an interrupted run in --out (with its stored settings)");
  tr->add_flag("--json", *json_out, "print the model card as JSON");
  tr->callback([&g, o, json_out, no_tod, keep_straight, cgm_only] {
    core::init_runtime({g.threads, g.verbose, g.quiet || *json_out});
    o->progress = !*json_out && !g.quiet;
    o->time_of_day = !*no_tod;
    o->skip_straight_runs = !*keep_straight;
    o->use_insulin_and_carbs = !*cgm_only;
    check_fresh_out(o->out, o->resume);
    auto card = glucose::train_forecaster(*o);
    if (*json_out) {
      std::printf("%s\n", core::dump_json(card, 2).c_str());
      return;
    }
    std::printf("forecaster written to %s (best epoch %d)\n", o->out.string().c_str(),
                card["training"]["best_epoch"].get<int>());
    if (fs::exists(o->out / "test_report.txt"))
      std::printf("held-out patients:\n%s", core::read_file(o->out / "test_report.txt").c_str());
  });
}

void add_evaluate_forecaster_command(CLI::App& glucose, GlobalOptions& g) {
  auto* ev = glucose.add_subcommand(
      "evaluate-forecaster", "RMSE/MAE/Clarke zones at 30 and 60 min against persistence, linear and ridge baselines");
  struct EvOpts {
    fs::path model, data, out;
    std::string split = "test";
    double test_fraction = 0.2;
    bool json = false;
  };
  auto e = std::make_shared<EvOpts>();
  ev->add_option("--model", e->model, "forecaster run folder")->required();
  ev->add_option("--data", e->data, "folder of CGM CSVs, one per person")->required();
  ev->add_option("--split", e->split, "test: the last --test-fraction of patients by id; all: every file")
      ->check(CLI::IsMember({"test", "all"}))
      ->capture_default_str();
  ev->add_option("--test-fraction", e->test_fraction)->capture_default_str();
  ev->add_option("--out", e->out, "write report.json here (per patient rows included)");
  ev->add_flag("--json", e->json, "print the report as JSON");
  ev->callback([&g, e] {
    core::init_runtime({g.threads, g.verbose, g.quiet || e->json});
    auto f = glucose::GlucoseForecaster::load(e->model);
    auto series = glucose::read_cgm_folder(e->data);
    size_t first = 0;
    if (e->split == "test") first = glucose::split_by_sorted_id(series, e->test_fraction);
    std::vector<glucose::CgmSeries> s(series.begin() + first, series.end());
    auto w = glucose::make_windows(s, f.history(), glucose::kMaxHorizon).at;
    if (w.empty()) fail_invalid(e->data.string() + ": no complete 3-hour CGM windows in the chosen patients");
    auto ridge = glucose::RidgeForecaster::from_json(f.card().at("ridge_baseline"));
    std::vector<glucose::MethodAccuracy> m{
        glucose::evaluate_forecaster("lstm", f.as_batch(), s, w, f.history()),
        glucose::evaluate_forecaster("ridge", glucose::ridge_batch(ridge), s, w, f.history()),
        glucose::evaluate_forecaster("linear", glucose::linear_batch(f.history()), s, w, f.history()),
        glucose::evaluate_forecaster("persistence", glucose::persistence_batch(f.history()), s, w, f.history())};
    auto j = glucose::forecast_json(m);
    if (!e->out.empty()) {
      fs::create_directories(e->out);
      core::write_json_file(e->out / "report.json", j);
    }
    if (e->json) {
      std::printf("%s\n", core::dump_json(j, 2).c_str());
    } else {
      std::printf("%zu patients, %zu windows (%s); ridge fitted on the forecaster's training patients\n%s", s.size(),
                  w.size(), e->data.filename().string().c_str(), glucose::format_forecast_table(m).c_str());
    }
  });
}

}  // namespace

void add_ppo_command(CLI::App& glucose, GlobalOptions& g) {
  auto* tr = glucose.add_subcommand("train-ppo", "learn an insulin policy with PPO on a group of virtual patients");
  auto o = std::make_shared<glucose::PpoOptions>();
  auto src = std::make_shared<PatientSources>();
  auto json_out = std::make_shared<bool>(false);
  tr->add_option("--patients", o->patients, "group (adult, adolescent, child, all) or comma-separated names")
      ->capture_default_str();
  add_patient_options(tr, *src);
  tr->add_option("--out", o->out, "run folder to write")->required();
  tr->add_option("--iterations", o->iterations, "PPO iterations (one rollout each)")->capture_default_str();
  tr->add_option("--copies", o->copies_per_patient, "environments per patient")->capture_default_str();
  tr->add_option("--rollout-steps", o->rollout_steps, "steps per environment per rollout")->capture_default_str();
  tr->add_option("--epochs", o->update_epochs, "optimisation passes per rollout")->capture_default_str();
  tr->add_option("--lr", o->lr)->capture_default_str();
  tr->add_option("--hidden", o->hidden)->capture_default_str();
  tr->add_option("--seed", o->seed, "training scenarios' seeds start here")->capture_default_str();
  tr->add_option("--eval-days", o->eval_days, "held-out days per patient evaluated at the end (0 = none)")
      ->capture_default_str();
  add_precision_option(tr, o->precision);
  tr->add_flag("--resume", o->resume,
               "continue an interrupted run in --out (its stored settings; give the same patient tables)");
  tr->add_flag("--json", *json_out, "print the model card as JSON");
  tr->callback([&g, o, src, json_out] {
    core::init_runtime({g.threads, g.verbose, g.quiet || *json_out});
    o->params = src->params;
    o->quest = src->quest;
    o->env = env_options(*src);
    o->safety.enabled = !src->no_safety;
    o->progress = !*json_out && !g.quiet;
    check_fresh_out(o->out, o->resume);
    auto card = glucose::train_ppo(*o);
    if (*json_out) {
      std::printf("%s\n", core::dump_json(card, 2).c_str());
      return;
    }
    std::printf("PPO policy written to %s\n", o->out.string().c_str());
    if (fs::exists(o->out / "evaluation.txt"))
      std::printf("held-out evaluation (%d days per patient):\n%s", o->eval_days,
                  core::read_file(o->out / "evaluation.txt").c_str());
  });
}

void add_recommend_command(CLI::App& glucose, GlobalOptions& g) {
  auto* rc =
      glucose.add_subcommand("recommend", "next insulin recommendation from a CGM/insulin/carbs history, with reasons");
  struct Opts {
    fs::path history, forecaster, params, quest;
    std::string patient;
    double basal_u_per_h = 0, cr = 0, cf = 0, tdi = 0, target = 140, carbs = 0;
    bool json = false, boluses_only = false;
  };
  auto o = std::make_shared<Opts>();
  rc->add_option("--history", o->history, "CSV timestamp,cgm_mgdl[,insulin_u][,carbs_g]")->required();
  rc->add_option("--basal-u-per-h", o->basal_u_per_h, "the person's basal rate, U/h");
  rc->add_option("--cr", o->cr, "carb ratio, g per U");
  rc->add_option("--cf", o->cf, "correction factor, mg/dL per U");
  rc->add_option("--tdi", o->tdi, "total daily insulin, U (for the safety limits)");
  rc->add_option("--target", o->target, "target glucose, mg/dL")->capture_default_str();
  rc->add_option("--patient", o->patient, "or take the settings of a virtual patient (with --params, --quest)");
  rc->add_option("--params", o->params, "simglucose vpatient_params.csv");
  rc->add_option("--quest", o->quest, "simglucose Quest.csv");
  rc->add_option("--carbs", o->carbs, "grams of carbohydrate about to be eaten now")->capture_default_str();
  rc->add_option("--forecaster", o->forecaster, "LSTM forecaster run folder (default: linear trend)");
  rc->add_flag("--boluses-only", o->boluses_only,
               "insulin_u lists boluses only (basal assumed delivered as programmed); default: every unit delivered");
  rc->add_flag("--json", o->json, "print the recommendation as JSON");
  rc->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    glucose::PatientSettings p;
    if (!o->patient.empty()) {
      p = glucose::load_virtual_patient(o->patient, o->params, o->quest).settings();
    } else {
      if (!(o->basal_u_per_h > 0) || !(o->cr > 0) || !(o->cf > 0) || !(o->tdi > 0))
        fail_invalid("give the person's --basal-u-per-h, --cr, --cf and --tdi (all positive), or --patient NAME");
      p.basal_u_per_min = o->basal_u_per_h / 60;
      p.carb_ratio_g_per_u = o->cr;
      p.correction_mgdl_per_u = o->cf;
      p.total_daily_insulin_u = o->tdi;
    }
    p.target_mgdl = o->target;
    auto history = glucose::read_history(o->history);
    glucose::ForecastFn fn;
    if (!o->forecaster.empty())
      fn = glucose::forecast_fn(
          std::make_shared<glucose::GlucoseForecaster>(glucose::GlucoseForecaster::load(o->forecaster)));
    auto rec = glucose::recommend(history, p, o->carbs, fn, {}, !o->boluses_only);
    if (o->json) std::printf("%s\n", core::dump_json(rec.to_json(), 2).c_str());
    else std::printf("%s", rec.to_text().c_str());
  });
}

void add_glucose_learning_commands(CLI::App& glucose, GlobalOptions& g) {
  add_train_forecaster_command(glucose, g);
  add_evaluate_forecaster_command(glucose, g);
  add_recommend_command(glucose, g);
  add_ppo_command(glucose, g);
}

}  // namespace medai::app
