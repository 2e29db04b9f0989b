#pragma once
// Training curves: one row per epoch (or iteration), written as curves.csv and drawn as
// curves.png. Every trainer writes its curves through this table, so their files look alike.
#include <array>
#include <filesystem>
#include <string>
#include <vector>

namespace medai::train {

struct CurveColumn {
  std::string name;
  int decimals = 6;  // digits after the point in the CSV
};

struct CurvePanel {
  std::string title, x_label, y_label;
  std::string x_column;                              // e.g. "epoch"
  std::vector<std::string> columns, legends;         // y columns and their legend names (default: the column)
  std::vector<std::array<unsigned char, 3>> colors;  // default: a fixed palette
  bool markers = true;
};

class Curves {
 public:
  explicit Curves(std::vector<CurveColumn> columns);
  // Values in column order; a row of the wrong width is an internal error.
  void add(const std::vector<double>& row);
  const std::vector<std::vector<double>>& rows() const { return rows_; }
  std::string to_csv() const;
  // Rows whose `column` equals `value` (e.g. one ensemble member's epochs).
  Curves where(const std::string& column, double value) const;
  // `dir`/`name`.csv atomically, and `name`.png with the panels when there are any.
  void write(const std::filesystem::path& dir, const std::vector<CurvePanel>& panels,
             const std::string& name = "curves") const;
  void plot(const std::filesystem::path& png, const std::vector<CurvePanel>& panels) const;

 private:
  size_t index(const std::string& column) const;
  std::vector<CurveColumn> columns_;
  std::vector<std::vector<double>> rows_;
};

}  // namespace medai::train
