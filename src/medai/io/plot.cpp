#include "medai/io/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "medai/io/image.h"

namespace medai::io {

namespace {
cv::Scalar bgr(const std::array<unsigned char, 3>& c) { return cv::Scalar(c[2], c[1], c[0]); }

std::string tick_label(double v) {
  char buf[32];
  if (std::fabs(v) >= 1000 || (std::fabs(v) < 0.01 && v != 0)) std::snprintf(buf, sizeof buf, "%.2g", v);
  else std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

void draw_panel(cv::Mat& canvas, const cv::Rect& area, const PlotPanel& p) {
  const int left = 60, right = 15, top = 30, bottom = 45;
  cv::Rect plot(area.x + left, area.y + top, area.width - left - right, area.height - top - bottom);
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& s : p.series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]);
      y1 = std::max(y1, s.y[i]);
    }
  if (p.x_range) std::tie(x0, x1) = *p.x_range;
  if (p.y_range) std::tie(y0, y1) = *p.y_range;
  if (!(x1 > x0)) {
    x0 -= 0.5;
    x1 = x0 + 1;
  }
  if (!(y1 > y0)) {
    y0 -= 0.5;
    y1 = y0 + 1;
  }
  if (!p.y_range) {
    double pad = 0.05 * (y1 - y0);
    y0 -= pad;
    y1 += pad;
  }
  auto px = [&](double x, double y) {
    return cv::Point(plot.x + static_cast<int>((x - x0) / (x1 - x0) * plot.width),
                     plot.y + plot.height - static_cast<int>((y - y0) / (y1 - y0) * plot.height));
  };
  const cv::Scalar grid(225, 225, 225), black(0, 0, 0);
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  for (int k = 0; k <= 4; ++k) {
    double fx = x0 + (x1 - x0) * k / 4, fy = y0 + (y1 - y0) * k / 4;
    cv::line(canvas, px(fx, y0), px(fx, y1), grid, 1);
    cv::line(canvas, px(x0, fy), px(x1, fy), grid, 1);
    cv::putText(canvas, tick_label(fx), px(fx, y0) + cv::Point(-12, 16), font, 0.38, black, 1, cv::LINE_AA);
    cv::putText(canvas, tick_label(fy), px(x0, fy) + cv::Point(-52, 4), font, 0.38, black, 1, cv::LINE_AA);
  }
  for (const auto& [lo, hi] : p.y_bands) {
    cv::Point a = px(x0, std::min(std::max(hi, y0), y1)), b = px(x1, std::max(std::min(lo, y1), y0));
    cv::Mat roi = canvas(cv::Rect(a, b) & plot);
    roi = roi * 0.75 + cv::Scalar(190, 235, 190) * 0.25;  // translucent green
  }
  cv::rectangle(canvas, plot, black, 1);
  if (p.diagonal) {
    double lo = std::max(x0, y0), hi = std::min(x1, y1);
    for (int k = 0; k < 40; k += 2)
      cv::line(canvas, px(lo + (hi - lo) * k / 40, lo + (hi - lo) * k / 40),
               px(lo + (hi - lo) * (k + 1) / 40, lo + (hi - lo) * (k + 1) / 40), cv::Scalar(150, 150, 150), 1);
  }
  for (const auto& s : p.series) {
    std::vector<cv::Point> pts;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) pts.push_back(px(s.x[i], s.y[i]));
    if (p.bars) {
      for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
        if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && s.y[i] != 0)
          cv::line(canvas, px(s.x[i], std::max(y0, 0.0)), px(s.x[i], s.y[i]), bgr(s.rgb), 2);
      pts.clear();
    } else if (pts.size() >= 2) {
      cv::polylines(canvas, pts, false, bgr(s.rgb), 2, cv::LINE_AA);
    }
    if (s.markers || pts.size() == 1)
      for (const auto& q : pts) cv::circle(canvas, q, 3, bgr(s.rgb), cv::FILLED, cv::LINE_AA);
    for (size_t i = 0; i < s.point_labels.size() && i < pts.size(); ++i)
      cv::putText(canvas, s.point_labels[i], pts[i] + cv::Point(5, 14), font, 0.35, cv::Scalar(90, 90, 90), 1,
                  cv::LINE_AA);
  }
  cv::putText(canvas, p.title, cv::Point(area.x + left + 70, area.y + 18), font, 0.5, black, 1, cv::LINE_AA);
  cv::putText(canvas, p.x_label, cv::Point(plot.x + plot.width / 2 - 30, plot.y + plot.height + 36), font, 0.42, black,
              1, cv::LINE_AA);
  cv::putText(canvas, p.y_label, cv::Point(area.x + 4, area.y + top - 4), font, 0.38, cv::Scalar(80, 80, 80), 1,
              cv::LINE_AA);
  int ly = plot.y + 14;
  for (const auto& s : p.series) {
    if (s.name.empty()) continue;
    cv::line(canvas, cv::Point(plot.x + plot.width - 150, ly - 4), cv::Point(plot.x + plot.width - 130, ly - 4),
             bgr(s.rgb), 2);
    cv::putText(canvas, s.name, cv::Point(plot.x + plot.width - 125, ly), font, 0.4, black, 1, cv::LINE_AA);
    ly += 16;
  }
}
}  // namespace

void save_plot(const std::filesystem::path& path, const std::vector<PlotPanel>& panels, int w, int h) {
  int n = std::max<int>(1, static_cast<int>(panels.size()));
  cv::Mat canvas(h, w * n, CV_8UC3, cv::Scalar(255, 255, 255));
  for (int i = 0; i < static_cast<int>(panels.size()); ++i) draw_panel(canvas, cv::Rect(i * w, 0, w, h), panels[i]);
  write_png(path, canvas);
}

void save_plot_stacked(const std::filesystem::path& path, const std::vector<PlotPanel>& panels, int w,
                       const std::vector<int>& heights) {
  int total = 0;
  for (size_t i = 0; i < panels.size(); ++i) total += i < heights.size() ? heights[i] : 300;
  cv::Mat canvas(std::max(total, 1), w, CV_8UC3, cv::Scalar(255, 255, 255));
  int y = 0;
  for (size_t i = 0; i < panels.size(); ++i) {
    int h = i < heights.size() ? heights[i] : 300;
    draw_panel(canvas, cv::Rect(0, y, w, h), panels[i]);
    y += h;
  }
  write_png(path, canvas);
}

}  // namespace medai::io
