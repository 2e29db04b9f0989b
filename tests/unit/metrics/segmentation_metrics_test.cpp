// Segmentation metrics against hand-worked values.
#include <gtest/gtest.h>

#include <cmath>

#include "medai/metrics/segmentation.h"

namespace medai::metrics {
namespace {

// A W x H mask with the given filled rectangles [x0, x1) x [y0, y1) and discs (cx, cy, r).
struct Canvas {
  int w, h;
  std::vector<uint8_t> m;
  Canvas(int w_, int h_) : w(w_), h(h_), m(static_cast<size_t>(w_) * h_, 0) {}
  Canvas& rect(int x0, int y0, int x1, int y1) {
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) m[y * w + x] = 1;
    return *this;
  }
  Canvas& disc(double cx, double cy, double r) {
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        if (std::hypot(x - cx, y - cy) <= r) m[y * w + x] = 1;
    return *this;
  }
};

TEST(SegmentationMetrics, DiceAndIouByHand) {
  Canvas t(10, 10), p(10, 10);
  t.rect(0, 0, 4, 5);  // 20 pixels
  p.rect(2, 0, 6, 5);  // 20 pixels, 10 shared
  const auto o = overlap(p.m, t.m);
  EXPECT_DOUBLE_EQ(o.dice, 2.0 * 10 / 40);
  EXPECT_DOUBLE_EQ(o.iou, 10.0 / 30);
  const auto empty = overlap(Canvas(10, 10).m, Canvas(10, 10).m);
  EXPECT_EQ(empty.dice, 1.0);
  EXPECT_EQ(overlap(p.m, Canvas(10, 10).m).dice, 0.0);
}

TEST(SegmentationMetrics, ComponentsAreEightConnected) {
  Canvas c(8, 8);
  c.rect(0, 0, 2, 2).rect(2, 2, 4, 4).rect(6, 6, 8, 8);  // first two touch at a corner
  const auto inst = connected_components(c.m, 8, 8);
  EXPECT_EQ(inst.count, 2);
  EXPECT_EQ(inst.labels[0], inst.labels[3 * 8 + 3]);
  EXPECT_NE(inst.labels[0], inst.labels[7 * 8 + 7]);
}

TEST(SegmentationMetrics, WatershedSplitsTwoTouchingDiscsAndKeepsEveryPixel) {
  Canvas c(60, 40);
  c.disc(18, 20, 10).disc(36, 20, 10);  // overlapping discs: one component
  ASSERT_EQ(connected_components(c.m, 60, 40).count, 1);
  const auto ws = watershed_instances(c.m, 60, 40);
  EXPECT_EQ(ws.count, 2);
  for (size_t i = 0; i < c.m.size(); ++i) EXPECT_EQ(c.m[i] != 0, ws.labels[i] != 0) << i;
  EXPECT_NE(ws.labels[20 * 60 + 12], ws.labels[20 * 60 + 42]);
  // A small object without a distance peak keeps a label of its own.
  Canvas small(20, 20);
  small.rect(2, 2, 4, 4).disc(12, 12, 5);
  EXPECT_EQ(watershed_instances(small.m, 20, 20).count, 2);
}

TEST(SegmentationMetrics, InstanceF1AndDsbApByHand) {
  // Truth: two squares of 100 pixels. Prediction: the first shifted by one column (IoU 90/110 =
  // 0.818), nothing on the second, one false object elsewhere.
  Canvas t(40, 40), p(40, 40);
  t.rect(0, 0, 10, 10).rect(20, 0, 30, 10);
  p.rect(1, 0, 11, 10).rect(0, 30, 5, 35);
  const auto s = instance_scores(connected_components(p.m, 40, 40), connected_components(t.m, 40, 40));
  EXPECT_EQ(s.predicted, 2);
  EXPECT_EQ(s.truth, 2);
  EXPECT_EQ(s.matched, 1);
  EXPECT_DOUBLE_EQ(s.f1, 0.5);  // 2 TP / (P + T)
  // IoU 0.818 beats thresholds 0.50 .. 0.80 (7 of 10): TP 1, FP 1, FN 1 -> 1/3 each; 0 above.
  EXPECT_NEAR(s.ap, 7.0 / 3.0 / 10.0, 1e-12);
  const auto none =
      instance_scores(connected_components(Canvas(4, 4).m, 4, 4), connected_components(Canvas(4, 4).m, 4, 4));
  EXPECT_EQ(none.f1, 1.0);
  EXPECT_EQ(none.ap, 1.0);
}

TEST(SegmentationMetrics, OtsuTakesTheMinoritySideWhetherObjectsAreBrightOrDark) {
  const int w = 32, h = 32;
  std::vector<uint8_t> bright(w * h, 20), dark(w * h, 220);
  for (int y = 4; y < 12; ++y)
    for (int x = 4; x < 12; ++x) bright[y * w + x] = 200, dark[y * w + x] = 40;
  for (const auto* g : {&bright, &dark}) {
    const auto m = otsu_mask(*g, w, h);
    int fg = 0;
    for (auto v : m) fg += v;
    EXPECT_EQ(fg, 64);
    EXPECT_EQ(m[5 * w + 5], 1);
  }
}

}  // namespace
}  // namespace medai::metrics
