// medai glucose simulate
#include <spdlog/spdlog.h>

#include <cstdio>

#include "commands.h"
#include "medai/core/error.h"
#include "medai/core/runtime.h"
#include "medai/glucose/schedule.h"

namespace medai::app {

namespace fs = std::filesystem;

void add_glucose_commands(CLI::App& app, GlobalOptions& g) {
  auto* glucose = app.add_subcommand("glucose", "type 1 diabetes: UVA/Padova patient simulation");
  glucose->require_subcommand(1);
  auto* sim = glucose->add_subcommand("simulate", "simulate a virtual patient minute by minute from an input schedule");
  struct Opts {
    std::string patient = "adolescent#001";
    fs::path params, inputs, out;
    int minutes = 24 * 60;
  };
  auto o = std::make_shared<Opts>();
  sim->add_option("--patient", o->patient, "virtual patient name, e.g. adult#001")->capture_default_str();
  sim->add_option("--params", o->params, "simglucose vpatient_params.csv (default: the built-in adolescent#001)");
  sim->add_option("--inputs", o->inputs, "CSV minute,carbs_g,insulin_u_per_min")->required();
  sim->add_option("--minutes", o->minutes, "minutes to simulate")->capture_default_str();
  sim->add_option("--out", o->out, "output CSV: minute,bg_mgdl,cho_g_per_min,insulin_u_per_min,x1..x13")->required();
  sim->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    glucose::PatientParams p;
    if (!o->params.empty()) {
      p = glucose::load_patient(o->params, o->patient);
    } else {
      p = glucose::default_patient();
      if (o->patient != p.name)
        fail_invalid("--patient " + o->patient + ": only " + p.name + " is built in; pass --params vpatient_params.csv");
    }
    auto schedule = glucose::read_schedule(o->inputs);
    glucose::PatientModel model(p);
    glucose::simulate_to_csv(model, schedule, o->minutes, o->out);
    std::printf("%s: %d minutes simulated, final BG %.2f mg/dL -> %s\n", p.name.c_str(), o->minutes, model.bg_mgdl(),
                o->out.string().c_str());
  });
}

}  // namespace medai::app
