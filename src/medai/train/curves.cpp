#include "medai/train/curves.h"

#include <cstdio>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/io/plot.h"

namespace medai::train {

namespace {
constexpr std::array<std::array<unsigned char, 3>, 4> kPalette{
    {{31, 119, 180}, {214, 39, 40}, {44, 160, 44}, {148, 103, 189}}};
}  // namespace

Curves::Curves(std::vector<CurveColumn> columns) : columns_(std::move(columns)) {}

void Curves::add(const std::vector<double>& row) {
  if (row.size() != columns_.size())
    throw Error(ErrorCode::Internal, "curves: a row of " + std::to_string(row.size()) + " values for " +
                                         std::to_string(columns_.size()) + " columns");
  rows_.push_back(row);
}

size_t Curves::index(const std::string& column) const {
  for (size_t i = 0; i < columns_.size(); ++i)
    if (columns_[i].name == column) return i;
  throw Error(ErrorCode::Internal, "curves: no column '" + column + "'");
}

std::string Curves::to_csv() const {
  std::string csv;
  for (size_t i = 0; i < columns_.size(); ++i) csv += (i ? "," : "") + columns_[i].name;
  csv += "\n";
  char cell[64];
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) {
      std::snprintf(cell, sizeof cell, "%s%.*f", i ? "," : "", columns_[i].decimals, row[i]);
      csv += cell;
    }
    csv += "\n";
  }
  return csv;
}

Curves Curves::where(const std::string& column, double value) const {
  Curves out(columns_);
  const size_t c = index(column);
  for (const auto& row : rows_)
    if (row[c] == value) out.rows_.push_back(row);
  return out;
}

void Curves::write(const std::filesystem::path& dir, const std::vector<CurvePanel>& panels,
                   const std::string& name) const {
  core::write_file_atomic(dir / (name + ".csv"), to_csv());
  if (!panels.empty()) plot(dir / (name + ".png"), panels);
}

void Curves::plot(const std::filesystem::path& png, const std::vector<CurvePanel>& panels) const {
  std::vector<io::PlotPanel> plots;
  for (const auto& p : panels) {
    io::PlotPanel plot{p.title, p.x_label, p.y_label};
    const size_t xc = index(p.x_column);
    for (size_t k = 0; k < p.columns.size(); ++k) {
      io::Series s;
      s.name = k < p.legends.size() ? p.legends[k] : p.columns[k];
      s.rgb = k < p.colors.size() ? p.colors[k] : kPalette[k % kPalette.size()];
      s.markers = p.markers;
      const size_t yc = index(p.columns[k]);
      for (const auto& row : rows_) {
        s.x.push_back(row[xc]);
        s.y.push_back(row[yc]);
      }
      plot.series.push_back(std::move(s));
    }
    plots.push_back(std::move(plot));
  }
  io::save_plot(png, plots);
}

}  // namespace medai::train
