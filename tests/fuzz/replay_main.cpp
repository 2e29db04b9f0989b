// Replays every file under the folders given on the command line through one harness (the
// normal build's regression test). Exits non-zero on the first exception that escapes.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  int files = 0;
  for (int a = 1; a < argc; ++a) {
    if (!std::filesystem::exists(argv[a])) continue;
    std::vector<std::filesystem::path> inputs;
    for (const auto& e : std::filesystem::recursive_directory_iterator(argv[a]))
      if (e.is_regular_file()) inputs.push_back(e.path());
    for (const auto& p : inputs) {
      std::ifstream in(p, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string s = ss.str();
      try {
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
      } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: escaped exception: %s\n", p.string().c_str(), e.what());
        return 1;
      }
      ++files;
    }
  }
  std::printf("replayed %d inputs\n", files);
  return 0;
}
