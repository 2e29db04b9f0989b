#pragma once
// Learned warfarin dose models on the IWPC features: ridge regression, gradient-boosted trees
// (the XGBoost bridge) and a small MLP, all predicting the square root of the weekly dose as the
// IWPC formulas do; the published formulas themselves as models of the same type (so baselines
// run through the same code). Missing height and weight are imputed (the training median of the
// patient's sex and race) and flagged; missing genotypes are a category of their own. Age is
// required: without it no dose is recommended. Prediction intervals are split-conformal
// (Mondrian: patients with everything recorded and patients with something imputed or untyped get
// their own quantile of out-of-fold residuals), so they widen when data is missing.
#include <array>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "medai/dosing/warfarin_data.h"

namespace medai::dosing {

enum class DoseModelKind { Ridge, Xgboost, Mlp, Iwpc };
std::string model_kind_name(DoseModelKind k);  // "ridge", "xgboost", "mlp", "iwpc-..."
// "ridge", "xgboost", "mlp", "iwpc-pharmacogenetic", "iwpc-clinical", "fixed".
DoseModelKind parse_model_kind(const std::string& name, std::string* formula);

struct DoseTrainOptions {
  std::string model = "ridge";
  double interval_level = 0.8;  // conformal prediction interval
  int cv_folds = 5;             // out-of-fold residuals for the interval, and ridge's lambda
  uint64_t seed = 1;
  int threads = 0;
};

// How patients become features: the imputation values learned on the training patients.
struct FeatureCoding {
  // Height and weight medians by sex (female, male, unknown) x race (4); the overall medians.
  std::array<double, 12> height_median{}, weight_median{};
  double height_all = 170, weight_all = 75, inr_median = 2.5;
  // Genotype frequencies by race (4) among the typed training patients: VKORC1 G/G, A/G, A/A and
  // the six CYP2C9 diplotypes, for "what would a genotype test change".
  std::array<std::array<double, 3>, 4> vkorc1_freq{};
  std::array<std::array<double, 6>, 4> cyp2c9_freq{};
  static FeatureCoding fit(const std::vector<WarfarinPatient>& patients);
  nlohmann::json to_json() const;
  static FeatureCoding from_json(const nlohmann::json& j, const std::string& where);
};

// One patient as features; `imputed` names what was filled in (height_cm, weight_kg, ...).
struct EncodedPatient {
  std::vector<double> x;  // kFeatureNames order; NaN kept where trees prefer it (see encode)
  std::vector<std::string> imputed;
  bool incomplete = false;  // something imputed, or a genotype unknown: the wider interval
};
const std::vector<std::string>& feature_names();
// `keep_missing`: NaN instead of the imputed value (XGBoost learns where missing rows go).
EncodedPatient encode(const WarfarinPatient& p, const FeatureCoding& coding, bool keep_missing = false);

struct Contribution {
  std::string feature;  // a group: "age", "weight", "VKORC1", "CYP2C9", "race", "amiodarone", ...
  std::string value;    // the patient's value, as text
  double mg_week = 0;   // the dose minus the dose with this feature at the training reference
};

struct DosePrediction {
  double dose = 0, lower = 0, upper = 0;  // mg/week, clipped to [kMinDose, kMaxDose]
  double unclipped = 0;
  bool clipped = false;
  std::vector<std::string> imputed;
  bool incomplete = false;
};

class DoseModel {
 public:
  DoseModel();
  ~DoseModel();
  DoseModel(DoseModel&&) noexcept;
  DoseModel& operator=(DoseModel&&) noexcept;

  // Fits on the patients with a dose and an age; fails when fewer than 50 such.
  static DoseModel train(const std::vector<WarfarinPatient>& patients, const DoseTrainOptions& options);
  // Nothing when required data (age) is missing: `why` then says what.
  std::optional<DosePrediction> predict(const WarfarinPatient& p, std::string* why = nullptr) const;
  // The dose on the square-root scale before clipping and squaring (for a patient with an age).
  double predict_sqrt(const WarfarinPatient& p) const;
  std::vector<Contribution> contributions(const WarfarinPatient& p) const;
  std::string name() const;  // e.g. "ridge", "iwpc-pharmacogenetic"
  double interval_level() const;
  const FeatureCoding& coding() const;
  // Out-of-fold figures on the training patients (mae, within_20pct) and the chosen settings.
  const nlohmann::json& training_report() const;

  // The IWPC pharmacogenetic formula with imputation values, genotype frequencies and 80 %
  // conformal half-widths measured by `medai dose train --model iwpc-pharmacogenetic` on a random
  // 80 % of the IWPC cohort (seed 1): what `dose recommend` and the server use without a run.
  static DoseModel builtin();

  // RUN/dose_model.json (+ RUN/trees.json for xgboost).
  void save(const std::filesystem::path& run) const;
  static DoseModel load(const std::filesystem::path& run);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace medai::dosing
