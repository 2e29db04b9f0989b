// ROUGE against hand-worked values, dialogue parsing, and the note model on a toy corpus.
#include <gtest/gtest.h>
#include <cstring>

#include "medai/core/error.h"
#include "medai/metrics/rouge.h"
#include "medai/text/clinical_note.h"
#include "support/test_support.h"

using namespace medai;

TEST(Rouge, MatchesHandWorkedValues) {
  // rouge_score's own example: 5 of 6 unigrams, 3 of 5 bigrams, LCS "the cat on the mat".
  const auto s = metrics::rouge("The cat sat on the mat.", "the cat is on the mat");
  EXPECT_NEAR(s.rouge1, 5.0 / 6, 1e-12);
  EXPECT_NEAR(s.rouge2, 0.6, 1e-12);
  EXPECT_NEAR(s.rougeL, 5.0 / 6, 1e-12);
  EXPECT_EQ(metrics::rouge_tokens("76-year-old, HbA1c 7.2%"),
            (std::vector<std::string>{"76", "year", "old", "hba1c", "7", "2"}));
  EXPECT_EQ(metrics::rouge("", "x").rouge1, 0.0);
  EXPECT_EQ(metrics::rouge("a b", "c d").rougeL, 0.0);
}

TEST(ClinicalNote, ParsesTurnsWithContinuationLines) {
  const auto t = text::parse_dialogue("Doctor: Any allergies?\nPatient: No,\n none that I know of.\n\n Doctor: Good.");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].speaker, "doctor");
  EXPECT_EQ(t[1].text, "No, none that I know of.");
  EXPECT_EQ(t[2].speaker, "doctor");
}

TEST(ClinicalNote, WritesSpokenNumbersAndSpelledLettersAsANoteDoes) {
  EXPECT_EQ(text::written_form("I'm twenty six."), "I'm 26.");
  EXPECT_EQ(text::written_form("five hundred M G every eight hours"), "500 MG every 8 hours");
  EXPECT_EQ(text::written_form("August of two thousand eight, in nineteen ninety-five"), "August of 2008, in 1995");
  EXPECT_EQ(text::written_form("one hundred and one"), "100 and one");  // "and" ends the run
  EXPECT_EQ(text::written_form("the one on the left, at A B C store, I V"), "the one on the left, at ABC store, IV");
  EXPECT_EQ(text::written_form("I am fine"), "I am fine");
  EXPECT_EQ(text::written_form(""), "");
  std::string hundreds;
  for (int i = 0; i < 40; ++i) hundreds += "hundred ";
  EXPECT_EQ(text::written_form(hundreds).rfind("1000000000000 ", 0), 0u);  // runs of at most six words
}

TEST(ClinicalNote, LearnsSectionsAndDraftsFromTheDialoguesOwnWords) {
  std::vector<text::NoteExample> ex;
  for (int i = 0; i < 40; ++i) {
    const std::string drug = i % 2 ? "penicillin" : "sulfa";
    ex.push_back({"Doctor: Any allergies to medicines?\nPatient: Um, yes, I am allergic to " + drug + ".", "ALLERGY",
                  "Allergic to " + drug + "."});
    const std::string rel = i % 2 ? "mother" : "father";
    ex.push_back({"Doctor: Any illness in the family?\nPatient: My " + rel + " had diabetes.\nDoctor: Okay, thank you.",
                  "FAM/SOCHX", "Her " + rel + " had diabetes."});
  }
  text::NoteModel::FitReport report;
  const auto m = text::NoteModel::fit(ex, 1, &report);
  EXPECT_EQ(m.sections(), (std::vector<std::string>{"ALLERGY", "FAM/SOCHX"}));
  EXPECT_EQ(report.cutoff_rouge1.size(), 13u);
  EXPECT_GT(report.rouge1_global_cutoff, 0.3);  // every row drafted out of fold
  EXPECT_GT(report.rouge1_section_cutoffs, 0.3);
  // Per-section cut-offs are kept only when they won on the rows their choice did not see.
  EXPECT_EQ(report.section_cutoffs.size(), report.rouge1_section_cutoffs > report.rouge1_global_cutoff ? 2u : 0u);
  const auto d = m.predict("Doctor: Are you allergic to anything?\nPatient: Yes, I am allergic to latex.");
  EXPECT_EQ(d.section, "ALLERGY");
  EXPECT_NE(d.draft.find("latex"), std::string::npos) << d.draft;
  EXPECT_NE(d.draft.find("patient is allergic"), std::string::npos) << d.draft;  // first person rewritten
  EXPECT_EQ(d.draft.find("Um"), std::string::npos) << d.draft;
  const auto f = m.predict("Doctor: Any illness in the family?\nPatient: My brother had asthma.");
  EXPECT_EQ(f.section, "FAM/SOCHX");
  EXPECT_NE(f.draft.find("asthma"), std::string::npos) << f.draft;
  // A closing yes/no question folds into the finding its answer states.
  EXPECT_EQ(m.draft("Doctor: Do you have any allergies?\nPatient: No.", "ALLERGY"), "No allergies.");
  EXPECT_EQ(m.draft("Doctor: Any fever or chills?\nPatient: Yes, some chills.", "ALLERGY").rfind("Fever or chills.", 0),
            0u);

  test::TempDir dir;
  m.save(dir / "m.bin");
  const auto back = text::NoteModel::load(dir / "m.bin");
  EXPECT_EQ(back.predict("Patient: I am allergic to latex.").draft,
            m.predict("Patient: I am allergic to latex.").draft);
  const std::string bytes = test::read_text(dir / "m.bin");
  {  // a format-1 file (no per-section cut-offs after the common one) still loads
    std::string v1 = bytes;
    const std::string magic = "medai.note_model/2";
    v1.replace(v1.find(magic), magic.size(), "medai.note_model/1");
    std::string cut(8, '\0');
    std::memcpy(cut.data(), &report.cutoff, 8);
    const size_t at = v1.find(cut) + 8;
    ASSERT_LT(at, v1.size());
    uint64_t k = 0;
    std::memcpy(&k, v1.data() + at, 8);
    ASSERT_EQ(k, report.section_cutoffs.size());
    v1.erase(at, 8 + 8 * k);
    test::write_text(dir / "v1.bin", v1);
    EXPECT_NE(text::NoteModel::load(dir / "v1.bin").draft("Patient: I am allergic to latex.", "ALLERGY").find("latex"),
              std::string::npos);
  }
  test::write_text(dir / "cut.bin", bytes.substr(0, bytes.size() - 7));
  EXPECT_THROW(text::NoteModel::load(dir / "cut.bin"), Error);
  std::vector<text::NoteExample> one(3, {"Patient: hi", "CC", "hi"});
  EXPECT_THROW(text::NoteModel::fit(one, 1), Error);
}
