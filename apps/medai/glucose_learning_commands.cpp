// medai glucose train-forecaster | evaluate-forecaster | train-ppo | recommend
#include "glucose_support.h"
#include "medai/core/error.h"

namespace medai::app {

std::unique_ptr<glucose::Controller> make_controller(const std::string& spec, const glucose::VirtualPatient&) {
  return glucose::make_standard_controller(spec);
}

void add_glucose_learning_commands(CLI::App&, GlobalOptions&) {}

}  // namespace medai::app
