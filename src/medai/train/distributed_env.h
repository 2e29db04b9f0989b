#pragma once
// The torchrun conventions a data-parallel run reads (train/distributed.h); free of libtorch.
#include <string>

namespace medai::train {

struct DistributedEnv {
  int rank = 0, world = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};
// From the environment; fails (InvalidInput) naming the variable that is missing or malformed.
DistributedEnv distributed_env_from_environment();

}  // namespace medai::train
