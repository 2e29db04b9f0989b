#pragma once
// Dialogue -> clinical-note section (MTS-Dialog layout): which of the note's sections a
// doctor-patient conversation supports, and an extractive draft of that section's text.
//
// The section comes from TF-IDF (1-2 grams) + balanced logistic regression on the dialogue, its C
// chosen by 5-fold cross-validation on the training rows. The draft is the conversation's own
// clauses, never text from another patient: in written form (spoken numbers as digits, spelled
// letters joined), fillers at the start of a turn dropped, the patient's first person rewritten to
// "the patient", a closing "any X?"-question and its yes/no answer folded into "X" / "no X"
// (other questions count half), and a clause kept when its words are, on average,
// likely to reach the note of that section (how often each word of a training dialogue occurs in
// its note, per section with a backoff to all sections). The cut-off is tuned on the training rows
// drafted out of fold, per section when that wins on folds the choice did not see. It is not an abstractive model: the
// draft reads like the conversation, not like a note, and anything it states was said in the conversation.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "medai/text/text_classification.h"

namespace medai::text {

struct DialogueTurn {
  std::string speaker;  // lower-cased label before the colon ("doctor", "patient"), "" without one
  std::string text;
};
// One turn per line "Speaker: text"; a line without a short label continues the previous turn.
std::vector<DialogueTurn> parse_dialogue(std::string_view dialogue);

// Speech as a note writes it: spoken numbers as digits ("twenty six" -> "26", "two thousand nine"
// -> "2009", "nineteen ninety five" -> "1995"; a lone "one" stays a word) and spelled-out letters
// joined ("M G" -> "MG", "A B C" -> "ABC").
std::string written_form(const std::string& text);

struct NoteExample {
  std::string dialogue, section, note;
};

struct NoteDraft {
  std::string section;
  double probability = 0;                           // of that section
  std::vector<std::pair<std::string, double>> top;  // the three likeliest sections
  std::string draft;
};

class NoteModel {
 public:
  struct FitReport {
    std::vector<std::pair<double, double>> c_accuracy;     // cross-validated section accuracy per C
    std::vector<std::pair<double, double>> cutoff_rouge1;  // out-of-fold ROUGE-1 per clause cut-off
    double c = 0, cutoff = 0;
    // Out-of-fold ROUGE-1 of one cut-off for all and of per-section cut-offs, each chosen on the
    // other folds; the per-section ones are kept (section_cutoffs) only when they score higher.
    double rouge1_global_cutoff = 0, rouge1_section_cutoffs = 0;
    std::vector<std::pair<std::string, double>> section_cutoffs;
  };
  // fixed_c > 0 fixes the regularisation (the cross-validated accuracy is still reported); 0 chooses it.
  static NoteModel fit(const std::vector<NoteExample>& examples, uint64_t seed, FitReport* report = nullptr,
                       double fixed_c = 0);
  NoteDraft predict(const std::string& dialogue) const;
  std::string draft(const std::string& dialogue, const std::string& section) const;
  const std::vector<std::string>& sections() const { return section_.classes(); }
  void save(const std::filesystem::path& path) const;
  static NoteModel load(const std::filesystem::path& path);

 private:
  struct Counts {
    uint32_t in_note = 0, seen = 0;
  };
  using KeepTable = std::unordered_map<std::string, Counts>;
  struct ScoredClause {
    std::string text;
    double score;  // mean keep probability of its content words
  };
  void count_words(const std::vector<NoteExample>& examples);
  void choose_cutoffs(const std::vector<NoteExample>& examples, const std::vector<int>& fold, FitReport& r);
  std::vector<ScoredClause> scored_clauses(const std::string& dialogue, int section) const;
  static std::string assemble(const std::vector<ScoredClause>& clauses, double cutoff);
  double keep_probability(const std::string& word, int section) const;
  int section_index(const std::string& section) const;

  TfidfTextClassifier section_;
  KeepTable keep_;                       // over all sections
  std::vector<KeepTable> keep_section_;  // per section
  double cutoff_ = 0.2;
  std::vector<double> section_cutoff_;  // per section when they won out of fold, else empty
};

}  // namespace medai::text
