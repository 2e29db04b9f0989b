// Typed model cards: cards written by medai 0.1 (tests/fixtures/model_cards_0.1, from the same-seed
// runs of bench/run_same_seed_check.sh) still load, a round trip keeps every field, and bad cards
// are refused naming the field.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/glucose/learned_cards.h"
#include "medai/imaging/classifier_card.h"

namespace medai {
namespace {

using nlohmann::json;

json fixture(const std::string& name) {
  const char* src = std::getenv("MEDAI_SOURCE_DIR");
  return core::read_json_file(std::filesystem::path(src ? src : ".") / "tests/fixtures/model_cards_0.1" / name);
}

void expect_error(const std::function<void()>& f, const std::string& text) {
  try {
    f();
    ADD_FAILURE() << "no error; expected: " << text;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(ModelCards, AClassifierCardOfMedai01LoadsAndRoundTrips) {
  const json old = fixture("cls.json");
  auto c = imaging::ClassifierCard::from_json(old, "cls.json");
  EXPECT_EQ(c.core.kind, core::ModelKind::Classifier);
  EXPECT_EQ(c.classes, (std::vector<std::string>{"NORMAL", "PNEUMONIA"}));
  EXPECT_EQ(c.image_size, 64);
  EXPECT_EQ(c.calibration.logit_offsets.size(), 2u);
  EXPECT_EQ(c.core.limitations.size(), 5u);
  EXPECT_TRUE(c.extra.contains("training_run"));
  const json again = c.to_json();
  for (const char* key : {"classes", "positive_index", "preprocessing", "operating_point", "calibration", "training",
                          "training_run", "data", "split", "metrics", "limitations", "intended_use", "software"})
    EXPECT_EQ(again[key], old[key]) << key;
  EXPECT_EQ(again["kind"], "classifier");
  EXPECT_EQ(imaging::ClassifierCard::from_json(again, "again").to_json(), again);
}

TEST(ModelCards, ForecasterAndPolicyCardsOfMedai01LoadWithLimitsAsLimitations) {
  const json fc = fixture("fc.json");
  auto f = glucose::ForecasterCard::from_json(fc, "fc.json");
  EXPECT_EQ(f.history, fc["history"].get<int>());
  EXPECT_EQ(f.ensemble, 2);
  ASSERT_EQ(f.core.limitations.size(), 1u);
  EXPECT_EQ(f.core.limitations[0], fc["limits"].get<std::string>());
  ASSERT_EQ(f.core.inputs.size(), 1u);  // one description string then
  EXPECT_EQ(f.to_json()["ridge_baseline"], fc["ridge_baseline"]);
  EXPECT_EQ(f.to_json()["test"], fc["test"]);
  const json ppo = fixture("ppo.json");
  auto p = glucose::PolicyCard::from_json(ppo, "ppo.json");
  EXPECT_EQ(p.hidden, 32);
  EXPECT_EQ(p.to_json()["evaluation"], ppo["evaluation"]);
  EXPECT_EQ(p.to_json()["kind"], "policy");
}

TEST(ModelCards, AWrongKindOrBadFieldIsRefusedByName) {
  expect_error([] { glucose::PolicyCard::from_json(fixture("fc.json"), "fc.json"); }, "not a PPO insulin policy");
  expect_error([] { imaging::ClassifierCard::from_json(fixture("ppo.json"), "ppo.json"); }, "not an image classifier");
  json c = fixture("cls.json");
  c["operating_point"]["threshold"] = 1.5;
  expect_error([&] { imaging::ClassifierCard::from_json(c, "c.json"); }, "operating_point.threshold");
  c = fixture("cls.json");
  c["schema"] = "medai.model_card/9";
  expect_error([&] { imaging::ClassifierCard::from_json(c, "c.json"); }, "medai.model_card/9");
  c = fixture("cls.json");
  c["limitations"] = {1, 2};
  expect_error([&] { imaging::ClassifierCard::from_json(c, "c.json"); }, "'limitations' must hold strings");
  json f = fixture("fc.json");
  f["kind"] = "forecaster";
  f["hidden"] = "64";
  expect_error([&] { glucose::ForecasterCard::from_json(f, "f.json"); }, "hidden");
}

}  // namespace
}  // namespace medai
