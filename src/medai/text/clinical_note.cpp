#include "medai/text/clinical_note.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>
#include <random>
#include <regex>
#include <unordered_set>
#include <utility>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/io/binary_io.h"
#include "medai/metrics/rouge.h"
#include "medai/text/text_util.h"

namespace medai::text {

namespace {

// Version 2 adds the per-section cut-offs; version 1 files still load.
constexpr const char* kMagic = "medai.note_model/2";
constexpr const char* kMagicV1 = "medai.note_model/1";
// A question the answer did not fold counts half: 0.5 against 1 raised held-out ROUGE-1 on training rows.
constexpr double kQuestionWeight = 0.5;

// Word 1-2 grams plus character 2-5 grams inside words (misspellings and morphology in speech).
TfidfOptions section_features() {
  TfidfOptions o;
  o.char_min = 2;
  o.char_max = 5;
  return o;
}

std::string ascii_lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
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

// Value of a spoken number word, -1 for other words; hundred and thousand are multipliers.
int number_word(const std::string& lower) {
  static const std::unordered_map<std::string, int> kWords = [] {
    std::unordered_map<std::string, int> m;
    const char* small[] = {"zero",     "one",     "two",     "three",     "four",     "five",    "six",
                           "seven",    "eight",   "nine",    "ten",       "eleven",   "twelve",  "thirteen",
                           "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
    for (int i = 0; i < 20; ++i) m[small[i]] = i;
    const char* tens[] = {"twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};
    for (int i = 0; i < 8; ++i) m[tens[i]] = 20 + 10 * i;
    m["hundred"] = 100;
    m["thousand"] = 1000;
    return m;
  }();
  const auto it = kWords.find(lower);
  return it == kWords.end() ? -1 : it->second;
}

// Folds a run of number words into its value: "twenty six" 26, "five hundred" 500, "two thousand
// nine" 2009, and the way years are said, "nineteen ninety five" 1995.
long spoken_value(const std::vector<int>& run) {
  long total = 0, current = 0;
  for (const int v : run) {
    if (v == 1000) {
      total += std::max<long>(current, 1) * 1000;
      current = 0;
    } else if (v == 100) {
      current = std::max<long>(current, 1) * 100;
    } else if (v >= 10 && current % 100 >= 10 && current < 100) {
      current = current * 100 + v;  // "nineteen ninety"
    } else {
      current += v;
    }
  }
  return total + current;
}

}  // namespace

std::string written_form(const std::string& text) {
  struct Piece {
    std::string text;
    bool word;
  };
  std::vector<Piece> pieces;
  for (size_t i = 0; i < text.size();) {
    const bool alpha = std::isalpha(static_cast<unsigned char>(text[i])) != 0;
    size_t j = i;
    while (j < text.size() && (std::isalpha(static_cast<unsigned char>(text[j])) != 0) == alpha) ++j;
    pieces.push_back({text.substr(i, j - i), alpha});
    i = j;
  }
  const auto joins = [&](size_t k) {  // a single space or hyphen between two words
    return k + 1 < pieces.size() && !pieces[k].word && (pieces[k].text == " " || pieces[k].text == "-") &&
           pieces[k + 1].word;
  };
  const auto letter = [&](size_t k) {
    return pieces[k].text.size() == 1 && std::isupper(static_cast<unsigned char>(pieces[k].text[0]));
  };
  std::string out;
  for (size_t k = 0; k < pieces.size();) {
    if (!pieces[k].word) {
      out += pieces[k++].text;
      continue;
    }
    std::vector<int> run;
    size_t end = k;  // one past the run's last word
    for (size_t w = k;;) {
      const int v = number_word(ascii_lower(pieces[w].text));
      if (v < 0) break;
      run.push_back(v);
      end = w + 1;
      // Six words say any number a conversation holds ("two thousand nine hundred ninety nine") and
      // keep the value far from overflow on text like "hundred hundred hundred ...".
      if (!joins(w + 1) || run.size() == 6) break;
      w += 2;
    }
    if (!run.empty() && (run.size() > 1 || run[0] != 1)) {
      out += std::to_string(spoken_value(run));
      k = end;
      continue;
    }
    if (letter(k) && joins(k + 1) && letter(k + 2) && pieces[k + 1].text == " ") {
      size_t w = k;
      while (w + 2 < pieces.size() && pieces[w + 1].text == " " && joins(w + 1) && letter(w + 2)) {
        out += pieces[w].text;
        w += 2;
      }
      out += pieces[w].text;
      k = w + 1;
      continue;
    }
    out += pieces[k++].text;
  }
  return out;
}

namespace {

std::string dialogue_words(const std::string& dialogue) {
  std::string all;
  for (const auto& t : parse_dialogue(dialogue)) all += written_form(t.text) + "\n";
  return all;
}

// The answer's polarity when a turn opens with yes or no: 1, 0, or -1 for neither.
int answer_polarity(const std::string& turn) {
  std::string head;
  for (const char c : turn.substr(0, 8)) {
    if (!std::isalpha(static_cast<unsigned char>(c))) break;
    head += c;
  }
  head = ascii_lower(head);
  if (head == "yes" || head == "yeah" || head == "yep" || head == "correct") return 1;
  if (head == "no" || head == "nope" || head == "nah" || head == "never") return 0;
  return -1;
}

// A doctor's yes/no question and its answer as one statement, the way notes list findings: "Any
// fever or chills?" + "No." -> "no fever or chills", + "Yes." -> "fever or chills"; "" when the
// question has another form. (Folding "do you smoke?" into "the patient does not smoke" scored
// lower on held-out training rows than leaving the question.)
std::string fold_question(const std::string& question, bool yes) {
  static const char* const kAsks[] = {"do you have ", "have you had ", "any "};
  const std::string lower = ascii_lower(question);
  for (const char* ask : kAsks) {
    size_t n = std::strlen(ask);
    if (lower.compare(0, n, ask) != 0) continue;
    if (lower.compare(n, 4, "any ") == 0) n += 4;  // "do you have any allergies" -> "no allergies"
    if (lower.size() <= n + 1) continue;
    std::string out = yes ? "" : "no ";
    std::string word;
    const auto flush = [&] {
      out += word == "your" ? "the patient's" : word == "yourself" ? "themself" : word == "you" ? "them" : word;
      word.clear();
    };
    for (const char c : question.substr(n, question.size() - n - 1)) {  // without the '?'
      if (std::isalpha(static_cast<unsigned char>(c))) {
        word += c;
      } else {
        flush();
        out += c;
      }
    }
    flush();
    return out + ".";
  }
  return {};
}

struct DraftClause {
  std::string text;
  bool question;  // a question left as it was asked
};

// The dialogue's clauses as candidates for the draft: in written form, fillers at the start
// dropped, the patient's first person as the third, and a closing yes/no question folded into the
// statement its answer makes.
std::vector<DraftClause> draft_clauses(const std::string& dialogue) {
  const auto turns = parse_dialogue(dialogue);
  std::vector<DraftClause> out;
  bool folded_answer = false;  // the previous turn's question already holds this turn's "yes"/"no"
  for (size_t t = 0; t < turns.size(); ++t) {
    const auto clauses = clauses_of(written_form(turns[t].text));
    const bool patient = turns[t].speaker == "patient";
    const int answer = t + 1 < turns.size() && !patient ? answer_polarity(turns[t + 1].text) : -1;
    for (size_t c = 0; c < clauses.size(); ++c) {
      // Only the clause's start can hold the fillers; a bounded prefix keeps std::regex's
      // recursion short on pathological input.
      const size_t head = std::min<size_t>(clauses[c].size(), 200);
      std::string clause =
          std::regex_replace(clauses[c].substr(0, head), leading_fillers(), "") + clauses[c].substr(head);
      if (clause.empty()) continue;
      if (c == 0 && std::exchange(folded_answer, false) && answer_polarity(clause) >= 0 &&
          metrics::rouge_tokens(clause).size() == 1)
        continue;
      bool question = clause.back() == '?';
      if (question && answer >= 0 && c + 1 == clauses.size())
        if (auto folded = fold_question(clause, answer == 1); !folded.empty())
          clause = folded, question = false, folded_answer = true;
      out.push_back({patient ? third_person(clause) : clause, question});
    }
    if (clauses.empty()) folded_answer = false;
  }
  return out;
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
      turns.push_back(
          {ascii_lower(trim(std::string_view(line).substr(0, colon))), trim(std::string_view(line).substr(colon + 1))});
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

std::vector<NoteModel::ScoredClause> NoteModel::scored_clauses(const std::string& dialogue, int section) const {
  std::vector<ScoredClause> out;
  for (auto& [clause, question] : draft_clauses(dialogue)) {
    // Scored on its content words: "I am allergic to penicillin" is about "allergic" and
    // "penicillin", not "I" and "am".
    double score = 0;
    size_t content = 0;
    for (const auto& w : metrics::rouge_tokens(clause))
      if (!is_stop_word(w)) score += keep_probability(w, section), ++content;
    if (content == 0) continue;
    score /= static_cast<double>(content);
    if (question) score *= kQuestionWeight;  // notes state findings, they seldom ask
    clause[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(clause[0])));
    out.push_back({std::move(clause), score});
  }
  return out;
}

std::string NoteModel::assemble(const std::vector<ScoredClause>& clauses, double cutoff) {
  std::string out;
  const ScoredClause* best = nullptr;
  for (const auto& c : clauses) {
    if (!best || c.score > best->score) best = &c;
    if (c.score > cutoff) out += (out.empty() ? "" : " ") + c.text;
  }
  return out.empty() && best ? best->text : out;
}

std::string NoteModel::draft(const std::string& dialogue, const std::string& section) const {
  const int s = section_index(section);
  const double cut = s >= 0 && !section_cutoff_.empty() ? section_cutoff_[static_cast<size_t>(s)] : cutoff_;
  return assemble(scored_clauses(dialogue, s), cut);
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

namespace {

// The cut-off (index into the grid) with the highest mean ROUGE-1 over `rows` of `table`; per
// section, that section's rows shrunk towards all of them by kShrink pseudo-rows.
std::vector<size_t> best_cutoffs(const std::vector<std::vector<double>>& table, const std::vector<int>& section,
                                 const std::vector<size_t>& rows, size_t sections, bool per_section) {
  constexpr double kShrink = 20;
  const size_t k = table.empty() ? 0 : table[0].size();
  std::vector<double> all(k, 0);
  std::vector<std::vector<double>> own(sections, std::vector<double>(k, 0));
  std::vector<double> n(sections, 0);
  for (const size_t i : rows) {
    n[static_cast<size_t>(section[i])] += 1;
    for (size_t j = 0; j < k; ++j) all[j] += table[i][j], own[static_cast<size_t>(section[i])][j] += table[i][j];
  }
  const double total = static_cast<double>(std::max<size_t>(1, rows.size()));
  std::vector<size_t> out(sections, 0);
  for (size_t s = 0; s < sections; ++s) {
    double best = -1;
    for (size_t j = 0; j < k; ++j) {
      const double mean = per_section ? (own[s][j] + kShrink * all[j] / total) / (n[s] + kShrink) : all[j] / total;
      if (mean > best) best = mean, out[s] = j;
    }
  }
  return out;
}

}  // namespace

void NoteModel::choose_cutoffs(const std::vector<NoteExample>& examples, const std::vector<int>& fold, FitReport& r) {
  // Every row drafted at every cut-off with word counts from the other folds.
  std::vector<double> grid;
  for (int j = 0; j <= 12; ++j) grid.push_back(0.10 + 0.025 * j);
  std::vector<std::vector<double>> table(examples.size(), std::vector<double>(grid.size()));
  std::vector<int> section(examples.size());
  for (int f = 0; f < 5; ++f) {
    std::vector<NoteExample> counted;
    for (size_t i = 0; i < examples.size(); ++i)
      if (fold[i] != f) counted.push_back(examples[i]);
    count_words(counted);
    for (size_t i = 0; i < examples.size(); ++i) {
      if (fold[i] != f) continue;
      section[i] = section_index(examples[i].section);
      const auto clauses = scored_clauses(examples[i].dialogue, section[i]);
      for (size_t j = 0; j < grid.size(); ++j)
        table[i][j] = metrics::rouge(assemble(clauses, grid[j]), examples[i].note).rouge1;
    }
  }
  const size_t n_sections = sections().size();
  std::vector<size_t> everyone(examples.size());
  std::iota(everyone.begin(), everyone.end(), 0);
  for (size_t j = 0; j < grid.size(); ++j) {
    double sum = 0;
    for (const auto& row : table) sum += row[j];
    r.cutoff_rouge1.emplace_back(grid[j], sum / static_cast<double>(std::max<size_t>(1, table.size())));
  }
  // Per-section cut-offs only when they win on rows their choice did not see (fold by fold).
  double nested[2] = {0, 0};
  for (int per = 0; per < 2; ++per)
    for (int f = 0; f < 5; ++f) {
      std::vector<size_t> rows;
      for (size_t i = 0; i < examples.size(); ++i)
        if (fold[i] != f) rows.push_back(i);
      const auto chosen = best_cutoffs(table, section, rows, n_sections, per == 1);
      for (size_t i = 0; i < examples.size(); ++i)
        if (fold[i] == f) nested[per] += table[i][chosen[static_cast<size_t>(section[i])]];
    }
  r.rouge1_global_cutoff = nested[0] / static_cast<double>(examples.size());
  r.rouge1_section_cutoffs = nested[1] / static_cast<double>(examples.size());
  cutoff_ = r.cutoff = grid[best_cutoffs(table, section, everyone, n_sections, false)[0]];
  section_cutoff_.clear();
  if (r.rouge1_section_cutoffs > r.rouge1_global_cutoff) {
    for (const size_t j : best_cutoffs(table, section, everyone, n_sections, true)) section_cutoff_.push_back(grid[j]);
    for (size_t s = 0; s < n_sections; ++s) r.section_cutoffs.emplace_back(sections()[s], section_cutoff_[s]);
  }
}

NoteModel NoteModel::fit(const std::vector<NoteExample>& examples, uint64_t seed, FitReport* report, double fixed_c) {
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
  const std::vector<double> grid =
      fixed_c > 0 ? std::vector<double>{fixed_c} : std::vector<double>{1.0, 3.0, 10.0, 30.0};
  for (double c : grid) {
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

  m.choose_cutoffs(examples, fold, r);
  m.count_words(examples);
  if (report) *report = r;
  return m;
}

void NoteModel::save(const std::filesystem::path& path) const {
  io::ByteWriter out;
  out.str(kMagic);
  section_.write(out);
  out.f64(cutoff_);
  out.u64(section_cutoff_.size());
  for (const double c : section_cutoff_) out.f64(c);
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
  const std::string magic = in.str();
  if (magic != kMagic && magic != kMagicV1) in.corrupt("not a medai note model");
  NoteModel m;
  m.section_ = TfidfTextClassifier::read(in);
  const size_t n = m.sections().size();
  m.cutoff_ = in.f64();
  if (magic == kMagic) {
    const uint64_t k = in.u64();
    if (k != 0 && k != n)
      in.corrupt("per-section cut-offs: " + std::to_string(k) + " for " + std::to_string(n) + " sections");
    for (uint64_t i = 0; i < k; ++i) m.section_cutoff_.push_back(in.f64());
  }
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
