#pragma once
// Minimal RFC-4180 CSV: quoted fields, commas and quotes inside quotes, LF or CRLF.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace medai::io {

struct CsvTable {
  std::filesystem::path source;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each has header.size() fields
  // Column index by name; throws InvalidInput naming the file when absent.
  size_t column(const std::string& name) const;
  std::optional<size_t> find_column(const std::string& name) const;
};

CsvTable read_csv(const std::filesystem::path& path);
CsvTable parse_csv(const std::string& text, const std::filesystem::path& source);
std::string csv_escape(const std::string& field);
// Comma-separated names ("a,b,c"; spaces around items trimmed) as a list; "" gives none; an empty
// item is an error naming `flag`.
std::vector<std::string> split_names(const std::string& text, const std::string& flag);
// The whole of `text` read as a number (std::stod: "nan" and "inf" included, so callers decide
// about finiteness); nothing when it is empty, partly a number, or out of range.
std::optional<double> parse_number(const std::string& text);

}  // namespace medai::io
