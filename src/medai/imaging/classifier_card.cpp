#include "medai/imaging/classifier_card.h"

#include <cmath>

#include "medai/core/error.h"
#include "medai/core/run_folder.h"

namespace medai::imaging {

using nlohmann::json;

namespace {
constexpr int kMinSize = 32;  // nn::kMinInputSize: five stride-2 stages leave at least one pixel
}  // namespace

json ClassifierCard::to_json() const {
  json card = extra;
  core::ModelCardCore c = core;
  c.preprocessing["size"] = image_size;
  c.preprocessing["channels"] = channels;
  c.preprocessing["steps"] = preprocessing_steps;
  c.write(card);
  card["classes"] = classes;
  card["positive_index"] = positive_index;
  card["positive_class"] = classes.at(positive_index);
  json op = {{"threshold", operating_point.threshold},
             {"method", operating_point.method},
             {"target_sensitivity",
              operating_point.target_sensitivity ? json(*operating_point.target_sensitivity) : json(nullptr)}};
  if (!operating_point.chosen_on.empty()) op["chosen_on"] = operating_point.chosen_on;
  if (operating_point.threshold_ci)
    op["threshold_ci95"] = {operating_point.threshold_ci->first, operating_point.threshold_ci->second};
  card["operating_point"] = op;
  json cal = calibration.report;
  cal["method"] = calibration.method;
  cal["temperature"] = calibration.temperature;
  if (!calibration.logit_offsets.empty()) cal["logit_offsets"] = calibration.logit_offsets;
  if (calibration.prevalence) cal["prevalence"] = *calibration.prevalence;
  card["calibration"] = cal;
  if (guard.present) {
    json g = guard.report;
    g["file"] = kGuardFile;
    g["threshold"] = guard.threshold;
    g["dim"] = guard.dim;
    g["expected"] = guard.expected.to_json();
    card["ood_guard"] = g;
  }
  return card;
}

std::optional<double> ClassifierCard::prior() const {
  if (calibration.prevalence) return calibration.prevalence;
  const json& counts = core.data.contains("class_counts") ? core.data["class_counts"] : json();
  if (!counts.is_array() || counts.size() != classes.size()) return std::nullopt;
  double total = 0, pos = 0;
  for (size_t k = 0; k < counts.size(); ++k) {
    if (!counts[k].is_number()) return std::nullopt;
    total += counts[k].get<double>();
    if (static_cast<int>(k) == positive_index) pos = counts[k].get<double>();
  }
  if (!(total > 0 && pos > 0 && pos < total)) return std::nullopt;
  return pos / total;
}

double ClassifierCard::require_prior() const {
  const auto p = prior();
  if (!p)
    fail_invalid("the model card does not record the prevalence it was calibrated at; retrain to use --prevalence");
  return *p;
}

ClassifierCard ClassifierCard::from_json(const json& card, const std::string& where) {
  ClassifierCard c;
  c.core = core::ModelCardCore::read(card, where);
  if (c.core.kind != core::ModelKind::Classifier)
    fail_invalid(where + ": model card task is '" + c.core.task + "', not an image classifier");
  if (c.core.architecture.empty()) fail_invalid(where + ": 'architecture' is missing");
  c.channels = core::json_int(card, "preprocessing.channels", where, 1, 3);
  c.image_size = core::json_int(card, "preprocessing.size", where, kMinSize, 4096);
  if (card["preprocessing"].contains("steps") && card["preprocessing"]["steps"].is_array())
    for (const auto& s : card["preprocessing"]["steps"])
      if (s.is_string()) c.preprocessing_steps.push_back(s.get<std::string>());
  const auto& names = card.contains("classes") ? card["classes"] : json();
  if (!names.is_array() || names.size() < 2 || names.size() > 1000)
    fail_invalid(where + ": 'classes' must list 2 to 1000 class names");
  for (const auto& n : names) {
    if (!n.is_string()) fail_invalid(where + ": 'classes' must hold strings");
    c.classes.push_back(n.get<std::string>());
  }
  const int classes = static_cast<int>(c.classes.size());
  c.positive_index =
      card.contains("positive_index") ? core::json_int(card, "positive_index", where, 0, classes - 1) : 1;
  c.operating_point.threshold = core::json_number(card, "operating_point.threshold", where, 0, 1);
  const json& op = card["operating_point"];
  if (op.contains("method") && op["method"].is_string()) c.operating_point.method = op["method"];
  if (op.contains("chosen_on") && op["chosen_on"].is_string()) c.operating_point.chosen_on = op["chosen_on"];
  if (op.contains("threshold_ci95") && op["threshold_ci95"].is_array() && op["threshold_ci95"].size() == 2 &&
      op["threshold_ci95"][0].is_number() && op["threshold_ci95"][1].is_number())
    c.operating_point.threshold_ci = {op["threshold_ci95"][0].get<double>(), op["threshold_ci95"][1].get<double>()};
  if (op.contains("target_sensitivity") && !op["target_sensitivity"].is_null())
    c.operating_point.target_sensitivity = core::json_number(card, "operating_point.target_sensitivity", where, 0, 1);
  c.calibration.temperature = core::json_number(card, "calibration.temperature", where, 1e-3, 1e3);
  if (card["calibration"].contains("prevalence"))
    c.calibration.prevalence = core::json_number(card, "calibration.prevalence", where, 1e-6, 1 - 1e-6);
  const json& cal = card["calibration"];
  if (cal.contains("method") && cal["method"].is_string()) c.calibration.method = cal["method"];
  if (cal.contains("logit_offsets")) {
    const json& off = cal["logit_offsets"];
    if (!off.is_array() || static_cast<int>(off.size()) != classes)
      fail_invalid(where + ": 'calibration.logit_offsets' must hold one number per class");
    for (const auto& x : off) {
      if (!x.is_number() || !std::isfinite(x.get<double>()))
        fail_invalid(where + ": 'calibration.logit_offsets' must hold finite numbers");
      c.calibration.logit_offsets.push_back(x.get<double>());
    }
  }
  for (const auto& [k, v] : cal.items())
    if (k != "method" && k != "temperature" && k != "logit_offsets" && k != "prevalence") c.calibration.report[k] = v;
  if (card.contains("ood_guard")) {
    const json& g = card["ood_guard"];
    if (!g.is_object()) fail_invalid(where + ": 'ood_guard' must be an object");
    c.guard.present = true;
    c.guard.threshold = core::json_number(card, "ood_guard.threshold", where, 0, 1e12);
    c.guard.dim = core::json_int(card, "ood_guard.dim", where, 1, 1 << 16);
    c.guard.expected = g.contains("expected") ? Expected::from_json(g["expected"], where + " ood_guard") : Expected{};
    for (const auto& [k, v] : g.items())
      if (k != "threshold" && k != "dim" && k != "expected" && k != "file") c.guard.report[k] = v;
  }
  c.extra = core::card_extras(
      card, {"classes", "positive_index", "positive_class", "operating_point", "calibration", "ood_guard"});
  return c;
}

}  // namespace medai::imaging
