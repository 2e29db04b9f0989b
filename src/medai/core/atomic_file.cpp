#include "medai/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "medai/core/error.h"

namespace medai::core {

namespace fs = std::filesystem;

namespace {
fs::path temp_beside(const fs::path& path) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  auto name = path.filename().string();
  // Keep the extension last: some writers (OpenCV) choose the format from it.
  return path.parent_path() / (".tmp-" + std::to_string(rng() % 1000000000) + "-" + name);
}
void fsync_path(const fs::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}
}  // namespace

void write_atomic_with(const fs::path& path, const std::function<void(const fs::path&)>& write) {
  if (!path.parent_path().empty()) fs::create_directories(path.parent_path());
  fs::path tmp = temp_beside(path);
  try {
    write(tmp);
    if (!fs::exists(tmp)) fail_io("could not write " + path.string() + ": writer produced no file");
    fsync_path(tmp);
    fs::rename(tmp, path);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  write_atomic_with(path, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) fail_io("cannot open " + tmp.string() + " for writing: " + std::strerror(errno));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) fail_io("write to " + path.string() + " failed: " + std::strerror(errno));
  });
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!fs::exists(path)) fail_not_found(path.string() + ": no such file");
    fail_io(path.string() + ": cannot open: " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace medai::core
