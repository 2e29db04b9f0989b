#include "medai/text/deid.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <unordered_set>

#include "medai/core/error.h"

namespace medai::text {

const char* phi_kind_name(PhiKind k) {
  switch (k) {
    case PhiKind::kName: return "NAME";
    case PhiKind::kDate: return "DATE";
    case PhiKind::kAge: return "AGE";
    case PhiKind::kPhone: return "PHONE";
    case PhiKind::kFax: return "FAX";
    case PhiKind::kEmail: return "EMAIL";
    case PhiKind::kId: return "ID";
    case PhiKind::kAddress: return "ADDRESS";
    case PhiKind::kUrl: return "URL";
    case PhiKind::kIp: return "IP";
  }
  return "PHI";
}

namespace {

constexpr PhiKind kAllKinds[] = {PhiKind::kName,  PhiKind::kDate, PhiKind::kAge,     PhiKind::kPhone, PhiKind::kFax,
                                 PhiKind::kEmail, PhiKind::kId,   PhiKind::kAddress, PhiKind::kUrl,   PhiKind::kIp};

using std::regex;
const auto kIcase = regex::ECMAScript | regex::icase;

// A detector: a pattern, the kind it finds and the capture group that holds the PHI (0: all).
struct Rule {
  regex pattern;
  PhiKind kind;
  int group = 0;
};

const std::string kMonth =
    "(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|"
    "Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?|JAN(?:UARY)?|FEB(?:RUARY)?|MAR(?:CH)?|APR(?:IL)?|MAY|JUNE?|JULY?|"
    "AUG(?:UST)?|SEPT?(?:EMBER)?|OCT(?:OBER)?|NOV(?:EMBER)?|DEC(?:EMBER)?)\\b\\.?";
const std::string kOrdinal = "\\d{1,2}(?:st|nd|rd|th)?";
const std::string kStreet =
    "(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Circle|"
    "Highway|Hwy|Parkway|Pkwy|Square|Sq)";
const std::string kState =
    "(?:AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|"
    "OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY)";
const std::string kCap = "[A-Z][a-zA-Z'\\-]+\\b(?![0-9])";  // not "BRCA" of "BRCA1"
const std::string kSpelledTens = "(?:ninety|one hundred(?: and)?)";
const std::string kSpelledUnits = "(?:one|two|three|four|five|six|seven|eight|nine)";

// In priority order: a later rule's span is dropped where it overlaps an earlier one's.
const std::vector<Rule>& rules() {
  static const std::vector<Rule> r = [] {
    std::vector<Rule> v;
    v.push_back({regex("\\b(?:https?://|www\\.)[^\\s<>\"]+[^\\s<>\".,;:!?)]", kIcase), PhiKind::kUrl});
    v.push_back({regex("\\b[A-Za-z0-9._%+\\-]+@[A-Za-z0-9.\\-]+\\.[A-Za-z]{2,}\\b"), PhiKind::kEmail});
    v.push_back(
        {regex("\\b(?:25[0-5]|2[0-4]\\d|1?\\d?\\d)(?:\\.(?:25[0-5]|2[0-4]\\d|1?\\d?\\d)){3}\\b"), PhiKind::kIp});
    v.push_back({regex("\\b\\d{3}-\\d{2}-\\d{4}\\b"), PhiKind::kId});
    v.push_back(
        {regex(
             "\\b(?:MRN|MR|medical record|record|account|acct|patient id|ID|SSN|social security|insurance|"
             "policy|member|subscriber|license|licence|plate|serial|device|NPI|DEA|case|hospital|medicare|medicaid|NHS|"
             "beneficiary|chart|encounter|accession|specimen|unit)\\b#?"
             "(?:\\s+(?:number|no\\.?|num|id|#))?\\s*(?:is|was)?\\s*[:#]?\\s*([A-Z]{0,4}[\\-#]?\\d[A-Z0-9\\-]{3,})",
             kIcase),
         PhiKind::kId, 1});
    v.push_back(
        {regex("(fax|facsimile)[^\\n\\d]{0,20}((?:\\+?1[\\s.\\-]?)?\\(?\\d{3}\\)?[\\s.\\-]?\\d{3}[\\s.\\-]\\d{4})",
               kIcase),
         PhiKind::kFax, 2});
    v.push_back({regex("(?:\\+?1[\\s.\\-]?)?(?:\\(\\d{3}\\)\\s?|\\b\\d{3}[\\s.\\-])\\d{3}[\\s.\\-]\\d{4}\\b"),
                 PhiKind::kPhone});
    v.push_back(
        {regex("(?:phone|call|tel|telephone|cell|mobile|pager|beeper|number|reach)[^\\n\\d]{0,20}\\b(\\d{3}-\\d{4})\\b",
               kIcase),
         PhiKind::kPhone, 1});
    v.push_back({regex("\\b\\d{4}[/\\-.]\\d{1,2}[/\\-.]\\d{1,2}\\b"), PhiKind::kDate});
    v.push_back(
        {regex("\\b\\d{1,2}([/\\-.])\\d{1,2}\\1(?:\\d{4}|\\d{2})\\b"), PhiKind::kDate});  // one separator: not "6-7/10"
    v.push_back(
        {regex("\\b(?:on|since|dated|from|until|till|by|admitted|discharged|seen)\\s+(\\d{1,2}/\\d{1,2})\\b(?!/)",
               kIcase),
         PhiKind::kDate, 1});
    v.push_back({regex("\\b" + kMonth + "\\s+" + kOrdinal + "\\b(?:,?\\s+\\d{4}\\b)?"), PhiKind::kDate});
    v.push_back({regex("\\b" + kOrdinal + "\\s+(?:of\\s+)?" + kMonth + "(?:,?\\s+\\d{4}\\b)?"), PhiKind::kDate});
    v.push_back({regex("\\b" + kMonth + ",?\\s+(?:of\\s+)?\\d{4}\\b"), PhiKind::kDate});
    v.push_back({regex("\\b(?:in|since|during|until|till|by|last|next|early|late|mid|mid-)[ \\t]+"
                       "(January|February|March|April|June|July|August|September|October|November|December)\\b"),
                 PhiKind::kDate, 1});
    v.push_back({regex("\\b\\d{1,6}[ \\t]+(?:[A-Z][a-zA-Z]*\\.?[ \\t]+){1,4}" + kStreet +
                       "\\b\\.?(?:,?\\s*(?:Apt|Apartment|Suite|Unit|#)\\.?\\s*[A-Za-z0-9\\-]+)?(?:,\\s*(?:" + kCap +
                       "\\s){0,2}" + kCap + ")?(?:,?\\s*" + kState + ")?(?:\\s+\\d{5}(?:-\\d{4})?)?"),
                 PhiKind::kAddress});
    v.push_back({regex("\\bP\\.?\\s?O\\.?\\s+Box\\s+\\d+", kIcase), PhiKind::kAddress});
    v.push_back({regex("\\b(?:" + kCap + "\\s){0,2}" + kCap + ",\\s*" + kState + "\\s+\\d{5}(?:-\\d{4})?\\b"),
                 PhiKind::kAddress});
    v.push_back(
        {regex("\\b(?:zip|postal)(?:\\s*code)?\\s*[:#]?\\s*(\\d{5}(?:-\\d{4})?)\\b", kIcase), PhiKind::kAddress, 1});
    v.push_back({regex("\\b(?:on|at|in|off|near)[ \\t]+((?:[A-Z][a-zA-Z]*[ \\t]+){1,2}" + kStreet + ")\\b"),
                 PhiKind::kAddress, 1});
    v.push_back({regex("\\b(?:9\\d|1[0-4]\\d)(?=\\s*-?\\s*(?:years?|yrs?|y/?o|year-old)\\b)", kIcase), PhiKind::kAge});
    v.push_back({regex("\\b(?:aged?|age:)\\s+(9\\d|1[0-4]\\d)\\b", kIcase), PhiKind::kAge, 1});
    v.push_back(
        {regex("\\b(" + kSpelledTens + "(?:[\\s\\-]" + kSpelledUnits + ")?)(?=[\\s\\-]+(?:years?|yrs?)\\b)", kIcase),
         PhiKind::kAge, 1});
    return v;
  }();
  return r;
}

// Capitalised words that follow a title or cue without being a name.
bool is_not_a_name(const std::string& w) {
  static const std::unordered_set<std::string> k = {
      "The",       "A",           "An",         "And",      "Or",        "He",          "She",        "They",
      "I",         "We",          "You",        "It",       "This",      "That",        "What",       "When",
      "Where",     "Who",         "How",        "Why",      "Yes",       "No",          "Okay",       "Ok",
      "So",        "Well",        "Hi",         "Hello",    "Thank",     "Thanks",      "Please",     "Good",
      "Great",     "Sure",        "Let",        "Do",       "Does",      "Did",         "Is",         "Are",
      "Was",       "Can",         "Could",      "Would",    "Will",      "Have",        "Has",        "Had",
      "My",        "Your",        "His",        "Her",      "Our",       "Their",       "Patient",    "Doctor",
      "Dr",        "Mr",          "Mrs",        "Ms",       "Office",    "Clinic",      "Hospital",   "Today",
      "Emergency", "Department",  "Any",        "All",      "Not",       "But",         "If",         "On",
      "In",        "At",          "For",        "With",     "To",        "From",        "Of",         "By",
      "Here",      "There",       "Now",        "Then",     "Also",      "Just",        "Sorry",      "Fine",
      "Not",       "Very",        "Going",      "Back",     "Told",      "Said",        "Says",       "Office",
      "Visit",     "Appointment", "Monday",     "Tuesday",  "Wednesday", "Thursday",    "Friday",     "Saturday",
      "Sunday",    "Nurse",       "Unit",       "Service",  "Team",      "Note",        "Allergies",  "History",
      "Exam",      "Plan",        "Assessment", "Surgery",  "Medicine",  "Pain",        "Normal",     "Negative",
      "Positive",  "Status",      "None",       "Nothing",  "Right",     "Left",        "About",      "Sir",
      "Madam",     "Maam",        "Ma'am",      "Know",     "See",       "Think",       "Feel",       "Am",
      "Been",      "Being",       "Having",     "One",      "New",       "North",       "South",      "East",
      "West",      "Saint",       "St",         "San",      "Los",       "Las",         "University", "Center",
      "Centre",    "Institute",   "Foundation", "National", "American",  "Association", "Society",    "Health",
      "Medical",   "County",      "City",       "State",    "General",   "Memorial",    "Christmas",  "Disease"};
  return k.count(w) > 0;
}

// Common English given names that are not also everyday words (so no "Will", "May", "Grace").
bool is_given_name(const std::string& w) {
  static const std::unordered_set<std::string> k = {
      "James",     "John",     "Robert",      "Michael",   "William",   "David",     "Richard",  "Joseph",
      "Thomas",    "Charles",  "Christopher", "Daniel",    "Matthew",   "Anthony",   "Donald",   "Steven",
      "Paul",      "Andrew",   "Joshua",      "Kenneth",   "Kevin",     "Brian",     "George",   "Edward",
      "Ronald",    "Timothy",  "Jason",       "Jeffrey",   "Ryan",      "Jacob",     "Gary",     "Nicholas",
      "Eric",      "Jonathan", "Stephen",     "Larry",     "Justin",    "Scott",     "Brandon",  "Benjamin",
      "Samuel",    "Gregory",  "Frank",       "Alexander", "Raymond",   "Patrick",   "Jack",     "Dennis",
      "Jerry",     "Tyler",    "Aaron",       "Jose",      "Adam",      "Henry",     "Nathan",   "Douglas",
      "Zachary",   "Peter",    "Kyle",        "Walter",    "Ethan",     "Jeremy",    "Harold",   "Keith",
      "Christian", "Roger",    "Noah",        "Gerald",    "Carl",      "Terry",     "Sean",     "Austin",
      "Arthur",    "Lawrence", "Jesse",       "Dylan",     "Bryan",     "Joe",       "Jordan",   "Billy",
      "Bruce",     "Albert",   "Willie",      "Gabriel",   "Logan",     "Alan",      "Juan",     "Wayne",
      "Roy",       "Ralph",    "Randy",       "Eugene",    "Vincent",   "Russell",   "Elijah",   "Louis",
      "Bobby",     "Philip",   "Johnny",      "Mary",      "Patricia",  "Jennifer",  "Linda",    "Elizabeth",
      "Barbara",   "Susan",    "Jessica",     "Sarah",     "Karen",     "Nancy",     "Lisa",     "Betty",
      "Margaret",  "Sandra",   "Ashley",      "Kimberly",  "Emily",     "Donna",     "Michelle", "Dorothy",
      "Carol",     "Amanda",   "Melissa",     "Deborah",   "Stephanie", "Rebecca",   "Sharon",   "Laura",
      "Cynthia",   "Kathleen", "Amy",         "Shirley",   "Angela",    "Helen",     "Anna",     "Brenda",
      "Pamela",    "Nicole",   "Emma",        "Samantha",  "Katherine", "Christine", "Debra",    "Rachel",
      "Catherine", "Carolyn",  "Janet",       "Ruth",      "Maria",     "Heather",   "Diane",    "Virginia",
      "Julie",     "Joyce",    "Victoria",    "Olivia",    "Kelly",     "Christina", "Lauren",   "Joan",
      "Evelyn",    "Judith",   "Megan",       "Cheryl",    "Andrea",    "Hannah",    "Martha",   "Jacqueline",
      "Frances",   "Gloria",   "Ann",         "Teresa",    "Kathryn",   "Sara",      "Janice",   "Jean",
      "Alice",     "Madison",  "Doris",       "Abigail",   "Julia",     "Judy",      "Beverly",  "Denise",
      "Marilyn",   "Amber",    "Danielle",    "Brittany",  "Diana",     "Natalie",   "Sophia",   "Alexis",
      "Lori",      "Kayla",    "Jane",        "Anne",      "Maya",      "Priya",     "Mohammed", "Muhammad",
      "Ahmed",     "Fatima",   "Wei",         "Mei",       "Raj",       "Ravi",      "Carlos",   "Luis",
      "Miguel",    "Sofia",    "Lucia",       "Ana",       "Elena",     "Ivan",      "Olga",     "Hiroshi",
      "Yuki",      "Kenji",    "Aisha",       "Omar",      "Ali",       "Hassan",    "Leila",    "Chen",
      "Lin",       "Jorge",    "Pedro",       "Rosa",      "Carmen",    "Marta",     "Hans",     "Klaus",
      "Pierre",    "Sven",     "Ingrid",      "Anil",      "Sunita",    "Arjun",     "Deepak",   "Kwame",
      "Amara",     "Chloe",    "Liam",        "Mason",     "Lucas",     "Oliver",    "Ella",     "Mia",
      "Ava",       "Isabella", "Charlotte"};
  return k.count(w) > 0;
}

// Names: after a title, after a cue ("my name is"), in a labelled field, and common given names
// with the capitalised word after them. Each yields the name words only (not the title).
const std::vector<Rule>& name_rules() {
  static const std::vector<Rule> r = [] {
    const std::string name = "(" + kCap + "(?:[ \\t]+[A-Z]\\.)?(?:[ \\t]+" + kCap + ")?)";
    std::vector<Rule> v;
    v.push_back({regex("\\b(?:Dr|Mr|Mrs|Ms|Mx|Miss|Prof|Doctor|Nurse|Sister|Father|Rev)\\.?[ \\t]+" + name),
                 PhiKind::kName, 1});
    v.push_back({regex("\\b(?:[Mm]y name is|[Nn]ame is|[Nn]amed|[Tt]his is|I'm|I am|[Cc]all me)[ \\t]+" + name),
                 PhiKind::kName, 1});
    v.push_back({regex("\\b(?:[Pp]atient name|Name|Signed|Signed by|[Ee]lectronically signed by|Dictated by|Attending|"
                       "Referring physician|PCP|Contact|Emergency contact|Next of kin)[ \\t]*:[ \\t]*" +
                       name),
                 PhiKind::kName, 1});
    return v;
  }();
  return r;
}

std::vector<std::string> words_of(const std::string& s) {
  std::vector<std::string> out;
  static const regex word("[A-Za-z][A-Za-z'\\-]+");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), word); it != std::sregex_iterator(); ++it)
    out.push_back(it->str());
  return out;
}

// Trims a name match to its words that are names: a trailing non-name word ("Smith Today") goes.
bool trim_name(std::string_view doc, size_t& begin, size_t& end) {
  const std::string s(doc.substr(begin, end - begin));
  const auto w = words_of(s);
  if (w.empty() || is_not_a_name(w.front())) return false;
  if (w.size() > 1 && is_not_a_name(w.back())) {
    const size_t cut = s.rfind(w.back());
    end = begin + s.find_last_not_of(" \t\n", cut - 1) + 1;
  }
  return true;
}

void add_span(std::vector<PhiSpan>& spans, size_t b, size_t e, PhiKind k) {
  for (const auto& s : spans)
    if (b < s.end && s.begin < e) return;  // overlaps an earlier (higher-priority) span
  spans.push_back({b, e, k, {}});
}

// Whether the name ending at `end` is an eponym: "Parkinson's disease", "Pierre Robin sequence".
bool is_eponym(std::string_view doc, size_t end) {
  static const regex noun(
      "^(?:'s)?[ \\t]+(?:disease|syndrome|sign|sequence|palsy|anomaly|test|procedure|operation|reflex|phenomenon|"
      "tumou?r|lymphoma|ulcer|criteria|classification|score|scale|maneuver|manoeuvre|fracture|disorder|dystrophy|"
      "ataxia|anemia|anaemia|thyroiditis|cyst|node|law|effect|triad|method|technique|type|variant|deformity)\\b",
      kIcase);
  const std::string after(doc.substr(end, std::min<size_t>(40, doc.size() - end)));
  return std::regex_search(after, noun, std::regex_constants::match_continuous);
}

void note_name(std::string_view doc, size_t b, size_t e, std::vector<PhiSpan>& spans,
               std::unordered_set<std::string>& name_words) {
  if (!trim_name(doc, b, e) || is_eponym(doc, e)) return;
  add_span(spans, b, e, PhiKind::kName);
  for (auto& w : words_of(std::string(doc.substr(b, e - b))))
    if (w.size() >= 3 && !is_not_a_name(w)) name_words.insert(w);
}

void find_names(std::string_view doc, std::vector<PhiSpan>& spans) {
  const std::string text(doc);
  std::unordered_set<std::string> name_words;
  for (const auto& rule : name_rules())
    for (auto it = std::sregex_iterator(text.begin(), text.end(), rule.pattern); it != std::sregex_iterator(); ++it) {
      const auto b = static_cast<size_t>(it->position(rule.group));
      note_name(doc, b, b + static_cast<size_t>(it->length(rule.group)), spans, name_words);
    }
  // A common given name, with a middle initial and the capitalised word after it (the surname).
  static const regex cap("\\b[A-Z][a-zA-Z'\\-]+");
  static const regex rest("^(?:[ \\t]+[A-Z]\\.)?(?:[ \\t]+[A-Z][a-zA-Z'\\-]+)?");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), cap); it != std::sregex_iterator(); ++it) {
    if (!is_given_name(it->str())) continue;
    const auto b = static_cast<size_t>(it->position(0));
    size_t e = b + static_cast<size_t>(it->length(0));
    std::smatch m;
    if (std::regex_search(text.cbegin() + static_cast<std::ptrdiff_t>(e), text.cend(), m, rest,
                          std::regex_constants::match_continuous))
      e += static_cast<size_t>(m.length(0));
    note_name(doc, b, e, spans, name_words);
  }
  // Consistency: every other capitalised occurrence of a name word found above, unless the
  // document uses that word as an eponym ("Parkinson's disease" makes every "Parkinson's" one).
  if (name_words.empty()) return;
  const auto bare = [](std::string w) {  // "Smith's" -> "Smith"
    if (w.size() > 2 && w.compare(w.size() - 2, 2, "'s") == 0) w.resize(w.size() - 2);
    return w;
  };
  for (auto it = std::sregex_iterator(text.begin(), text.end(), cap); it != std::sregex_iterator(); ++it)
    if (is_eponym(doc, static_cast<size_t>(it->position(0) + it->length(0)))) name_words.erase(bare(it->str()));
  for (auto it = std::sregex_iterator(text.begin(), text.end(), cap); it != std::sregex_iterator(); ++it) {
    const std::string w = bare(it->str());
    if (name_words.count(w))
      add_span(spans, static_cast<size_t>(it->position(0)), static_cast<size_t>(it->position(0)) + w.size(),
               PhiKind::kName);
  }
}

// The key under which values share a placeholder: names by each of their words (so "Kumar" and
// "Raj Kumar" are one person), other kinds by their lower-cased alphanumerics.
std::vector<std::string> value_keys(const std::string& value, PhiKind kind) {
  if (kind == PhiKind::kName) {
    std::vector<std::string> keys;
    for (auto& w : words_of(value))
      if (w.size() >= 3) keys.push_back(w);
    if (keys.empty()) keys.push_back(value);
    return keys;
  }
  std::string k;
  for (char c : value)
    if (std::isalnum(static_cast<unsigned char>(c)))
      k.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return {k};
}

// std::regex matches recursively, so one match attempt over a very long run of characters can
// overflow the stack. The rules therefore run over a copy of the same length in which every
// non-space run longer than kLongToken becomes "x x x ..." (it is removed whole: an opaque blob,
// a long URL or encoded data may hold anything) and every whitespace run longer than kLongSpace
// becomes " . . ." (which no rule crosses).
constexpr size_t kLongToken = 256, kLongSpace = 64;

std::string matching_view(std::string_view doc, std::vector<PhiSpan>& long_tokens) {
  std::string view(doc);
  const auto is_ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  for (size_t i = 0; i < view.size();) {
    size_t j = i;
    const bool ws = is_ws(view[i]);
    while (j < view.size() && is_ws(view[j]) == ws) ++j;
    if (ws && j - i > kLongSpace) {
      for (size_t k = i + 1; k < j; k += 2) view[k] = '.';
    } else if (!ws && j - i > kLongToken) {
      const bool url = doc.substr(i, 4) == "http" || doc.substr(i, 4) == "www.";
      long_tokens.push_back({i, j, url ? PhiKind::kUrl : PhiKind::kId, {}});
      for (size_t k = i; k < j; ++k) view[k] = (k - i) % 2 ? ' ' : 'x';
    }
    i = j;
  }
  return view;
}

}  // namespace

std::vector<PhiSpan> find_phi(std::string_view document) {
  std::vector<PhiSpan> spans;
  const std::string text = matching_view(document, spans);
  document = text;  // the rules see the copy; offsets are the same
  for (const auto& rule : rules()) {
    for (auto it = std::sregex_iterator(text.begin(), text.end(), rule.pattern); it != std::sregex_iterator(); ++it) {
      const auto b = static_cast<size_t>(it->position(rule.group));
      add_span(spans, b, b + static_cast<size_t>(it->length(rule.group)), rule.kind);
    }
  }
  find_names(document, spans);
  std::sort(spans.begin(), spans.end(), [](const PhiSpan& a, const PhiSpan& b) { return a.begin < b.begin; });
  return spans;
}

Deidentified deidentify(std::string_view document, DeidStyle style) {
  Deidentified out;
  out.spans = find_phi(document);
  std::map<std::pair<PhiKind, std::string>, int> ids;
  std::map<PhiKind, int> counts;
  size_t at = 0;
  for (auto& s : out.spans) {
    const std::string value(document.substr(s.begin, s.end - s.begin));
    if (s.kind == PhiKind::kAge) {
      s.replacement = "90+";
    } else if (style == DeidStyle::kKind) {
      s.replacement = std::string("[") + phi_kind_name(s.kind) + "]";
    } else {
      // A multi-word name is matched by its last word (the surname), a single word by any word
      // of an earlier name; other kinds by their whole value.
      const auto keys = value_keys(value, s.kind);
      const auto found = ids.find({s.kind, keys.size() > 1 ? keys.back() : keys.front()});
      const int id = found != ids.end() ? found->second : ++counts[s.kind];
      for (const auto& k : keys) ids.emplace(std::make_pair(s.kind, k), id);
      s.replacement = std::string("[") + phi_kind_name(s.kind) + "-" + std::to_string(id) + "]";
    }
    out.text.append(document.substr(at, s.begin - at));
    out.text += s.replacement;
    at = s.end;
  }
  out.text.append(document.substr(at));
  return out;
}

std::vector<AnnotatedDocument> parse_annotated_documents(std::string_view in, const std::string& source) {
  std::vector<AnnotatedDocument> docs(1);
  size_t line = 1, i = 0;
  const PhiKind* open = nullptr;
  size_t open_at = 0, open_line = 0;
  const auto fail_at = [&](const std::string& why) {
    fail_invalid(source + " line " + std::to_string(line) + ": " + why);
  };
  while (i < in.size()) {
    const bool line_start = i == 0 || in[i - 1] == '\n';
    if (line_start && in.substr(i, 4) == "---\n") {
      if (open) fail_at("tag <" + std::string(phi_kind_name(*open)) + "> is not closed in its document");
      docs.emplace_back();
      i += 4;
      ++line;
      continue;
    }
    if (in[i] == '<') {
      const size_t close = in.find('>', i);
      const std::string tag(in.substr(i + 1, close == std::string_view::npos ? 0 : close - i - 1));
      const bool closing = !tag.empty() && tag[0] == '/';
      const std::string name = closing ? tag.substr(1) : tag;
      const PhiKind* kind = nullptr;
      for (const auto& k : kAllKinds)
        if (name == phi_kind_name(k)) kind = &k;
      if (kind) {
        if (closing) {
          if (!open || *open != *kind) fail_at("</" + name + "> closes no open <" + name + ">");
          docs.back().gold.push_back({open_at, docs.back().text.size(), *kind, {}});
          open = nullptr;
        } else {
          if (open) fail_at("<" + name + "> inside another tag");
          open = kind;
          open_at = docs.back().text.size();
          open_line = line;
        }
        i = close + 1;
        continue;
      }
      if (tag.size() < 12 && std::all_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; }) &&
          !name.empty())
        fail_at("unknown tag <" + tag + "> (known: NAME, DATE, AGE, PHONE, FAX, EMAIL, ID, ADDRESS, URL, IP)");
    }
    if (in[i] == '\n') ++line;
    docs.back().text.push_back(in[i++]);
  }
  if (open) fail_invalid(source + " line " + std::to_string(open_line) + ": tag is not closed");
  docs.erase(
      std::remove_if(docs.begin(), docs.end(),
                     [](const AnnotatedDocument& d) { return d.text.find_first_not_of(" \t\n") == std::string::npos; }),
      docs.end());
  return docs;
}

DeidScore score_deid(const std::vector<AnnotatedDocument>& documents) {
  DeidScore s;
  size_t hit_tokens = 0, removed = 0;                    // hit: gold and predicted
  std::map<PhiKind, std::pair<size_t, size_t>> by_kind;  // removed, total
  static const regex token("[A-Za-z0-9]+");
  for (const auto& d : documents) {
    ++s.documents;
    const auto predicted = find_phi(d.text);
    const auto inside = [](const std::vector<PhiSpan>& spans, size_t b, size_t e) {
      for (const auto& p : spans)
        if (b < p.end && p.begin < e) return true;
      return false;
    };
    for (auto it = std::sregex_iterator(d.text.begin(), d.text.end(), token); it != std::sregex_iterator(); ++it) {
      const auto b = static_cast<size_t>(it->position(0)), e = b + static_cast<size_t>(it->length(0));
      const bool gold = inside(d.gold, b, e), pred = inside(predicted, b, e);
      s.gold_tokens += gold;
      s.predicted_tokens += pred;
      hit_tokens += gold && pred;
    }
    for (const auto& g : d.gold) {
      bool all = true;
      const std::string value = d.text.substr(g.begin, g.end - g.begin);
      for (auto it = std::sregex_iterator(value.begin(), value.end(), token); it != std::sregex_iterator(); ++it) {
        const size_t b = g.begin + static_cast<size_t>(it->position(0));
        all = all && inside(predicted, b, b + static_cast<size_t>(it->length(0)));
      }
      ++s.gold_spans;
      removed += all;
      auto& k = by_kind[g.kind];
      k.first += all;
      ++k.second;
      if (!all) s.missed.push_back(std::string(phi_kind_name(g.kind)) + ": " + value);
    }
  }
  const auto ratio = [](size_t a, size_t b) { return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0; };
  s.token_recall = ratio(hit_tokens, s.gold_tokens);
  s.token_precision = ratio(hit_tokens, s.predicted_tokens);
  s.token_f1 = s.token_recall + s.token_precision > 0
                   ? 2 * s.token_recall * s.token_precision / (s.token_recall + s.token_precision)
                   : 0.0;
  s.span_recall = ratio(removed, s.gold_spans);
  for (const auto& [kind, c] : by_kind) s.span_recall_by_kind.emplace_back(kind, ratio(c.first, c.second));
  return s;
}

}  // namespace medai::text
