#pragma once
// Writes that never leave a half-written file: write to a temp file beside the target, fsync,
// then rename over it.
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace medai::core {

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);
// For writers that need a path (torch::save, cv::imwrite): `write` gets a temp path to fill.
void write_atomic_with(const std::filesystem::path& path,
                       const std::function<void(const std::filesystem::path& tmp)>& write);
std::string read_file(const std::filesystem::path& path);

}  // namespace medai::core
