#include "support/test_support.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace medai::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "medai-test-XXXXXX").string();
  char* p = mkdtemp(tmpl.data());
  path_ = p ? fs::path(p) : fs::temp_directory_path() / "medai-test";
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path shared_data() {
  if (const char* env = std::getenv("MEDAI_SHARED_DATA")) return env;
  return MEDAI_DEFAULT_SHARED_DATA;
}

bool run_medai_and_kill_after(const std::string& args, const std::filesystem::path& file, int delay_ms, int timeout_s) {
  auto started = run_command(medai_bin() + " " + args + " >/dev/null 2>&1 & echo $!");
  const int pid = std::stoi(started.out);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (!std::filesystem::exists(file) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const bool appeared = std::filesystem::exists(file);
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  ::kill(pid, SIGKILL);
  run_command("while kill -0 " + std::to_string(pid) + " 2>/dev/null; do sleep 0.05; done");
  return appeared;
}

std::string quote(const fs::path& p) {
  std::string s = "'";
  for (char c : p.string()) s += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return s + "'";
}

void write_text(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CommandResult run_command(const std::string& command) {
  TempDir tmp;
  std::string full = command + " >" + quote(tmp / "out") + " 2>" + quote(tmp / "err") + " </dev/null";
  int status = std::system(full.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_text(tmp / "out");
  r.err = read_text(tmp / "err");
  return r;
}

std::string medai_bin() {
  const char* bin = std::getenv("MEDAI_BIN");
  return bin ? bin : MEDAI_DEFAULT_BIN;
}

CommandResult run_medai(const std::string& args) { return run_command(medai_bin() + " " + args); }

std::string python() { return "/usr/bin/python3"; }

bool have_python_torch() {
  static int ok = -1;
  if (ok < 0) ok = run_command(python() + " -c 'import torch, torchvision'").exit_code == 0;
  return ok == 1;
}

cv::Mat quadrant_image(int size, int quadrant, uint64_t seed, bool hollow) {
  std::mt19937_64 rng(seed);
  cv::Mat m(size, size, CV_8U);
  std::normal_distribution<double> noise(90, 12);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) m.at<uint8_t>(y, x) = cv::saturate_cast<uint8_t>(noise(rng));
  if (quadrant >= 0) {
    int h = size / 2, s = size / 4;
    std::uniform_int_distribution<int> off(2, h - s - 2);
    int x0 = (quadrant % 2) * h + off(rng), y0 = (quadrant / 2) * h + off(rng);
    m(cv::Rect(x0, y0, s, s)).setTo(230);
    if (hollow) m(cv::Rect(x0 + 3, y0 + 3, s - 6, s - 6)).setTo(90);
  }
  return m;
}

std::set<std::string> dciodvfy_errors(const std::filesystem::path& file) {
  auto r = run_command("dciodvfy " + quote(file) + " 2>&1");
  std::set<std::string> out;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Error", 0) == 0) out.insert(line);
  return out;
}

}  // namespace medai::test
