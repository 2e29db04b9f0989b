#pragma once
// A progress bar on stderr with rate and ETA. On a terminal it redraws in place (at most ~8
// times a second); otherwise it prints a line at every 10% so CI logs stay short.
#include <chrono>
#include <cstdint>
#include <string>

namespace medai::core {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, std::string unit = "it", bool enabled = true);
  ~ProgressBar();
  void advance(int64_t n = 1);
  // Extra text shown after the counters (e.g. "loss 0.31").
  void set_postfix(std::string text);
  void finish();

 private:
  void draw(bool final);
  std::string label_, unit_, postfix_;
  int64_t total_, done_ = 0;
  bool enabled_, tty_, finished_ = false;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace medai::core
