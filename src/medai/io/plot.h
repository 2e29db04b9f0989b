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
  bool diagonal = false;  // dashed y = x reference line (ROC, reliability)
  std::vector<Series> series;
};

void save_plot(const std::filesystem::path& path, const std::vector<PlotPanel>& panels, int panel_width = 480,
               int panel_height = 400);

}  // namespace medai::io
