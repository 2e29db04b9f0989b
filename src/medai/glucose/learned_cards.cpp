#include "medai/glucose/learned_cards.h"

#include "medai/core/error.h"
#include "medai/core/run_folder.h"

namespace medai::glucose {

using nlohmann::json;

namespace {
void check_task(const core::ModelCardCore& c, core::ModelKind kind, const char* task, const std::string& where,
                const char* what) {
  if (c.kind != kind || c.task != task) fail_invalid(where + ": model card task is '" + c.task + "', not " + what);
}
}  // namespace

json ForecasterCard::to_json() const {
  json card = extra;
  core.write(card);
  card["history"] = history;
  card["hidden"] = hidden;
  card["layers"] = layers;
  card["ensemble"] = ensemble;
  card["dropout"] = dropout;
  card["time_of_day"] = time_of_day;
  card["insulin_and_carbs"] = insulin_and_carbs;
  card["outputs"] = outputs;
  card["ridge_baseline"] = ridge_baseline;
  return card;
}

ForecasterCard ForecasterCard::from_json(const json& card, const std::string& where) {
  ForecasterCard c;
  c.core = core::ModelCardCore::read(card, where);
  check_task(c.core, core::ModelKind::Forecaster, kForecasterTask, where, "a glucose forecaster");
  c.history = core::json_int(card, "history", where, 2, 10000);
  c.time_of_day = core::json_bool(card, "time_of_day", where, true);
  c.insulin_and_carbs = core::json_bool(card, "insulin_and_carbs", where, false);
  c.ensemble = card.contains("ensemble") ? core::json_int(card, "ensemble", where, 1, 32) : 1;
  c.hidden = core::json_int(card, "hidden", where, 1, 4096);
  c.layers = core::json_int(card, "layers", where, 1, 16);
  c.dropout = card.contains("dropout") ? core::json_number(card, "dropout", where, 0, 1) : 0.0;
  c.outputs = card.contains("outputs") ? core::json_string(card, "outputs", where) : "";
  if (card.contains("ridge_baseline")) {
    if (!card["ridge_baseline"].is_object()) fail_invalid(where + ": 'ridge_baseline' must be an object");
    c.ridge_baseline = card["ridge_baseline"];
  }
  c.extra = core::card_extras(card, {"history", "hidden", "layers", "ensemble", "dropout", "time_of_day",
                                     "insulin_and_carbs", "outputs", "ridge_baseline"});
  return c;
}

json PolicyCard::to_json() const {
  json card = extra;
  core.write(card);
  card["hidden"] = hidden;
  return card;
}

PolicyCard PolicyCard::from_json(const json& card, const std::string& where) {
  PolicyCard c;
  c.core = core::ModelCardCore::read(card, where);
  check_task(c.core, core::ModelKind::Policy, kPolicyTask, where, "a PPO insulin policy");
  c.hidden = card.contains("hidden") ? core::json_int(card, "hidden", where, 1, 4096) : 64;
  c.extra = core::card_extras(card, {"hidden"});
  return c;
}

}  // namespace medai::glucose
