// medai: clinical deep-learning toolkit. Subcommands live in one file per command group.
#include <c10/util/Exception.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "medai/core/blas.h"
#include "medai/core/error.h"
#include "medai/core/version.h"

int main(int argc, char** argv) {
  medai::core::choose_blas_kernels(argv);  // first: before any BLAS work
  CLI::App app{"medai - deep learning for clinical data: train, validate, explain and serve models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("medai ") + medai::kVersion);
  medai::app::GlobalOptions global;
  app.add_option("--threads", global.threads, "intra-op threads for libtorch (default: all cores, or MEDAI_THREADS)");
  app.add_flag("-v,--verbose", global.verbose, "debug logging");
  app.add_flag("-q,--quiet", global.quiet, "only warnings and errors on stderr");
  medai::app::add_image_commands(app, global);
  medai::app::add_glucose_commands(app, global);
  medai::app::add_seg_commands(app, global);
  medai::app::add_dicom_commands(app, global);
  medai::app::add_server_commands(app, global);
  medai::app::add_system_commands(app, global);
  medai::app::add_text_commands(app, global);
  medai::app::add_survival_commands(app, global);
  medai::app::add_icu_commands(app, global);
  medai::app::add_mol_commands(app, global);
  medai::app::add_gan_commands(app, global);
  medai::app::add_dose_commands(app, global);
  medai::app::add_fl_commands(app, global);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const medai::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return medai::exit_status(e.code());
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what_without_backtrace());
    return medai::exit_status(medai::ErrorCode::Internal);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return medai::exit_status(medai::ErrorCode::Internal);
  }
  return 0;
}
