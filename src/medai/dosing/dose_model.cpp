#include "medai/dosing/dose_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "medai/bridges/xgboost/boosted_trees.h"
#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/dosing/iwpc.h"
#include "medai/dosing/regressors.h"

namespace medai::dosing {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kModelFile = "dose_model.json";
constexpr const char* kTreesFile = "trees.json";

int sex_index(double female) { return std::isnan(female) ? 2 : female == 1 ? 0 : 1; }
int group_index(const WarfarinPatient& p) { return sex_index(p.secondary[0]) * 4 + static_cast<int>(p.race); }

double median(std::vector<double> v, double fallback) {
  if (v.empty()) return fallback;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

double conformal_quantile(std::vector<double> r, double level) {
  if (r.empty()) return kNaN;
  std::sort(r.begin(), r.end());
  const size_t k = static_cast<size_t>(std::ceil((r.size() + 1) * level));
  return r[std::min(r.size(), std::max<size_t>(k, 1)) - 1];
}

}  // namespace

std::string model_kind_name(DoseModelKind k) {
  switch (k) {
    case DoseModelKind::Ridge: return "ridge";
    case DoseModelKind::Xgboost: return "xgboost";
    case DoseModelKind::Mlp: return "mlp";
    case DoseModelKind::Iwpc: break;
  }
  return "iwpc";
}

DoseModelKind parse_model_kind(const std::string& name, std::string* formula) {
  if (name == "ridge") return DoseModelKind::Ridge;
  if (name == "xgboost") return DoseModelKind::Xgboost;
  if (name == "mlp") return DoseModelKind::Mlp;
  if (name == "iwpc-pharmacogenetic" || name == "iwpc-clinical" || name == "fixed") {
    if (formula) *formula = name == "fixed" ? "fixed" : name.substr(5);
    return DoseModelKind::Iwpc;
  }
  fail_invalid("unknown dose model '" + name +
               "' (known: ridge, xgboost, mlp, iwpc-pharmacogenetic, iwpc-clinical, fixed)");
}

FeatureCoding FeatureCoding::fit(const std::vector<WarfarinPatient>& patients) {
  FeatureCoding c;
  std::array<std::vector<double>, 12> h, w;
  std::vector<double> ha, wa, inr;
  for (const auto& p : patients) {
    const int g = group_index(p);
    if (p.height_cm) h[g].push_back(*p.height_cm), ha.push_back(*p.height_cm);
    if (p.weight_kg) w[g].push_back(*p.weight_kg), wa.push_back(*p.weight_kg);
    if (!std::isnan(p.secondary[9])) inr.push_back(p.secondary[9]);
  }
  for (const auto& p : patients) {
    const int r = static_cast<int>(p.race);
    if (p.vkorc1 != Vkorc1::Unknown) c.vkorc1_freq[r][static_cast<int>(p.vkorc1)] += 1;
    if (static_cast<int>(p.cyp2c9) < 6) c.cyp2c9_freq[r][static_cast<int>(p.cyp2c9)] += 1;
  }
  auto normalise = [](auto& f) {
    double s = 0;
    for (double v : f) s += v;
    for (double& v : f) v = s > 0 ? v / s : 1.0 / f.size();
  };
  for (auto& f : c.vkorc1_freq) normalise(f);
  for (auto& f : c.cyp2c9_freq) normalise(f);
  c.height_all = median(ha, 170);
  c.weight_all = median(wa, 75);
  c.inr_median = median(inr, 2.5);
  for (size_t g = 0; g < 12; ++g) {
    c.height_median[g] = h[g].size() >= 10 ? median(h[g], c.height_all) : c.height_all;
    c.weight_median[g] = w[g].size() >= 10 ? median(w[g], c.weight_all) : c.weight_all;
  }
  return c;
}

json FeatureCoding::to_json() const {
  return {{"height_median_by_sex_race", height_median},
          {"weight_median_by_sex_race", weight_median},
          {"height_median", height_all},
          {"weight_median", weight_all},
          {"target_inr_median", inr_median},
          {"groups", "sex (female, male, unknown) x race (White, Asian, Black, Unknown)"},
          {"vkorc1_frequency_by_race", vkorc1_freq},
          {"cyp2c9_frequency_by_race", cyp2c9_freq}};
}

FeatureCoding FeatureCoding::from_json(const json& j, const std::string& where) {
  FeatureCoding c;
  try {
    c.height_median = j.at("height_median_by_sex_race").get<std::array<double, 12>>();
    c.weight_median = j.at("weight_median_by_sex_race").get<std::array<double, 12>>();
    c.height_all = j.at("height_median").get<double>();
    c.weight_all = j.at("weight_median").get<double>();
    c.inr_median = j.at("target_inr_median").get<double>();
    c.vkorc1_freq = j.at("vkorc1_frequency_by_race").get<decltype(c.vkorc1_freq)>();
    c.cyp2c9_freq = j.at("cyp2c9_frequency_by_race").get<decltype(c.cyp2c9_freq)>();
  } catch (const json::exception& e) {
    fail_invalid(where + ": damaged feature coding (" + e.what() + ")");
  }
  return c;
}

const std::vector<std::string>& feature_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n = {"age_decades",    "height_cm",      "weight_kg",  "vkorc1_AG",  "vkorc1_AA",
                                  "vkorc1_unknown", "cyp2c9_12",      "cyp2c9_13",  "cyp2c9_22",  "cyp2c9_23",
                                  "cyp2c9_33",      "cyp2c9_unknown", "race_asian", "race_black", "race_missing_mixed",
                                  "enzyme_inducer", "amiodarone"};
    for (const char* s : kSecondaryNames) n.push_back(s);
    for (const char* s : {"height_imputed", "weight_imputed", "target_inr_missing", "sex_missing"}) n.push_back(s);
    return n;
  }();
  return names;
}

EncodedPatient encode(const WarfarinPatient& p, const FeatureCoding& c, bool keep_missing) {
  EncodedPatient e;
  const int g = group_index(p);
  auto& x = e.x;
  x.push_back(p.age_decades ? *p.age_decades : kNaN);
  if (!p.height_cm) e.imputed.push_back("height_cm");
  if (!p.weight_kg) e.imputed.push_back("weight_kg");
  x.push_back(p.height_cm ? *p.height_cm : keep_missing ? kNaN : c.height_median[g]);
  x.push_back(p.weight_kg ? *p.weight_kg : keep_missing ? kNaN : c.weight_median[g]);
  for (Vkorc1 v : {Vkorc1::AG, Vkorc1::AA, Vkorc1::Unknown}) x.push_back(p.vkorc1 == v);
  for (Cyp2c9 k : {Cyp2c9::S12, Cyp2c9::S13, Cyp2c9::S22, Cyp2c9::S23, Cyp2c9::S33}) x.push_back(p.cyp2c9 == k);
  x.push_back(p.cyp2c9 == Cyp2c9::Unknown || p.cyp2c9 == Cyp2c9::Other);
  for (Race r : {Race::Asian, Race::Black, Race::Unknown}) x.push_back(p.race == r);
  x.push_back(p.enzyme_inducer);
  x.push_back(p.amiodarone);
  for (size_t k = 0; k + 1 < kSecondaryNames.size(); ++k)
    x.push_back(std::isnan(p.secondary[k]) ? (keep_missing ? kNaN : 0.0) : p.secondary[k]);
  const double inr = p.secondary[9];
  x.push_back(std::isnan(inr) ? (keep_missing ? kNaN : c.inr_median) : inr);
  x.push_back(!p.height_cm);
  x.push_back(!p.weight_kg);
  x.push_back(std::isnan(inr));
  x.push_back(std::isnan(p.secondary[0]));
  e.incomplete = !e.imputed.empty() || p.vkorc1 == Vkorc1::Unknown || p.cyp2c9 == Cyp2c9::Unknown;
  return e;
}

struct DoseModel::Impl {
  DoseModelKind kind = DoseModelKind::Ridge;
  Algorithm formula = Algorithm::Pharmacogenetic;
  FeatureCoding coding;
  std::unique_ptr<Regressor> regressor;  // learned kinds
  double level = 0.8;
  double q_complete = 0, q_incomplete = 0;  // conformal half-widths on the square-root scale
  json report = json::object();

  bool keep_missing() const { return kind == DoseModelKind::Xgboost; }
  double sqrt_dose(const WarfarinPatient& p) const {
    if (kind == DoseModelKind::Iwpc) {
      WarfarinPatient filled = p;
      const auto e = encode(p, coding);
      filled.height_cm = e.x[1];
      filled.weight_kg = e.x[2];
      return std::sqrt(formula_dose(formula, filled));
    }
    return regressor->predict(encode(p, coding, keep_missing()).x);
  }
};

DoseModel::DoseModel() : impl_(std::make_unique<Impl>()) {}
DoseModel::~DoseModel() = default;
DoseModel::DoseModel(DoseModel&&) noexcept = default;
DoseModel& DoseModel::operator=(DoseModel&&) noexcept = default;

namespace {

struct Design {
  std::vector<std::vector<double>> x;
  std::vector<double> y;  // sqrt(dose)
  std::vector<bool> incomplete;
};

Design design(const std::vector<const WarfarinPatient*>& ps, const FeatureCoding& c, bool keep_missing) {
  Design d;
  for (const auto* p : ps) {
    auto e = encode(*p, c, keep_missing);
    d.x.push_back(std::move(e.x));
    d.y.push_back(std::sqrt(*p->dose_mg_week));
    d.incomplete.push_back(e.incomplete);
  }
  return d;
}

std::unique_ptr<Regressor> fit(DoseModelKind kind, const Design& d, const RegressorSettings& s) {
  switch (kind) {
    case DoseModelKind::Ridge: return fit_ridge(d.x, d.y, s);
    case DoseModelKind::Xgboost: return fit_trees(d.x, d.y, s);
    case DoseModelKind::Mlp: return fit_mlp(d.x, d.y, s);
    case DoseModelKind::Iwpc: break;
  }
  fail(ErrorCode::Internal, "dose model: no regressor for a formula");
}

// Out-of-fold square-root predictions over `folds` folds (fold of row i: perm[i] % folds).
std::vector<double> out_of_fold(DoseModelKind kind, const Design& d, const RegressorSettings& s, int folds,
                                uint64_t seed) {
  std::vector<size_t> perm(d.y.size());
  std::iota(perm.begin(), perm.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<double> oof(d.y.size(), kNaN);
  for (int f = 0; f < folds; ++f) {
    Design tr;
    std::vector<size_t> held;
    for (size_t i = 0; i < perm.size(); ++i) {
      const size_t r = perm[i];
      if (static_cast<int>(i % folds) == f) held.push_back(r);
      else tr.x.push_back(d.x[r]), tr.y.push_back(d.y[r]);
    }
    auto m = fit(kind, tr, s);
    for (size_t r : held) oof[r] = m->predict(d.x[r]);
  }
  return oof;
}

json fold_report(const std::vector<double>& pred_sqrt, const std::vector<double>& y_sqrt) {
  double ae = 0, within = 0;
  for (size_t i = 0; i < y_sqrt.size(); ++i) {
    const double yd = y_sqrt[i] * y_sqrt[i], pd = std::pow(std::max(0.0, pred_sqrt[i]), 2);
    ae += std::abs(pd - yd);
    within += std::abs(pd - yd) <= 0.2 * yd;
  }
  const double n = static_cast<double>(y_sqrt.size());
  return {{"mae_mg_week", ae / n}, {"within_20pct", within / n}, {"n", y_sqrt.size()}};
}

}  // namespace

DoseModel DoseModel::train(const std::vector<WarfarinPatient>& patients, const DoseTrainOptions& o) {
  DoseModel m;
  Impl& im = *m.impl_;
  std::string formula;
  im.kind = parse_model_kind(o.model, &formula);
  if (im.kind == DoseModelKind::Iwpc) im.formula = parse_algorithm(formula);
  im.level = o.interval_level;
  std::vector<const WarfarinPatient*> usable;
  for (const auto& p : patients)
    if (p.dose_mg_week && p.age_decades) usable.push_back(&p);
  if (usable.size() < 50)
    fail_invalid("dose train: " + std::to_string(usable.size()) +
                 " patients with a dose and an age; at least 50 are needed");
  std::vector<WarfarinPatient> fit_on;
  for (const auto* p : usable) fit_on.push_back(*p);
  im.coding = FeatureCoding::fit(fit_on);
  const Design d = design(usable, im.coding, im.keep_missing());
  RegressorSettings s;
  s.seed = o.seed;
  s.threads = o.threads;
  std::vector<double> oof(d.y.size());
  if (im.kind == DoseModelKind::Iwpc) {
    for (size_t i = 0; i < usable.size(); ++i) oof[i] = im.sqrt_dose(*usable[i]);
  } else {
    if (im.kind == DoseModelKind::Ridge) {  // lambda by cross-validated MAE
      double best = std::numeric_limits<double>::infinity();
      json grid = json::object();
      for (double lambda : {0.1, 1.0, 3.0, 10.0, 30.0, 100.0}) {
        RegressorSettings t = s;
        t.ridge_lambda = lambda;
        const double mae = fold_report(out_of_fold(im.kind, d, t, o.cv_folds, o.seed), d.y)["mae_mg_week"];
        grid[std::to_string(lambda)] = mae;
        if (mae < best) best = mae, s.ridge_lambda = lambda;
      }
      im.report["ridge_lambda"] = s.ridge_lambda;
      im.report["ridge_lambda_cv_mae"] = grid;
    }
    oof = out_of_fold(im.kind, d, s, o.cv_folds, o.seed);
    im.regressor = fit(im.kind, d, s);
  }
  std::vector<double> rc, ri;
  for (size_t i = 0; i < d.y.size(); ++i) (d.incomplete[i] ? ri : rc).push_back(std::abs(d.y[i] - oof[i]));
  std::vector<double> all = rc;
  all.insert(all.end(), ri.begin(), ri.end());
  const double q_all = conformal_quantile(all, o.interval_level);
  im.q_complete = rc.size() >= 30 ? conformal_quantile(rc, o.interval_level) : q_all;
  im.q_incomplete = ri.size() >= 30 ? conformal_quantile(ri, o.interval_level) : q_all;
  im.report["out_of_fold"] = fold_report(oof, d.y);
  im.report["out_of_fold"]["folds"] = im.kind == DoseModelKind::Iwpc ? 0 : o.cv_folds;
  im.report["conformal"] = {{"level", o.interval_level},
                            {"half_width_sqrt_complete", im.q_complete},
                            {"half_width_sqrt_incomplete", im.q_incomplete},
                            {"n_complete", rc.size()},
                            {"n_incomplete", ri.size()}};
  im.report["n_train"] = usable.size();
  return m;
}

DoseModel DoseModel::builtin() {
  DoseModel m;
  Impl& im = *m.impl_;
  im.kind = DoseModelKind::Iwpc;
  im.formula = Algorithm::Pharmacogenetic;
  FeatureCoding& c = im.coding;
  // Medians by sex (female, male, unknown) x race (White, Asian, Black, Unknown).
  c.height_median = {162.6, 154.5, 162.6, 160.0, 177.8, 165.1, 180.3, 170.2, 167.9, 167.9, 167.9, 167.9};
  c.weight_median = {73.0, 54.0, 83.2, 65.8, 86.4, 65.0, 90.7, 81.8, 75.0, 75.0, 75.0, 75.0};
  c.height_all = 167.9;
  c.weight_all = 75.0;
  c.inr_median = 2.5;
  c.vkorc1_freq = {{{0.364, 0.484, 0.152}, {0.037, 0.175, 0.788}, {0.819, 0.167, 0.014}, {0.417, 0.476, 0.107}}};
  c.cyp2c9_freq = {{{0.642, 0.204, 0.113, 0.014, 0.022, 0.005},
                    {0.930, 0.001, 0.068, 0.0, 0.0, 0.001},
                    {0.931, 0.051, 0.018, 0.0, 0.0, 0.0},
                    {0.715, 0.193, 0.068, 0.013, 0.003, 0.008}}};
  im.level = 0.8;
  im.q_complete = 1.161;
  im.q_incomplete = 1.306;
  im.report = {{"source",
                "built in: IWPC pharmacogenetic formula (NEJM 2009); intervals measured on a random 80 % "
                "of the IWPC cohort"}};
  return m;
}

double DoseModel::predict_sqrt(const WarfarinPatient& p) const { return impl_->sqrt_dose(p); }

std::optional<DosePrediction> DoseModel::predict(const WarfarinPatient& p, std::string* why) const {
  if (!p.age_decades) {
    if (why) *why = "age is missing (required: no dose is recommended without it)";
    return std::nullopt;
  }
  const double s = std::max(0.0, impl_->sqrt_dose(p));
  const auto e = encode(p, impl_->coding);
  const double q = e.incomplete ? impl_->q_incomplete : impl_->q_complete;
  DosePrediction r;
  r.unclipped = s * s;
  r.dose = std::clamp(r.unclipped, kMinDose, kMaxDose);
  r.clipped = r.dose != r.unclipped;
  r.lower = std::pow(std::max(0.0, s - q), 2);
  r.upper = std::pow(s + q, 2);
  r.imputed = e.imputed;
  r.incomplete = e.incomplete;
  return r;
}

std::vector<Contribution> DoseModel::contributions(const WarfarinPatient& p) const {
  const double base = std::pow(std::max(0.0, impl_->sqrt_dose(p)), 2);
  const auto& c = impl_->coding;
  std::vector<Contribution> out;
  auto add = [&](const std::string& feature, const std::string& value, WarfarinPatient ref) {
    out.push_back({feature, value, base - std::pow(std::max(0.0, impl_->sqrt_dose(ref)), 2)});
  };
  auto with = [&](auto change) {
    WarfarinPatient q = p;
    change(q);
    return q;
  };
  const auto fmt = [](double v) { return std::to_string(static_cast<int>(std::lround(v))); };
  add("age", std::to_string(*p.age_decades * 10) + "s", with([](WarfarinPatient& q) { q.age_decades = 6; }));
  add("height", p.height_cm ? fmt(*p.height_cm) + " cm" : "imputed",
      with([&](WarfarinPatient& q) { q.height_cm = c.height_all; }));
  add("weight", p.weight_kg ? fmt(*p.weight_kg) + " kg" : "imputed",
      with([&](WarfarinPatient& q) { q.weight_kg = c.weight_all; }));
  add("VKORC1 -1639", vkorc1_name(p.vkorc1), with([](WarfarinPatient& q) { q.vkorc1 = Vkorc1::Unknown; }));
  add("CYP2C9", cyp2c9_name(p.cyp2c9), with([](WarfarinPatient& q) { q.cyp2c9 = Cyp2c9::Unknown; }));
  add("race", race_name(p.race), with([](WarfarinPatient& q) { q.race = Race::White; }));
  add("amiodarone", p.amiodarone ? "yes" : "no", with([](WarfarinPatient& q) { q.amiodarone = false; }));
  add("enzyme inducer", p.enzyme_inducer ? "yes" : "no", with([](WarfarinPatient& q) { q.enzyme_inducer = false; }));
  for (size_t k = 0; k < kSecondaryNames.size(); ++k) {
    if (std::isnan(p.secondary[k]) || (k < 9 && p.secondary[k] == 0)) continue;
    add(kSecondaryNames[k], k == 9 ? std::to_string(p.secondary[k]).substr(0, 4) : "yes",
        with([&](WarfarinPatient& q) { q.secondary[k] = k == 9 ? c.inr_median : 0.0; }));
  }
  std::stable_sort(out.begin(), out.end(), [](const Contribution& a, const Contribution& b) {
    return std::abs(a.mg_week) > std::abs(b.mg_week);
  });
  return out;
}

std::string DoseModel::name() const {
  if (impl_->kind == DoseModelKind::Iwpc)
    return impl_->formula == Algorithm::Fixed ? "fixed" : "iwpc-" + algorithm_name(impl_->formula);
  return model_kind_name(impl_->kind);
}
double DoseModel::interval_level() const { return impl_->level; }
const FeatureCoding& DoseModel::coding() const { return impl_->coding; }
const json& DoseModel::training_report() const { return impl_->report; }

void DoseModel::save(const fs::path& run) const {
  const Impl& im = *impl_;
  json j = {{"format", "medai.dose_model/1"},
            {"model", name()},
            {"features", feature_names()},
            {"coding", im.coding.to_json()},
            {"interval_level", im.level},
            {"half_width_sqrt_complete", im.q_complete},
            {"half_width_sqrt_incomplete", im.q_incomplete},
            {"report", im.report}};
  if (im.regressor) {
    j["regressor"] = im.regressor->to_json();
    if (im.kind == DoseModelKind::Xgboost) core::write_file_atomic(run / kTreesFile, im.regressor->blob());
  }
  core::write_json_file(run / kModelFile, j);
}

DoseModel DoseModel::load(const fs::path& run) {
  const fs::path file = run / kModelFile;
  if (!fs::exists(file))
    fail_invalid(run.string() + ": not a dose model run (no " + kModelFile + "; train one with medai dose train)");
  const json j = core::read_json_file(file);
  const std::string where = file.string();
  if (core::json_string(j, "format", where) != "medai.dose_model/1")
    fail_invalid(where + ": unknown format (expected medai.dose_model/1)");
  DoseModel m;
  Impl& im = *m.impl_;
  std::string formula;
  im.kind = parse_model_kind(core::json_string(j, "model", where), &formula);
  if (im.kind == DoseModelKind::Iwpc) im.formula = parse_algorithm(formula);
  if (j.at("features").get<std::vector<std::string>>() != feature_names())
    fail_invalid(where + ": the model's features differ from this medai's (retrain it)");
  im.coding = FeatureCoding::from_json(j.at("coding"), where);
  im.level = core::json_number(j, "interval_level", where, 0.01, 0.999);
  im.q_complete = core::json_number(j, "half_width_sqrt_complete", where, 0, 100);
  im.q_incomplete = core::json_number(j, "half_width_sqrt_incomplete", where, 0, 100);
  im.report = j.value("report", json::object());
  if (im.kind != DoseModelKind::Iwpc) {
    const std::string blob = im.kind == DoseModelKind::Xgboost ? core::read_file(run / kTreesFile) : std::string();
    im.regressor = load_regressor(model_kind_name(im.kind), j.at("regressor"), blob, feature_names().size(), where);
  }
  return m;
}

}  // namespace medai::dosing
