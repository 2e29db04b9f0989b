#pragma once
#include <CLI/CLI.hpp>

namespace medai::app {

struct GlobalOptions {
  int threads = 0;
  bool verbose = false;
  bool quiet = false;
};

void add_image_commands(CLI::App& app, GlobalOptions& global);
void add_glucose_commands(CLI::App& app, GlobalOptions& global);
void add_dicom_commands(CLI::App& app, GlobalOptions& global);
void add_server_commands(CLI::App& app, GlobalOptions& global);
void add_system_commands(CLI::App& app, GlobalOptions& global);

}  // namespace medai::app
