#pragma once
// Rule-based de-identification of clinical free text along the HIPAA Safe Harbor categories
// (45 CFR 164.514(b)(2)): names, dates (years kept), ages over 89, phone and fax numbers, e-mail
// addresses, identifying numbers (medical record, account, SSN, licence, device, ...), street
// addresses and ZIP codes, URLs and IP addresses.
//
// Within one document every distinct value gets one placeholder ("[NAME-1]", "[DATE-2]"), so a
// reader can still follow who did what; a surname seen once with a title ("Dr. Kumar") is also
// replaced where it later stands alone. Ages over 89 become "90+". Rules miss what they do not
// describe (a name without a title, cue or common first name, a hospital or city name): measured
// recall is in docs/text.md, and the output is a draft for review, not a guarantee.
#include <string>
#include <string_view>
#include <vector>

namespace medai::text {

enum class PhiKind { kName, kDate, kAge, kPhone, kFax, kEmail, kId, kAddress, kUrl, kIp };
const char* phi_kind_name(PhiKind kind);  // "NAME", "DATE", ...

struct PhiSpan {
  size_t begin = 0, end = 0;  // byte offsets into the document, end exclusive
  PhiKind kind = PhiKind::kName;
  std::string replacement;
};

struct Deidentified {
  std::string text;
  std::vector<PhiSpan> spans;  // in the input's offsets, ascending, non-overlapping
};

// The PHI spans of one document (ascending, non-overlapping), without replacements.
std::vector<PhiSpan> find_phi(std::string_view document);

enum class DeidStyle {
  kNumbered,  // "[NAME-1]": the same value gets the same number within the document
  kKind,      // "[NAME]"
};
Deidentified deidentify(std::string_view document, DeidStyle style = DeidStyle::kNumbered);

// Documents annotated inline as <NAME>John Smith</NAME> (any PhiKind name as the tag), one
// document per block separated by a line holding only "---". Fails naming `source` and the line
// on an unknown or unbalanced tag.
struct AnnotatedDocument {
  std::string text;
  std::vector<PhiSpan> gold;
};
std::vector<AnnotatedDocument> parse_annotated_documents(std::string_view annotated, const std::string& source);

// Token-level (alphanumeric runs) recall / precision of find_phi against the gold spans, as in
// the i2b2 de-identification evaluations ("binary": any kind counts as PHI), plus the share of
// gold spans removed entirely and recall per kind.
struct DeidScore {
  double token_recall = 0, token_precision = 0, token_f1 = 0, span_recall = 0;
  size_t gold_spans = 0, gold_tokens = 0, predicted_tokens = 0, documents = 0;
  std::vector<std::pair<PhiKind, double>> span_recall_by_kind;  // kinds present in the gold set
  std::vector<std::string> missed;                              // gold span texts not fully removed
};
DeidScore score_deid(const std::vector<AnnotatedDocument>& documents);

}  // namespace medai::text
