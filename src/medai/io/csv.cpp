#include "medai/io/csv.h"

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"

namespace medai::io {

namespace {
std::vector<std::vector<std::string>> split_records(const std::string& text, const std::string& name) {
  std::vector<std::vector<std::string>> recs;
  std::vector<std::string> rec;
  std::string field;
  bool quoted = false, any = false;
  size_t i = 0;
  if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;  // UTF-8 BOM
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field.push_back(c);
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
      any = true;
    } else if (c == ',') {
      rec.push_back(std::move(field));
      field.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !field.empty()) {
        rec.push_back(std::move(field));
        recs.push_back(std::move(rec));
      }
      rec.clear();
      field.clear();
      any = false;
    } else {
      field.push_back(c);
      any = true;
    }
  }
  if (quoted) fail_invalid(name + ": unterminated quoted field at end of file");
  if (any || !field.empty()) {
    rec.push_back(std::move(field));
    recs.push_back(std::move(rec));
  }
  return recs;
}
}  // namespace

CsvTable parse_csv(const std::string& text, const std::filesystem::path& source) {
  const std::string name = source.string();
  auto recs = split_records(text, name);
  if (recs.empty()) fail_invalid(name + ": CSV is empty (no header row)");
  CsvTable t;
  t.source = source;
  t.header = std::move(recs[0]);
  for (auto& h : t.header) {
    while (!h.empty() && h.back() == ' ') h.pop_back();
    while (!h.empty() && h.front() == ' ') h.erase(h.begin());
  }
  for (size_t r = 1; r < recs.size(); ++r) {
    if (recs[r].size() != t.header.size())
      fail_invalid(name + ": line " + std::to_string(r + 1) + " has " + std::to_string(recs[r].size()) +
                   " fields, header has " + std::to_string(t.header.size()));
    t.rows.push_back(std::move(recs[r]));
  }
  return t;
}

CsvTable read_csv(const std::filesystem::path& path) { return parse_csv(core::read_file(path), path); }

std::optional<size_t> CsvTable::find_column(const std::string& name) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  return std::nullopt;
}

size_t CsvTable::column(const std::string& name) const {
  if (auto i = find_column(name)) return *i;
  fail_invalid(source.string() + ": missing column '" + name + "'");
}

std::string csv_escape(const std::string& f) {
  if (f.find_first_of(",\"\n\r") == std::string::npos) return f;
  std::string out = "\"";
  for (char c : f) {
    if (c == '"') out += "\"\"";
    else out.push_back(c);
  }
  return out + "\"";
}

std::optional<double> parse_number(const std::string& text) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used != text.size()) return std::nullopt;
  return v;
}

std::vector<std::string> split_names(const std::string& text, const std::string& flag) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (item.empty()) fail_invalid(flag + " '" + text + "': an empty name in the list");
    out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace medai::io
