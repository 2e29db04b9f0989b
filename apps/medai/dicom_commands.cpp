// medai dicom deid
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "commands.h"
#include "medai/core/error.h"
#include "medai/core/runtime.h"
#include "medai/io/dicom_deid.h"

namespace medai::app {

namespace fs = std::filesystem;

void add_dicom_commands(CLI::App& app, GlobalOptions& g) {
  auto* dicom = app.add_subcommand("dicom", "DICOM utilities");
  dicom->require_subcommand(1);
  auto* deid = dicom->add_subcommand(
      "deid", "de-identify DICOM files (PS3.15 Basic Application Level Confidentiality Profile); pixels unchanged");
  struct Opts {
    fs::path in, out;
    std::string secret;
  };
  auto o = std::make_shared<Opts>();
  deid->add_option("IN", o->in, "a DICOM file, or a folder of them (*.dcm)")->required();
  deid->add_option("OUT", o->out, "output file, or folder when IN is a folder")->required();
  deid->add_option("--secret", o->secret,
                   "key of the consistent UID / patient-ID mapping (default: $MEDAI_DEID_SECRET); keep it private");
  deid->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    std::string secret = o->secret;
    if (secret.empty())
      if (const char* e = std::getenv("MEDAI_DEID_SECRET")) secret = e;
    if (secret.empty()) fail_invalid("give --secret or set MEDAI_DEID_SECRET (at least 8 characters)");
    std::vector<std::pair<fs::path, fs::path>> jobs;
    if (fs::is_directory(o->in)) {
      for (const auto& e : fs::directory_iterator(o->in))
        if (e.is_regular_file() && e.path().extension() == ".dcm")
          jobs.emplace_back(e.path(), o->out / e.path().filename());
      if (jobs.empty()) fail_invalid(o->in.string() + ": no .dcm files");
      fs::create_directories(o->out);
    } else {
      jobs.emplace_back(o->in, o->out);
    }
    std::sort(jobs.begin(), jobs.end());
    for (const auto& [in, out] : jobs) {
      auto r = io::deidentify_dicom_file(in, out, secret);
      std::printf("%s -> %s: %d removed, %d replaced, %d UIDs remapped, %d private removed\n", in.filename().c_str(),
                  out.string().c_str(), r.removed, r.replaced, r.uids_remapped, r.private_removed);
    }
  });
}

}  // namespace medai::app
