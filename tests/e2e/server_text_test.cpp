// The clinical text routes of `medai serve`: de-identification first, answers with sources,
// dialogue -> note, classification, and what the audit trail keeps.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <tuple>

#include "server_support.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace medai;
using test::Server;
using test::token;
using test::train_text_models;

std::string test::train_text_models(const fs::path& dir) {
  std::string qa = "question,answer,url,focus\n";
  for (const char* t : {"asthma", "gout", "anemia", "psoriasis", "glaucoma", "migraine"}) {
    const std::string T = t;
    qa += "What is " + T + "?," + T + " is a long-term condition described here.,https://x/" + T + "," + T + "\n";
    qa += "What are the symptoms of " + T + "?,The symptoms of " + T + " include signs listed here.,https://x/" + T +
          "/s," + T + "\n";
  }
  test::write_text(dir / "qa.csv", qa);
  std::string notes = "dialogue,section_header,section_text\n";
  for (int i = 0; i < 30; ++i) {
    const std::string drug = i % 2 ? "penicillin" : "sulfa", rel = i % 2 ? "mother" : "father";
    notes += "\"Doctor: Any allergies?\nPatient: I am allergic to " + drug + ".\",ALLERGY,Allergic to " + drug + ".\n";
    notes += "\"Doctor: Any illness in the family?\nPatient: My " + rel + " had diabetes.\",FAM/SOCHX,Her " + rel +
             " had diabetes.\n";
  }
  test::write_text(dir / "notes.csv", notes);
  std::string labelled = "text,label\n";
  for (int i = 0; i < 30; ++i)
    labelled += std::string(i % 2 ? "rash itch skin" : "cough fever chest") + " case,c" + std::to_string(i % 2) + "\n";
  test::write_text(dir / "labelled.csv", labelled);
  for (const std::string& cmd :
       {"text index --data " + test::quote(dir / "qa.csv") + " --out " + test::quote(dir / "ix"),
        "text note-train --data " + test::quote(dir / "notes.csv") + " --out " + test::quote(dir / "note"),
        "text train --data " + test::quote(dir / "labelled.csv") + " --text-col text --label-col label --out " +
            test::quote(dir / "cls")}) {
    auto r = test::run_medai(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.err;
  }
  return "--text-index " + test::quote(dir / "ix") + " --note-model " + test::quote(dir / "note") +
         " --text-classifier " + test::quote(dir / "cls");
}

TEST(Server, TextRoutesDeidentifyFirstAnswerWithSourcesAndDraftNotes) {
  test::TempDir dir;
  const std::string flags = train_text_models(dir.path());
  const std::string clin = token(dir.path(), "clinician");
  Server s(dir.path(), flags);
  ASSERT_GT(s.port(), 0);
  const auto post = [&](const std::string& path, const json& body) {
    test::write_text(dir / "req.json", body.dump());
    return s.call("POST", path, clin, (dir / "req.json").string(), "application/json");
  };
  auto [code, out] = post("/v1/text/deid", {{"text", "Mr. John Smith, MRN 00482913, seen 03/14/2021."}});
  ASSERT_EQ(code, 200) << out;
  EXPECT_EQ(json::parse(out)["text"], "Mr. [NAME-1], MRN [ID-1], seen [DATE-1].");

  std::tie(code, out) =
      post("/v1/text/ask", {{"question", "What are the symptoms of gout? I am Mary Jones."}, {"min_confidence", 0}});
  ASSERT_EQ(code, 200) << out;
  auto j = json::parse(out);
  ASSERT_FALSE(j["answers"].empty()) << out;
  EXPECT_EQ(j["answers"][0]["focus"], "gout");
  EXPECT_EQ(j["answers"][0]["url"], "https://x/gout/s");
  EXPECT_EQ(out.find("Mary"), std::string::npos) << "the question is de-identified first";
  std::tie(code, out) = post("/v1/text/ask", {{"question", "how do I fix a gearbox"}});
  ASSERT_EQ(code, 200) << out;
  EXPECT_FALSE(json::parse(out)["trusted"].get<bool>());
  EXPECT_TRUE(json::parse(out)["answers"].empty());

  std::tie(code, out) =
      post("/v1/text/note", {{"dialogue", "Doctor: Any allergies, Mrs. Garcia?\nPatient: I am allergic to latex."}});
  ASSERT_EQ(code, 200) << out;
  j = json::parse(out);
  EXPECT_EQ(j["section"], "ALLERGY");
  EXPECT_NE(j["draft"].get<std::string>().find("latex"), std::string::npos) << out;
  EXPECT_EQ(out.find("Garcia"), std::string::npos) << out;

  std::tie(code, out) = post("/v1/text/classify", {{"text", "itchy rash on the skin"}});
  ASSERT_EQ(code, 200) << out;
  EXPECT_EQ(json::parse(out)["label"], "c1");

  // Bad input: a missing field, non-UTF-8 text, no token; a server without a model says which flag.
  EXPECT_EQ(post("/v1/text/note", {{"text", "x"}}).first, 400);
  test::write_text(dir / "bad.json", "{\"text\": \"\xff\"}");
  EXPECT_EQ(s.call("POST", "/v1/text/deid", clin, (dir / "bad.json").string(), "application/json").first, 400);
  EXPECT_EQ(s.call("POST", "/v1/text/deid", "", (dir / "req.json").string(), "application/json").first, 401);
  s.stop();
  Server bare(dir.path());
  test::write_text(dir / "req.json", json{{"question", "gout"}}.dump());
  auto r = bare.call("POST", "/v1/text/ask", clin, (dir / "req.json").string(), "application/json");
  EXPECT_EQ(r.first, 404);
  EXPECT_NE(r.second.find("--text-index"), std::string::npos) << r.second;
  bare.stop();

  auto exp = test::run_medai("audit export --format json --db " + test::quote(dir / "medai.db"));
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  EXPECT_NE(exp.out.find("text_note"), std::string::npos);
  for (const char* name : {"Smith", "Mary", "Garcia", "latex", "00482913"})
    EXPECT_EQ(exp.out.find(name), std::string::npos) << name << " in the audit trail";
}
