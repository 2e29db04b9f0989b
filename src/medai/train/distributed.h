#pragma once
// Data-parallel training inside one institution on libtorch's c10d (ProcessGroupGloo over a
// TCPStore), with torchrun's conventions - RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT - so any
// launcher starts it (mpirun, a job scheduler, or by hand on several hosts). Rank 0 broadcasts the
// initial weights; each rank takes a contiguous shard of every global batch; gradients are summed
// across ranks in buckets (about `bucket_bytes`, in reverse parameter order, as DDP's reducer)
// launched from autograd hooks as soon as a bucket's gradients are ready, so communication
// overlaps the rest of the backward pass. With each rank's loss = (sum over its shard) / (global
// batch size), the summed gradient is exactly the one-process gradient of the global batch: the
// same seed gives the same curve (to float rounding). Include only from .cpp files using libtorch.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "medai/train/distributed_env.h"

namespace medai::train {

class DataParallel {
 public:
  explicit DataParallel(const DistributedEnv& env, double timeout_s = 300);
  ~DataParallel();
  int rank() const;
  int world() const;
  bool is_main() const { return rank() == 0; }
  void broadcast_parameters(const std::vector<torch::Tensor>& params);
  // Buckets the parameters and hooks their gradients (once per model).
  void attach(const std::vector<torch::Tensor>& params, size_t bucket_bytes = 1u << 20);
  // After backward: waits for every bucket and writes the summed gradients into .grad.
  void finish_gradients();
  double sum(double value);
  // The rows [begin, end) of a global batch of `n` this rank processes.
  std::pair<int64_t, int64_t> shard(int64_t n) const;
  int64_t bytes_per_step() const;  // gradient bytes all-reduced per optimiser step
  int64_t buckets() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace medai::train
