#pragma once
// Text primitives shared by the tokenizers, retrieval, classification and de-identification.
#include <string>
#include <string_view>
#include <vector>

namespace medai::text {

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code points > U+10FFFF).
bool is_valid_utf8(std::string_view text);
// Fails (InvalidInput) naming `what` (e.g. "data.csv row 12, column 'answer'") when `text` is not
// UTF-8 or holds nothing but whitespace.
void check_text(std::string_view text, const std::string& what);

// Runs of ASCII whitespace collapsed to one space, none at either end.
std::string normalise_whitespace(std::string_view text);

// Lower-cased word tokens for bag-of-words models: runs of ASCII letters and digits (non-ASCII
// bytes are kept inside words, so accented words stay whole); everything else separates.
std::vector<std::string> word_tokens(std::string_view text);

// A short English stop-word list (articles, pronouns, auxiliaries, prepositions).
bool is_stop_word(const std::string& lower_word);

}  // namespace medai::text
