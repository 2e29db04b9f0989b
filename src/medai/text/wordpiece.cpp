#include "medai/text/wordpiece.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/text/text_util.h"

namespace medai::text {

namespace {

// Decodes one UTF-8 code point at `i` (the text is valid UTF-8: check_text ran first).
char32_t next_code_point(std::string_view s, size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (int k = 1; k < n && i + static_cast<size_t>(k) < s.size(); ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3F);
  i += static_cast<size_t>(n);
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_whitespace(char32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xA0 || c == 0x3000 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x202F || c == 0x205F || c == 0x1680;
}
bool is_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  return c < 0x20 || (c >= 0x7F && c < 0xA0) || c == 0x200B || c == 0xFEFF;
}
bool is_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  return (c >= 0xA1 && c <= 0xBF && c != 0xAA && c != 0xBA && c != 0xB2 && c != 0xB3 && c != 0xB9 && c != 0xBC &&
          c != 0xBD && c != 0xBE && c != 0xB5) ||
         (c >= 0x2010 && c <= 0x2027) || (c >= 0x2030 && c <= 0x205E) || (c >= 0x3001 && c <= 0x3003) ||
         (c >= 0x3008 && c <= 0x3011);
}
bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2CEAF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Lower case of ASCII, Latin-1 and Latin Extended-A letters.
char32_t lower(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c >= 0x100 && c <= 0x17F) {
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c % 2 == 1) ? c + 1 : c;
    if (c == 0x138) return c;
    if (c == 0x178) return 0xFF;
    if (c == 0x130) return 'i';
    return (c % 2 == 0) ? c + 1 : c;
  }
  return c;
}

// The base letter of an accented Latin-1 / Latin Extended-A letter (NFD minus the marks).
char32_t strip_accent(char32_t c) {
  static const char* kLatin1 =  // U+00C0..U+00FF; '\0' keeps the character
      "AAAAAA\0CEEEEIIII\0NOOOOO\0\0UUUUY\0\0aaaaaa\0ceeeeiiii\0nooooo\0\0uuuuy\0y";
  if (c >= 0xC0 && c <= 0xFF) {
    const char b = kLatin1[c - 0xC0];
    return b ? static_cast<char32_t>(b) : c;
  }
  if (c >= 0x100 && c <= 0x17F) {
    static const char* kExtA =  // U+0100..U+017F
        "AaAaAaCcCcCcCcDd\0\0EeEeEeEeEeGgGgGgGgHh\0\0IiIiIiIiI\0\0\0JjKk\0LlLlLl\0\0\0\0NnNnNn\0\0\0OoOoOo\0\0RrRrRrSsS"
        "s"
        "SsSsTtTt\0\0UuUuUuUuUuUuWwYyYZzZzZz\0";
    const char b = kExtA[c - 0x100];
    return b ? static_cast<char32_t>(b) : c;
  }
  if (c >= 0x300 && c <= 0x36F) return 0;  // a combining mark on its own
  return c;
}

}  // namespace

WordPieceTokenizer WordPieceTokenizer::load_folder(const std::filesystem::path& dir) {
  WordPieceOptions options;
  const auto config = dir / "tokenizer_config.json";
  if (std::filesystem::exists(config)) {
    const auto j = nlohmann::json::parse(core::read_file(config), nullptr, false);
    if (!j.is_object()) fail_invalid(config.string() + ": not a JSON object");
    if (j.contains("do_lower_case")) {
      if (!j["do_lower_case"].is_boolean()) fail_invalid(config.string() + ": field 'do_lower_case' is not true/false");
      options.lower_case = options.strip_accents = j["do_lower_case"].get<bool>();
    }
    if (j.contains("strip_accents") && j["strip_accents"].is_boolean())
      options.strip_accents = j["strip_accents"].get<bool>();
  }
  return load(dir / "vocab.txt", options);
}

WordPieceTokenizer WordPieceTokenizer::from_tokens(std::vector<std::string> tokens, WordPieceOptions options,
                                                   const std::string& source) {
  if (tokens.empty()) fail_invalid(source + ": empty vocabulary");
  WordPieceTokenizer t;
  t.options_ = options;
  t.source_ = source;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (!t.ids_.emplace(tokens[i], static_cast<int64_t>(i)).second && !tokens[i].empty())
      fail_invalid(source + " line " + std::to_string(i + 1) + ": token '" + tokens[i] + "' is listed twice");
  t.tokens_ = std::move(tokens);
  const auto special = [&](const char* name) {
    const auto it = t.ids_.find(name);
    if (it == t.ids_.end()) fail_invalid(source + ": the vocabulary has no " + name + " token");
    return it->second;
  };
  t.pad_ = special("[PAD]");
  t.unk_ = special("[UNK]");
  t.cls_ = special("[CLS]");
  t.sep_ = special("[SEP]");
  t.mask_ = special("[MASK]");
  return t;
}

WordPieceTokenizer WordPieceTokenizer::load(const std::filesystem::path& vocab_txt, WordPieceOptions options) {
  const std::string bytes = core::read_file(vocab_txt);
  if (!is_valid_utf8(bytes)) fail_invalid(vocab_txt.string() + ": not valid UTF-8");
  std::vector<std::string> tokens;
  size_t at = 0;
  while (at < bytes.size()) {
    size_t end = bytes.find('\n', at);
    if (end == std::string::npos) end = bytes.size();
    std::string line = bytes.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    tokens.push_back(std::move(line));
    at = end + 1;
  }
  return from_tokens(std::move(tokens), options, vocab_txt.string());
}

std::vector<std::string> WordPieceTokenizer::basic_tokens(std::string_view text) const {
  if (!is_valid_utf8(text)) fail_invalid("tokenizer input: not valid UTF-8 text");
  std::vector<std::string> out;
  std::string cur;
  const auto flush = [&] {
    if (!cur.empty()) out.push_back(std::move(cur)), cur.clear();
  };
  for (size_t i = 0; i < text.size();) {
    char32_t c = next_code_point(text, i);
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_whitespace(c)) {
      flush();
      continue;
    }
    if (options_.lower_case) c = lower(c);
    if (options_.strip_accents) {
      c = strip_accent(c);
      if (c == 0) continue;
    }
    if (is_punctuation(c) || is_cjk(c)) {
      flush();
      append_utf8(cur, c);
      flush();
      continue;
    }
    append_utf8(cur, c);
  }
  flush();
  return out;
}

void WordPieceTokenizer::wordpiece(const std::string& word, std::vector<std::string>& out) const {
  size_t chars = 0;
  for (char c : word) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  if (chars > options_.max_chars_per_word) {
    out.push_back(tokens_[static_cast<size_t>(unk_)]);
    return;
  }
  std::vector<std::string> pieces;
  size_t start = 0;
  while (start < word.size()) {
    size_t end = word.size();
    std::string found;
    while (end > start) {
      std::string piece = (start > 0 ? "##" : "") + word.substr(start, end - start);
      if (ids_.count(piece)) {
        found = std::move(piece);
        break;
      }
      do --end;  // back off one whole code point
      while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80);
    }
    if (found.empty()) {
      out.push_back(tokens_[static_cast<size_t>(unk_)]);
      return;
    }
    pieces.push_back(std::move(found));
    start = end;
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  // Special tokens written in the text stay whole (as HF's added tokens); the rest is split.
  static const std::string_view kSpecial[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= text.size()) {
    size_t next = std::string_view::npos;
    std::string_view which;
    for (const auto sp : kSpecial) {
      const size_t f = text.find(sp, at);
      if (f < next) next = f, which = sp;
    }
    for (const auto& w : basic_tokens(text.substr(at, next == std::string_view::npos ? text.npos : next - at)))
      wordpiece(w, out);
    if (next == std::string_view::npos) break;
    out.emplace_back(which);
    at = next + which.size();
  }
  return out;
}

void WordPieceTokenizer::save(const std::filesystem::path& dir, int64_t max_length) const {
  std::string vocab;
  for (const auto& t : tokens_) {
    vocab += t;
    vocab += '\n';
  }
  core::write_file_atomic(dir / "vocab.txt", vocab);
  const nlohmann::json config = {{"do_lower_case", options_.lower_case},
                                 {"strip_accents", options_.strip_accents},
                                 {"model_max_length", max_length},
                                 {"tokenizer_class", "BertTokenizer"}};
  core::write_file_atomic(dir / "tokenizer_config.json", config.dump(2) + "\n");
}

std::vector<int64_t> WordPieceTokenizer::token_ids(std::string_view text) const {
  std::vector<int64_t> out;
  for (const auto& t : tokenize(text)) out.push_back(id(t));
  return out;
}

const std::string& WordPieceTokenizer::token(int64_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size())
    fail_invalid(source_ + ": token id " + std::to_string(id) + " is outside the vocabulary (" +
                 std::to_string(tokens_.size()) + " tokens)");
  return tokens_[static_cast<size_t>(id)];
}

int64_t WordPieceTokenizer::id(const std::string& token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? unk_ : it->second;
}

}  // namespace medai::text
