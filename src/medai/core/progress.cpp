#include "medai/core/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace medai::core {

namespace {
std::string format_seconds(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--";
  int total = static_cast<int>(s + 0.5);
  char buf[32];
  if (total >= 3600) std::snprintf(buf, sizeof buf, "%d:%02d:%02d", total / 3600, (total / 60) % 60, total % 60);
  else std::snprintf(buf, sizeof buf, "%02d:%02d", total / 60, total % 60);
  return buf;
}
}  // namespace

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit, bool enabled)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      enabled_(enabled),
      tty_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::advance(int64_t n) {
  done_ += n;
  auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (now - last_draw_ > std::chrono::milliseconds(120) || done_ >= total_) draw(false);
  } else if (total_ > 0) {
    int decile = static_cast<int>(10 * done_ / total_);
    if (decile != last_decile_ && decile < 10) {
      last_decile_ = decile;
      draw(false);
    }
  }
}

void ProgressBar::set_postfix(std::string text) { postfix_ = std::move(text); }

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void ProgressBar::draw(bool final) {
  if (!enabled_) return;
  last_draw_ = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(last_draw_ - start_).count();
  double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  double eta = rate > 0 ? (total_ - done_) / rate : -1;
  double frac = total_ > 0 ? std::min(1.0, static_cast<double>(done_) / total_) : 1.0;
  constexpr int kWidth = 24;
  int filled = static_cast<int>(frac * kWidth);
  std::string bar(filled, '#');
  bar.append(kWidth - filled, '.');
  std::fprintf(stderr, "%s%s [%s] %3d%% %lld/%lld %.1f %s/s elapsed %s eta %s%s%s%s", tty_ ? "\r\033[K" : "",
               label_.c_str(), bar.c_str(), static_cast<int>(frac * 100), static_cast<long long>(done_),
               static_cast<long long>(total_), rate, unit_.c_str(), format_seconds(elapsed).c_str(),
               final ? "00:00" : format_seconds(eta).c_str(), postfix_.empty() ? "" : " ", postfix_.c_str(),
               (!tty_ || final) ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace medai::core
