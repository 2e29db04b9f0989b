#include "medai/text/clinical_note.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <regex>
#include <unordered_set>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/io/binary_io.h"
#include "medai/metrics/rouge.h"
#include "medai/text/text_util.h"

namespace medai::text {

namespace {

constexpr const char* kMagic = "medai.note_model/1";

// Word 1-2 grams plus character 2-5 grams inside words (misspellings and morphology in speech).
TfidfOptions section_features() {
  TfidfOptions o;
  o.char_min = 2;
  o.char_max = 5;
  return o;
}

std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1));
}

// Fillers at the start of a clause; "yes", "no" and "right" carry meaning and stay.
const std::regex& leading_fillers() {
  static const std::regex r("^(?:(?:um+|uh+|hmm+|mm+|okay|ok|oh|alright|all right|well|so|yeah|great)[,.!]?\\s+)+",
                            std::regex::icase);
  return r;
}

// The patient's first person as the note's third person.
std::string third_person(std::string s) {
  static const std::vector<std::pair<std::regex, std::string>> kRules = [] {
    std::vector<std::pair<std::regex, std::string>> v;
    for (const auto& [from, to] :
         std::vector<std::pair<const char*, const char*>>{{"\\bI am\\b", "the patient is"},
                                                          {"\\bI'm\\b", "the patient is"},
                                                          {"\\bI've\\b", "the patient has"},
                                                          {"\\bI have\\b", "the patient has"},
                                                          {"\\bI don't\\b", "the patient does not"},
                                                          {"\\bI do not\\b", "the patient does not"},
                                                          {"\\bI didn't\\b", "the patient did not"},
                                                          {"\\bI do\\b", "the patient does"},
                                                          {"\\bI was\\b", "the patient was"},
                                                          {"\\bI'll\\b", "the patient will"},
                                                          {"\\bI\\b", "the patient"},
                                                          {"\\b[Mm]y\\b", "the patient's"},
                                                          {"\\b[Mm]yself\\b", "themself"},
                                                          {"\\bme\\b", "the patient"}})
      v.emplace_back(std::regex(from), to);
    return v;
  }();
  for (const auto& [re, to] : kRules) s = std::regex_replace(s, re, to);
  return s;
}

// Clauses of a turn: split after . ? ! ; , followed by space.
std::vector<std::string> clauses_of(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c == '.' || c == '?' || c == '!' || c == ';' || c == ',') && i + 1 < text.size() &&
        (text[i + 1] == ' ' || text[i + 1] == '\t')) {
      out.push_back(trim(std::string_view(text).substr(start, i + 1 - start)));
      start = i + 1;
    }
  }
  out.push_back(trim(std::string_view(text).substr(start)));
  out.erase(std::remove(out.begin(), out.end(), std::string()), out.end());
  return out;
}

std::string dialogue_words(const std::string& dialogue) {
  std::string all;
  for (const auto& t : parse_dialogue(dialogue)) all += t.text + "\n";
  return all;
}

}  // namespace

std::vector<DialogueTurn> parse_dialogue(std::string_view dialogue) {
  std::vector<DialogueTurn> turns;
  size_t at = 0;
  while (at <= dialogue.size()) {
    size_t end = dialogue.find('\n', at);
    if (end == std::string_view::npos) end = dialogue.size();
    const std::string line = trim(dialogue.substr(at, end - at));
    at = end + 1;
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    const bool labelled = colon != std::string::npos && colon > 0 && colon <= 20 &&
                          std::all_of(line.begin(), line.begin() + static_cast<long>(colon),
                                      [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == ' '; });
    if (labelled) {
      std::string speaker = trim(std::string_view(line).substr(0, colon));
      std::transform(speaker.begin(), speaker.end(), speaker.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      turns.push_back({speaker, trim(std::string_view(line).substr(colon + 1))});
    } else if (!turns.empty()) {
      turns.back().text += " " + line;
    } else {
      turns.push_back({"", line});
    }
  }
  return turns;
}

int NoteModel::section_index(const std::string& section) const {
  const auto& s = sections();
  const auto it = std::find(s.begin(), s.end(), section);
  return it == s.end() ? -1 : static_cast<int>(it - s.begin());
}

void NoteModel::count_words(const std::vector<NoteExample>& examples) {
  keep_.clear();
  keep_section_.assign(sections().size(), {});
  for (const auto& e : examples) {
    const auto note = metrics::rouge_tokens(e.note);
    const std::unordered_set<std::string> in_note(note.begin(), note.end());
    const auto words = metrics::rouge_tokens(dialogue_words(e.dialogue));
    const std::unordered_set<std::string> seen(words.begin(), words.end());
    auto& by_section = keep_section_[static_cast<size_t>(section_index(e.section))];
    for (const auto& w : seen) {
      const bool kept = in_note.count(w) > 0;
      keep_[w].in_note += kept;
      ++keep_[w].seen;
      by_section[w].in_note += kept;
      ++by_section[w].seen;
    }
  }
}

double NoteModel::keep_probability(const std::string& w, int section) const {
  constexpr double kPrior = 0.3, kBackoff = 2.0;
  Counts all, own;
  if (auto f = keep_.find(w); f != keep_.end()) all = f->second;
  if (section >= 0)
    if (auto f = keep_section_[static_cast<size_t>(section)].find(w);
        f != keep_section_[static_cast<size_t>(section)].end())
      own = f->second;
  const double global = (all.in_note + kPrior) / (all.seen + 1.0);
  return (own.in_note + kBackoff * global) / (own.seen + kBackoff);
}

std::string NoteModel::draft(const std::string& dialogue, const std::string& section) const {
  const int s = section_index(section);
  std::string out, best;
  double best_score = -1;
  for (const auto& turn : parse_dialogue(dialogue)) {
    for (auto clause : clauses_of(turn.text)) {
      // Only the clause's start can hold the fillers; a bounded prefix keeps std::regex's
      // recursion short on pathological input.
      const size_t head = std::min<size_t>(clause.size(), 200);
      clause = std::regex_replace(clause.substr(0, head), leading_fillers(), "") + clause.substr(head);
      const auto words = metrics::rouge_tokens(clause);
      if (words.empty()) continue;
      // Scored on its content words: "I am allergic to penicillin" is about "allergic" and
      // "penicillin", not "I" and "am".
      double score = 0;
      size_t content = 0;
      for (const auto& w : words)
        if (!is_stop_word(w)) score += keep_probability(w, s), ++content;
      if (content == 0) continue;
      score /= static_cast<double>(content);
      if (turn.speaker == "patient") clause = third_person(clause);
      clause[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(clause[0])));
      if (score > best_score) best_score = score, best = clause;
      if (score > cutoff_) out += (out.empty() ? "" : " ") + clause;
    }
  }
  return out.empty() ? best : out;
}

NoteDraft NoteModel::predict(const std::string& dialogue) const {
  const auto p = section_.probabilities(dialogue);
  const auto& sections = this->sections();
  std::vector<size_t> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] > p[b]; });
  NoteDraft d;
  d.section = sections[order[0]];
  d.probability = p[order[0]];
  for (size_t i = 0; i < std::min<size_t>(3, order.size()); ++i) d.top.emplace_back(sections[order[i]], p[order[i]]);
  d.draft = draft(dialogue, d.section);
  return d;
}

NoteModel NoteModel::fit(const std::vector<NoteExample>& examples, uint64_t seed, FitReport* report) {
  std::map<std::string, int> index;
  for (const auto& e : examples) index.emplace(e.section, 0);
  if (index.size() < 2) fail_invalid("note training data: the rows hold fewer than two sections");
  std::vector<std::string> sections;
  for (auto& [name, i] : index) {
    i = static_cast<int>(sections.size());
    sections.push_back(name);
  }
  std::vector<std::string> texts;
  std::vector<int> labels;
  for (const auto& e : examples) {
    texts.push_back(e.dialogue);
    labels.push_back(index.at(e.section));
  }
  std::mt19937_64 rng(seed);
  std::vector<int> fold(examples.size());
  for (size_t i = 0; i < fold.size(); ++i) fold[i] = static_cast<int>(i % 5);
  std::shuffle(fold.begin(), fold.end(), rng);

  // C by 5-fold cross-validated accuracy.
  FitReport r;
  double best_acc = -1;
  for (double c : {1.0, 3.0, 10.0, 30.0}) {
    size_t right = 0;
    for (int f = 0; f < 5; ++f) {
      std::vector<std::string> tx;
      std::vector<int> ty;
      for (size_t i = 0; i < texts.size(); ++i)
        if (fold[i] != f) tx.push_back(texts[i]), ty.push_back(labels[i]);
      const auto model = TfidfTextClassifier::fit(tx, ty, sections, section_features(), {c, true, 200});
      for (size_t i = 0; i < texts.size(); ++i)
        if (fold[i] == f) right += model.predict(texts[i]) == labels[i];
    }
    const double acc = static_cast<double>(right) / static_cast<double>(texts.size());
    r.c_accuracy.emplace_back(c, acc);
    if (acc > best_acc) best_acc = acc, r.c = c;
  }
  NoteModel m;
  m.section_ = TfidfTextClassifier::fit(texts, labels, sections, section_features(), {r.c, true, 200});

  // Clause cut-off by ROUGE-1 on fold 0, with word counts from the other folds.
  std::vector<NoteExample> counted, held;
  for (size_t i = 0; i < examples.size(); ++i) (fold[i] == 0 ? held : counted).push_back(examples[i]);
  m.count_words(counted);
  double best_rouge = -1;
  for (double cut = 0.10; cut < 0.401; cut += 0.025) {
    m.cutoff_ = cut;
    double sum = 0;
    for (const auto& e : held) sum += metrics::rouge(m.draft(e.dialogue, e.section), e.note).rouge1;
    const double mean = sum / static_cast<double>(std::max<size_t>(1, held.size()));
    r.cutoff_rouge1.emplace_back(cut, mean);
    if (mean > best_rouge) best_rouge = mean, r.cutoff = cut;
  }
  m.cutoff_ = r.cutoff;
  m.count_words(examples);
  if (report) *report = r;
  return m;
}

void NoteModel::save(const std::filesystem::path& path) const {
  io::ByteWriter out;
  out.str(kMagic);
  section_.write(out);
  out.f64(cutoff_);
  const auto table = [&out](const KeepTable& t) {
    out.u64(t.size());
    for (const auto& [w, c] : t) {
      out.str(w);
      out.u32(c.in_note);
      out.u32(c.seen);
    }
  };
  table(keep_);
  for (const auto& t : keep_section_) table(t);
  core::write_file_atomic(path, out.bytes());
}

NoteModel NoteModel::load(const std::filesystem::path& path) {
  const std::string bytes = core::read_file(path);
  io::ByteReader in(bytes, path.string());
  if (in.str() != kMagic) in.corrupt("not a medai note model");
  NoteModel m;
  m.section_ = TfidfTextClassifier::read(in);
  const size_t n = m.sections().size();
  m.cutoff_ = in.f64();
  const auto table = [&in](KeepTable& t) {
    const uint64_t k = in.u64();
    for (uint64_t i = 0; i < k; ++i) {
      std::string w = in.str();
      Counts c;
      c.in_note = in.u32();
      c.seen = in.u32();
      if (c.in_note > c.seen) in.corrupt("word counts");
      t.emplace(std::move(w), c);
    }
  };
  table(m.keep_);
  m.keep_section_.resize(n);
  for (auto& t : m.keep_section_) table(t);
  if (!in.done()) in.corrupt("trailing bytes");
  return m;
}

}  // namespace medai::text
