#include "medai/dosing/dose_evaluation.h"

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "medai/dosing/iwpc.h"
#include "medai/metrics/bootstrap.h"

namespace medai::dosing {

using nlohmann::json;

namespace {

struct Pairs {
  std::vector<double> predicted, stable;
  std::vector<int> inside;  // the stable dose lies in the prediction interval
};

double mae_of(const Pairs& p, const std::vector<size_t>& idx) {
  double s = 0;
  for (size_t i : idx) s += std::abs(p.predicted[i] - p.stable[i]);
  return idx.empty() ? NAN : s / idx.size();
}

double within_of(const Pairs& p, const std::vector<size_t>& idx) {
  double s = 0;
  for (size_t i : idx) s += std::abs(p.predicted[i] - p.stable[i]) <= 0.2 * p.stable[i];
  return idx.empty() ? NAN : s / idx.size();
}

json with_ci(const Pairs& p, int bootstrap, uint64_t seed) {
  json j = dose_figures(p.predicted, p.stable);
  if (p.predicted.size() < 2 || bootstrap <= 0) return j;
  auto mae = metrics::bootstrap_ci(
      p.predicted.size(), [&](const auto& idx) { return mae_of(p, idx); }, bootstrap, 0.95, seed);
  auto w = metrics::bootstrap_ci(
      p.predicted.size(), [&](const auto& idx) { return within_of(p, idx); }, bootstrap, 0.95, seed);
  j["mae_ci95"] = {mae.lower, mae.upper};
  j["within_20pct_ci95"] = {w.lower, w.upper};
  return j;
}

json subgroups(const Pairs& p, const std::vector<std::string>& group, int bootstrap) {
  std::map<std::string, Pairs> by;
  for (size_t i = 0; i < group.size(); ++i) {
    by[group[i]].predicted.push_back(p.predicted[i]);
    by[group[i]].stable.push_back(p.stable[i]);
  }
  json out = json::array();
  for (const auto& [g, q] : by) {
    json row = with_ci(q, q.predicted.size() >= 10 ? bootstrap : 0, 11);
    row["group"] = g;
    out.push_back(row);
  }
  return out;
}

}  // namespace

json dose_figures(const std::vector<double>& predicted, const std::vector<double>& stable) {
  double ae = 0, within = 0, bucket = 0;
  for (size_t i = 0; i < stable.size(); ++i) {
    ae += std::abs(predicted[i] - stable[i]);
    within += std::abs(predicted[i] - stable[i]) <= 0.2 * stable[i];
    bucket += dose_bucket(predicted[i]) == dose_bucket(stable[i]);
  }
  const double n = std::max<double>(1, stable.size());
  return {{"mae_mg_week", ae / n}, {"within_20pct", within / n}, {"bucket_accuracy", bucket / n}, {"n", stable.size()}};
}

DoseEvaluation evaluate_dose_model(const DoseModel& model, const std::vector<WarfarinPatient>& patients, int bootstrap,
                                   uint64_t seed) {
  DoseEvaluation ev;
  Pairs all, complete_model;
  std::vector<std::string> band, race;
  std::map<std::string, Pairs> formulas;
  size_t with_dose = 0, refused = 0, clipped = 0;
  std::map<std::string, size_t> refusals;
  for (const auto& p : patients) {
    std::string why;
    const auto pred = model.predict(p, &why);
    if (pred) ev.predicted.push_back({p.row, *pred});
    if (!p.dose_mg_week) continue;
    ++with_dose;
    if (!pred) {
      ++refused;
      ++refusals[why];
      continue;
    }
    clipped += pred->clipped;
    const double d = *p.dose_mg_week;
    all.predicted.push_back(pred->dose);
    all.stable.push_back(d);
    all.inside.push_back(d >= pred->lower && d <= pred->upper);
    band.push_back(bucket_name(dose_bucket(d)));
    race.push_back(race_name(p.race));
    if (!p.complete()) continue;
    complete_model.predicted.push_back(pred->dose);
    complete_model.stable.push_back(d);
    for (Algorithm a : {Algorithm::Pharmacogenetic, Algorithm::Clinical, Algorithm::Fixed}) {
      auto& f = formulas[a == Algorithm::Fixed ? "fixed_35mg_week" : "iwpc_" + algorithm_name(a)];
      f.predicted.push_back(formula_dose(a, p));
      f.stable.push_back(d);
    }
  }
  json& r = ev.report;
  r = with_ci(all, bootstrap, seed);
  double inside = 0;
  for (int v : all.inside) inside += v;
  r["coverage"] = with_dose ? double(all.stable.size()) / with_dose : 0.0;
  r["interval_coverage"] = all.inside.empty() ? 0.0 : inside / all.inside.size();
  r["interval_level"] = model.interval_level();
  r["n_with_dose"] = with_dose;
  r["n_refused"] = refused;
  r["refusals"] = refusals;
  r["n_clipped_to_plausible_range"] = clipped;
  r["model"] = model.name();
  r["by_dose_band"] = subgroups(all, band, bootstrap / 2);
  r["by_race"] = subgroups(all, race, bootstrap / 2);
  json cc = {{"note", "patients with age, height and weight recorded: where the published formulas apply"},
             {"model", with_ci(complete_model, bootstrap, seed)}};
  for (const auto& [name, f] : formulas) cc[name] = with_ci(f, bootstrap, seed);
  r["complete_cases"] = cc;
  return ev;
}

}  // namespace medai::dosing
