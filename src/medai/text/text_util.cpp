#include "medai/text/text_util.h"

#include <algorithm>
#include <array>
#include <unordered_set>

#include "medai/core/error.h"

namespace medai::text {

namespace {
bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
bool is_word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || u >= 0x80;
}
}  // namespace

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // truncated sequence
    for (int k = 1; k <= extra; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr std::array<uint32_t, 4> kMin = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

void check_text(std::string_view text, const std::string& what) {
  if (!is_valid_utf8(text)) fail_invalid(what + ": not valid UTF-8 text");
  if (std::all_of(text.begin(), text.end(), is_space)) fail_invalid(what + ": empty text");
}

std::string normalise_whitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending = false;
  for (char c : text) {
    if (is_space(c)) {
      pending = !out.empty();
      continue;
    }
    if (pending) out.push_back(' ');
    pending = false;
    out.push_back(c);
  }
  return out;
}

std::vector<std::string> word_tokens(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (is_word_byte(c)) {
      cur.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

bool is_stop_word(const std::string& w) {
  static const std::unordered_set<std::string> kStop = {
      "a",     "an",    "the",    "and",   "or",   "but",   "if",    "of",    "at",    "by",   "for",  "with",
      "about", "to",    "from",   "in",    "on",   "into",  "over",  "under", "is",    "are",  "was",  "were",
      "be",    "been",  "being",  "am",    "do",   "does",  "did",   "have",  "has",   "had",  "it",   "its",
      "this",  "that",  "these",  "those", "i",    "me",    "my",    "we",    "our",   "you",  "your", "he",
      "him",   "his",   "she",    "her",   "they", "them",  "their", "what",  "which", "who",  "whom", "as",
      "so",    "than",  "too",    "very",  "can",  "will",  "just",  "there", "here",  "then", "also", "s",
      "t",     "would", "should", "could", "may",  "might", "shall", "such",  "any",   "each", "all",  "some"};
  return kStop.count(w) > 0;
}

}  // namespace medai::text
