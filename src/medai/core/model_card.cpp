#include "medai/core/model_card.h"

#include <algorithm>

#include "medai/core/error.h"
#include "medai/core/run_folder.h"

namespace medai::core {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::vector<std::pair<ModelKind, std::string>> kKinds{
    {ModelKind::Classifier, "classifier"}, {ModelKind::Forecaster, "forecaster"}, {ModelKind::Policy, "policy"},
    {ModelKind::Segmenter, "segmenter"},   {ModelKind::Molecule, "molecule"},     {ModelKind::Generator, "generator"},
    {ModelKind::Dosing, "dosing"}};

// The kind a card of medai 0.1 (no 'kind' field) had, from its task.
ModelKind kind_of_task(const std::string& task) {
  if (task == "glucose-forecast") return ModelKind::Forecaster;
  if (task == "glucose-ppo") return ModelKind::Policy;
  return ModelKind::Classifier;
}

std::vector<std::string> string_list(const json& card, const std::string& key, const std::string& where) {
  if (!card.contains(key)) return {};
  const json& v = card[key];
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) fail_invalid(where + ": '" + key + "' must be a string or a list of strings");
  std::vector<std::string> out;
  for (const auto& s : v) {
    if (!s.is_string()) fail_invalid(where + ": '" + key + "' must hold strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

json object_or_empty(const json& card, const std::string& key, const std::string& where) {
  if (!card.contains(key)) return json::object();
  if (!card[key].is_object()) fail_invalid(where + ": '" + key + "' must be an object");
  return card[key];
}

std::string optional_string(const json& card, const std::string& key, const std::string& where) {
  return card.contains(key) ? json_string(card, key, where) : std::string();
}

}  // namespace

std::string kind_name(ModelKind kind) {
  for (const auto& [k, n] : kKinds)
    if (k == kind) return n;
  return "unknown";
}

ModelCardCore ModelCardCore::fresh(const fs::path& run_dir, ModelKind kind, std::string task) {
  ModelCardCore c;
  c.name = fs::absolute(run_dir).lexically_normal().filename().string();
  if (c.name.empty()) c.name = fs::absolute(run_dir).lexically_normal().parent_path().filename().string();
  c.kind = kind;
  c.task = std::move(task);
  c.created = utc_timestamp();
  c.software = software_versions();
  return c;
}

void ModelCardCore::write(json& card) const {
  card["schema"] = schema;
  card["name"] = name;
  card["kind"] = kind_name(kind);
  card["task"] = task;
  card["created"] = created;
  card["architecture"] = architecture;
  json in = json::array();
  for (const auto& i : inputs) in.push_back({{"name", i.name}, {"description", i.description}, {"units", i.units}});
  card["inputs"] = in;
  card["preprocessing"] = preprocessing;
  card["training"] = training;
  card["data"] = data;
  card["split"] = split;
  card["metrics"] = metrics;
  card["intended_use"] = intended_use;
  card["limitations"] = limitations;
  card["software"] = software;
}

ModelCardCore ModelCardCore::read(const json& card, const std::string& where) {
  if (!card.is_object()) fail_invalid(where + ": a model card must be a JSON object");
  ModelCardCore c;
  c.schema = card.contains("schema") ? json_string(card, "schema", where) : std::string(kModelCardSchema);
  if (c.schema != kModelCardSchema)
    fail_unsupported(where + ": model card schema '" + c.schema + "' is not " + kModelCardSchema);
  c.task = optional_string(card, "task", where);
  if (card.contains("kind")) {
    const std::string k = json_string(card, "kind", where);
    auto it = std::find_if(kKinds.begin(), kKinds.end(), [&](const auto& p) { return p.second == k; });
    if (it == kKinds.end()) fail_invalid(where + ": unknown model kind '" + k + "'");
    c.kind = it->first;
  } else {
    c.kind = kind_of_task(c.task);
  }
  c.name = card.contains("name") ? json_string(card, "name", where) : fs::path(where).parent_path().filename().string();
  c.created = optional_string(card, "created", where);
  c.architecture = optional_string(card, "architecture", where);
  if (card.contains("inputs") && card["inputs"].is_array()) {
    for (const auto& i : card["inputs"]) {
      if (!i.is_object()) fail_invalid(where + ": 'inputs' must hold objects {name, description, units}");
      c.inputs.push_back({optional_string(i, "name", where), optional_string(i, "description", where),
                          optional_string(i, "units", where)});
    }
  } else if (card.contains("inputs")) {
    c.inputs.push_back({"inputs", json_string(card, "inputs", where), ""});
  }
  c.preprocessing = object_or_empty(card, "preprocessing", where);
  c.training = object_or_empty(card, "training", where);
  c.data = object_or_empty(card, "data", where);
  c.split = object_or_empty(card, "split", where);
  c.metrics = object_or_empty(card, "metrics", where);
  c.intended_use = optional_string(card, "intended_use", where);
  c.limitations = string_list(card, card.contains("limitations") ? "limitations" : "limits", where);
  c.software = object_or_empty(card, "software", where);
  return c;
}

json card_extras(const json& card, const std::vector<std::string>& known) {
  static const std::vector<std::string> kCore{
      "schema",   "name", "kind",  "task",    "created",      "architecture", "inputs", "preprocessing",
      "training", "data", "split", "metrics", "intended_use", "limitations",  "limits", "software"};
  json extra = json::object();
  for (const auto& [k, v] : card.items())
    if (std::find(kCore.begin(), kCore.end(), k) == kCore.end() &&
        std::find(known.begin(), known.end(), k) == known.end())
      extra[k] = v;
  return extra;
}

}  // namespace medai::core
