#include "medai/dosing/recommend.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "medai/core/error.h"
#include "medai/dosing/iwpc.h"

namespace medai::dosing {

using nlohmann::json;

namespace {

double dose_of(const DoseModel& m, const WarfarinPatient& p) {
  return std::clamp(std::pow(std::max(0.0, m.predict_sqrt(p)), 2), kMinDose, kMaxDose);
}

json genotype_effect(const DoseModel& m, const WarfarinPatient& p, double dose) {
  const bool vk_known = p.vkorc1 != Vkorc1::Unknown, cyp_known = p.cyp2c9 != Cyp2c9::Unknown;
  if (vk_known && cyp_known) {
    WarfarinPatient q = p;
    q.vkorc1 = Vkorc1::Unknown;
    q.cyp2c9 = Cyp2c9::Unknown;
    const double untyped = dose_of(m, q);
    return {{"typed", true},
            {"dose_if_untyped_mg_week", untyped},
            {"change_from_genotype_mg_week", dose - untyped},
            {"note", "VKORC1 and CYP2C9 are known; this is what the genotypes changed"}};
  }
  const int race = static_cast<int>(p.race);
  const auto& c = m.coding();
  struct Outcome {
    double dose, weight;
    std::string genotype;
  };
  std::vector<Outcome> outcomes;
  for (int v = 0; v < 3; ++v) {
    if (vk_known && v != static_cast<int>(p.vkorc1)) continue;
    for (int k = 0; k < 6; ++k) {
      if (cyp_known && k != static_cast<int>(p.cyp2c9)) continue;
      WarfarinPatient q = p;
      q.vkorc1 = static_cast<Vkorc1>(v);
      q.cyp2c9 = static_cast<Cyp2c9>(k);
      const double w = (vk_known ? 1.0 : c.vkorc1_freq[race][v]) * (cyp_known ? 1.0 : c.cyp2c9_freq[race][k]);
      outcomes.push_back({dose_of(m, q), w, "VKORC1 " + vkorc1_name(q.vkorc1) + ", CYP2C9 " + cyp2c9_name(q.cyp2c9)});
    }
  }
  json untyped = json::array();
  if (!vk_known) untyped.push_back("VKORC1");
  if (!cyp_known) untyped.push_back("CYP2C9");
  std::sort(outcomes.begin(), outcomes.end(), [](const Outcome& a, const Outcome& b) { return a.dose < b.dose; });
  double total = 0, other_band = 0;
  for (const auto& o : outcomes) total += o.weight;
  auto quantile = [&](double q) {
    double acc = 0;
    for (const auto& o : outcomes)
      if ((acc += o.weight / total) >= q) return o.dose;
    return outcomes.back().dose;
  };
  json rows = json::array();
  for (const auto& o : outcomes) {
    if (dose_bucket(o.dose) != dose_bucket(dose)) other_band += o.weight / total;
    if (o.weight / total >= 0.01)
      rows.push_back({{"genotype", o.genotype}, {"dose_mg_week", o.dose}, {"probability", o.weight / total}});
  }
  return {{"typed", false},
          {"untyped", untyped},
          {"dose_range_10_90_mg_week", {quantile(0.1), quantile(0.9)}},
          {"probability_other_dose_band", other_band},
          {"by_genotype", rows},
          {"note", "genotype frequencies of training patients of the same race; a test would pick one row"}};
}

}  // namespace

json recommend_dose(const DoseModel& model, const WarfarinPatient& p) {
  std::string why;
  const auto pred = model.predict(p, &why);
  if (!pred) fail_invalid("no recommendation: " + why);
  json warnings = json::array();
  for (const auto& f : pred->imputed)
    warnings.push_back(f + " was not given: imputed from patients of the same sex and race (wider interval)");
  if (p.vkorc1 == Vkorc1::Unknown || p.cyp2c9 == Cyp2c9::Unknown)
    warnings.push_back("genotype incomplete: the interval is that of patients with missing data");
  if (pred->clipped)
    warnings.push_back("the model's dose " + std::to_string(pred->unclipped).substr(0, 5) +
                       " mg/week was outside the plausible starting range and was limited to it");
  json contributions = json::array();
  for (const auto& c : model.contributions(p))
    contributions.push_back({{"feature", c.feature}, {"value", c.value}, {"mg_week", c.mg_week}});
  json out = {{"dose_mg_week", pred->dose},
              {"dose_mg_day", pred->dose / 7},
              {"interval_mg_week", {pred->lower, pred->upper}},
              {"interval_level", model.interval_level()},
              {"dose_band", bucket_name(dose_bucket(pred->dose))},
              {"model", model.name()},
              {"imputed", pred->imputed},
              {"contributions", contributions},
              {"genotype_test", genotype_effect(model, p, pred->dose)},
              {"warnings", warnings},
              {"patient", patient_to_json(p)},
              {"plausible_range_mg_week", {kMinDose, kMaxDose}},
              {"intended_use",
               "decision support for a clinician choosing a warfarin starting dose; INR monitoring "
               "and titration remain necessary; not for use without clinical judgement"}};
  return out;
}

}  // namespace medai::dosing
