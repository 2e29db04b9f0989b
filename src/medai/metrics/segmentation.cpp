#include "medai/metrics/segmentation.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>

#include "medai/core/error.h"

namespace medai::metrics {

namespace {

cv::Mat as_mat(const std::vector<uint8_t>& mask, int width, int height) {
  if (width < 1 || height < 1 || mask.size() != static_cast<size_t>(width) * height)
    throw Error(ErrorCode::Internal, "segmentation metrics: mask size does not match its width x height");
  cv::Mat m(height, width, CV_8U);
  for (size_t i = 0; i < mask.size(); ++i) m.data[i] = mask[i] ? 255 : 0;
  return m;
}

Instances from_labels(const cv::Mat& labels, int count) {
  Instances r;
  r.width = labels.cols;
  r.height = labels.rows;
  r.count = count;
  r.labels.assign(labels.ptr<int32_t>(), labels.ptr<int32_t>() + labels.total());
  return r;
}

}  // namespace

Overlap overlap(const std::vector<uint8_t>& p, const std::vector<uint8_t>& t) {
  if (p.size() != t.size()) throw Error(ErrorCode::Internal, "segmentation metrics: masks of different sizes");
  int64_t inter = 0, sp = 0, st = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const bool a = p[i] != 0, b = t[i] != 0;
    inter += a && b;
    sp += a;
    st += b;
  }
  Overlap o;
  if (sp + st == 0) return o;
  o.dice = 2.0 * inter / (sp + st);
  o.iou = static_cast<double>(inter) / (sp + st - inter);
  return o;
}

Instances connected_components(const std::vector<uint8_t>& mask, int width, int height) {
  cv::Mat labels;
  const int n = cv::connectedComponents(as_mat(mask, width, height), labels, 8, CV_32S);
  return from_labels(labels, n - 1);
}

Instances watershed_instances(const std::vector<uint8_t>& mask, int width, int height, double min_peak) {
  cv::Mat m = as_mat(mask, width, height), dist, dilated;
  cv::distanceTransform(m, dist, cv::DIST_L2, 3);
  cv::dilate(dist, dilated, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(7, 7)));
  cv::Mat peaks = (dist >= dilated) & (dist >= min_peak) & m;
  cv::Mat markers;
  const int n_markers = cv::connectedComponents(peaks, markers, 8, CV_32S);
  if (n_markers <= 1) return connected_components(mask, width, height);  // nothing to split on
  // Objects without a peak (small ones) keep a marker of their own.
  cv::Mat cc;
  const int n_cc = cv::connectedComponents(m, cc, 8, CV_32S);
  std::vector<char> has_marker(n_cc, 0);
  for (size_t i = 0; i < m.total(); ++i)
    if (markers.at<int32_t>(static_cast<int>(i)) > 0) has_marker[cc.at<int32_t>(static_cast<int>(i))] = 1;
  int next = n_markers;
  std::vector<int> extra(n_cc, 0);
  for (int k = 1; k < n_cc; ++k)
    if (!has_marker[k]) extra[k] = next++;
  for (size_t i = 0; i < m.total(); ++i) {
    const int c = cc.at<int32_t>(static_cast<int>(i));
    if (c > 0 && extra[c]) markers.at<int32_t>(static_cast<int>(i)) = extra[c];
  }
  // Flood the inverted distance (background highest) from the object markers; the basins run
  // into the background too, but only foreground pixels are kept.
  cv::Mat relief, relief3;
  cv::normalize(-dist, relief, 0, 255, cv::NORM_MINMAX, CV_8U);
  cv::cvtColor(relief, relief3, cv::COLOR_GRAY2BGR);
  cv::watershed(relief3, markers);
  cv::Mat labels = cv::Mat::zeros(m.size(), CV_32S);
  for (size_t i = 0; i < m.total(); ++i)
    if (m.data[i]) labels.ptr<int32_t>()[i] = std::max(0, markers.ptr<int32_t>()[i]);
  // Ridge pixels (-1) inside the mask join a labelled neighbour, so no foreground is lost.
  for (bool changed = true; changed;) {
    changed = false;
    for (int y = 0; y < m.rows; ++y)
      for (int x = 0; x < m.cols; ++x) {
        if (!m.at<uint8_t>(y, x) || labels.at<int32_t>(y, x) > 0) continue;
        for (int dy = -1; dy <= 1 && labels.at<int32_t>(y, x) == 0; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            const int yy = y + dy, xx = x + dx;
            if (yy < 0 || xx < 0 || yy >= m.rows || xx >= m.cols) continue;
            if (const int v = labels.at<int32_t>(yy, xx); v > 0) {
              labels.at<int32_t>(y, x) = v;
              changed = true;
              break;
            }
          }
      }
  }
  // Renumber 1..count.
  std::vector<int32_t> map(next + 1, 0);
  int count = 0;
  for (size_t i = 0; i < labels.total(); ++i) {
    int32_t& l = labels.at<int32_t>(static_cast<int>(i));
    if (l > 0) {
      if (!map[l]) map[l] = ++count;
      l = map[l];
    }
  }
  return from_labels(labels, count);
}

InstanceScores instance_scores(const Instances& p, const Instances& t) {
  if (p.labels.size() != t.labels.size())
    throw Error(ErrorCode::Internal, "segmentation metrics: instance maps of different sizes");
  InstanceScores s;
  s.predicted = p.count;
  s.truth = t.count;
  if (p.count == 0 && t.count == 0) return s;
  // Pixel counts of every (predicted, true) pair, then IoU of each.
  const size_t np = p.count + 1, nt = t.count + 1;
  std::vector<int64_t> inter(np * nt, 0), area_p(np, 0), area_t(nt, 0);
  for (size_t i = 0; i < p.labels.size(); ++i) {
    ++inter[p.labels[i] * nt + t.labels[i]];
    ++area_p[p.labels[i]];
    ++area_t[t.labels[i]];
  }
  // An IoU above 0.5 pairs objects uniquely, so matching at thresholds >= 0.5 is a count.
  std::vector<double> best_iou;  // of each true object with a partner above 0.5
  for (size_t a = 1; a < np; ++a)
    for (size_t b = 1; b < nt; ++b) {
      const int64_t i = inter[a * nt + b];
      if (i == 0) continue;
      const double iou = static_cast<double>(i) / (area_p[a] + area_t[b] - i);
      if (iou > 0.5) best_iou.push_back(iou);
    }
  s.matched = static_cast<int>(best_iou.size());
  s.f1 = 2.0 * s.matched / (s.predicted + s.truth);
  double sum = 0;
  for (int k = 0; k < 10; ++k) {
    const double thr = 0.5 + 0.05 * k;
    const auto tp = std::count_if(best_iou.begin(), best_iou.end(), [thr](double v) { return v > thr; });
    sum += static_cast<double>(tp) / (s.predicted + s.truth - tp);  // TP / (TP + FP + FN)
  }
  s.ap = sum / 10;
  return s;
}

std::vector<uint8_t> otsu_mask(const std::vector<uint8_t>& grey, int width, int height) {
  cv::Mat g(height, width, CV_8U), bin;
  if (grey.size() != g.total()) throw Error(ErrorCode::Internal, "otsu_mask: size does not match width x height");
  std::copy(grey.begin(), grey.end(), g.data);
  cv::threshold(g, bin, 0, 1, cv::THRESH_BINARY | cv::THRESH_OTSU);
  std::vector<uint8_t> out(bin.data, bin.data + bin.total());
  const auto fg = std::count(out.begin(), out.end(), 1);
  if (2 * fg > static_cast<int64_t>(out.size()))
    for (auto& v : out) v = 1 - v;
  return out;
}

}  // namespace medai::metrics
