#pragma once
// Shared by the glucose command files.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "commands.h"
#include "medai/glucose/environment.h"

namespace medai::app {

struct PatientSources {
  std::filesystem::path params, quest, sensor_params, pump_params;
  std::string sensor, pump;
  bool no_safety = false;
};
void add_patient_options(CLI::App* cmd, PatientSources& s);
glucose::EnvOptions env_options(const PatientSources& s);

// "basal-bolus", "pid" or "ppo:RUN_FOLDER".
std::unique_ptr<glucose::Controller> make_controller(const std::string& spec, const glucose::VirtualPatient& patient);

// train-forecaster, evaluate-forecaster, train-ppo, recommend (glucose_learning_commands.cpp).
void add_glucose_learning_commands(CLI::App& glucose, GlobalOptions& g);

}  // namespace medai::app
