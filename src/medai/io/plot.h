#pragma once
// Small line plots written as PNG (training curves, ROC curves, reliability diagrams), so people
// can look instead of read. Several panels side by side in one image.
#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace medai::io {

struct Series {
  std::string name;
  std::vector<double> x, y;
  std::array<unsigned char, 3> rgb{31, 119, 180};
  bool markers = false;
  std::vector<std::string> point_labels;  // drawn beside each point when given (e.g. bin counts)
};

struct PlotPanel {
  std::string title, x_label, y_label;
  std::optional<std::pair<double, double>> x_range, y_range;
  bool diagonal = false;                           // dashed y = x reference line (ROC, reliability)
  std::vector<std::pair<double, double>> y_bands;  // shaded horizontal bands (e.g. 70-180 mg/dL)
  bool bars = false;  // draw series as vertical bars from 0 (doses, meals) instead of lines
  std::vector<Series> series;
};

void save_plot(const std::filesystem::path& path, const std::vector<PlotPanel>& panels, int panel_width = 480,
               int panel_height = 400);
// Panels stacked top to bottom (time series sharing an x axis).
void save_plot_stacked(const std::filesystem::path& path, const std::vector<PlotPanel>& panels, int width,
                       const std::vector<int>& heights);

}  // namespace medai::io
