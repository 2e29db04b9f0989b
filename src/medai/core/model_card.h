#pragma once
// Typed model cards: the fields every card shares (this file) and one struct per kind that adds
// its own (imaging/classifier_card.h, glucose/forecaster_card.h, glucose/policy_card.h). Cards
// are read, validated and written only through these types; docs/model_card.md is the schema.
// Sections that are reports rather than settings (training options, split details, metrics with
// CIs) are JSON objects inside the types: they are written as given and read back verbatim.
// (This header includes the full nlohmann/json: the card types hold JSON sections by value.)
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace medai::core {

inline constexpr const char* kModelCardSchema = "medai.model_card/1";

// Molecule: a molecular property model (chem/); Generator: a SMILES language model (chem/).
// Dosing: a warfarin dose model (dosing/, medai dose train).
enum class ModelKind {
  Classifier,
  Forecaster,
  Policy,
  Segmenter,
  Molecule,
  Generator,
  Dosing
};  // next: text, survival
std::string kind_name(ModelKind kind);

struct CardInput {
  std::string name, description, units;  // e.g. "cgm", "last 24 readings 5 min apart", "mg/dL"
};

struct ModelCardCore {
  std::string schema = kModelCardSchema;
  std::string name;  // the run folder's name
  ModelKind kind = ModelKind::Classifier;
  std::string task;          // what loaders check: "binary image classification", "glucose-forecast", "glucose-ppo"
  std::string created;       // UTC, ISO 8601
  std::string architecture;  // human-readable network description
  std::vector<CardInput> inputs;
  nlohmann::json preprocessing = nlohmann::json::object();
  nlohmann::json training = nlohmann::json::object();  // every setting it was trained with
  nlohmann::json data = nlohmann::json::object();      // source, fingerprint, counts
  nlohmann::json split = nlohmann::json::object();     // how train/validation/test were formed
  nlohmann::json metrics = nlohmann::json::object();   // by split, with confidence intervals
  std::string intended_use;
  std::vector<std::string> limitations;
  nlohmann::json software = nlohmann::json::object();  // versions that made it

  // A new card's core: schema, name (the folder's), kind, task, created now, software versions.
  static ModelCardCore fresh(const std::filesystem::path& run_dir, ModelKind kind, std::string task);
  // Writes the core fields into `card` (other keys are left alone).
  void write(nlohmann::json& card) const;
  // Reads and checks the core of `card` (`where` names the file in errors). Cards written by
  // medai 0.1 before the schema was typed still load: kind follows from the task, `limits` (one
  // string) is read as limitations, `inputs` as one description, a missing name is the folder's.
  // The kind's own reader checks kind and task.
  static ModelCardCore read(const nlohmann::json& card, const std::string& where);
};

// Keys of `card` outside `known`, copied (report sections kept verbatim on a round trip).
nlohmann::json card_extras(const nlohmann::json& card, const std::vector<std::string>& known);

}  // namespace medai::core
