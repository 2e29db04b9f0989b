#include "medai/train/distributed.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>

#include "medai/core/error.h"

namespace medai::train {

namespace {

int env_int(const char* name, int lo, int hi, int fallback, bool required) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    if (required)
      fail_invalid(std::string("--distributed: the environment variable ") + name +
                   " is not set (torchrun conventions: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)");
    return fallback;
  }
  try {
    size_t used = 0;
    const int x = std::stoi(v, &used);
    if (used == std::string(v).size() && x >= lo && x <= hi) return x;
  } catch (const std::exception&) {}
  fail_invalid(std::string("--distributed: ") + name + "='" + v + "' is not an integer in [" + std::to_string(lo) +
               ", " + std::to_string(hi) + "]");
}

}  // namespace

DistributedEnv distributed_env_from_environment() {
  DistributedEnv e;
  e.world = env_int("WORLD_SIZE", 1, 4096, 1, true);
  e.rank = env_int("RANK", 0, e.world - 1, 0, true);
  e.master_port = env_int("MASTER_PORT", 1, 65535, 29500, false);
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) e.master_addr = a;
  return e;
}

struct DataParallel::Impl {
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  int rank = 0, world = 1;
  struct Bucket {
    std::vector<size_t> params;  // indices into `params`
    std::vector<int64_t> offsets;
    torch::Tensor flat;
    size_t ready = 0;
    c10::intrusive_ptr<c10d::Work> work;
  };
  std::vector<torch::Tensor> params;
  std::vector<Bucket> buckets;
  std::vector<std::pair<size_t, size_t>> where;  // param -> (bucket, slot)
  int64_t bytes = 0;

  void launch(Bucket& b) {
    std::vector<torch::Tensor> t{b.flat};
    b.work = pg->allreduce(t);
  }
  void on_grad(size_t p, const torch::Tensor& g) {
    auto& [bi, slot] = where[p];
    auto& b = buckets[bi];
    b.flat.slice(0, b.offsets[slot], b.offsets[slot] + g.numel()).copy_(g.reshape({-1}));
    if (++b.ready == b.params.size()) launch(b);
  }
};

DataParallel::DataParallel(const DistributedEnv& env, double timeout_s) : impl_(std::make_unique<Impl>()) {
  impl_->rank = env.rank;
  impl_->world = env.world;
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(env.master_port);
  so.isServer = env.rank == 0;
  so.numWorkers = static_cast<size_t>(env.world);
  so.timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  try {
    auto store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
    auto opts = c10d::ProcessGroupGloo::Options::create(so.timeout);
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(env.master_addr));
    impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world, opts);
  } catch (const c10::Error& e) {
    fail(ErrorCode::Unavailable, "--distributed: cannot form the process group at " + env.master_addr + ":" +
                                     std::to_string(env.master_port) + ": " + e.what_without_backtrace());
  }
}

DataParallel::~DataParallel() = default;
int DataParallel::rank() const { return impl_->rank; }
int DataParallel::world() const { return impl_->world; }

void DataParallel::broadcast_parameters(const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard ng;
  for (const auto& p : params) {
    std::vector<torch::Tensor> t{p.data()};
    impl_->pg->broadcast(t)->wait();
  }
}

void DataParallel::attach(const std::vector<torch::Tensor>& params, size_t bucket_bytes) {
  auto& im = *impl_;
  im.params = params;
  im.where.assign(params.size(), {0, 0});
  im.buckets.clear();
  size_t in_bucket = bucket_bytes;
  for (size_t k = params.size(); k-- > 0;) {  // gradients arrive roughly in reverse order
    const size_t bytes = static_cast<size_t>(params[k].numel()) * sizeof(float);
    if (in_bucket + bytes > bucket_bytes && in_bucket > 0) im.buckets.emplace_back(), in_bucket = 0;
    auto& b = im.buckets.back();
    im.where[k] = {im.buckets.size() - 1, b.params.size()};
    b.offsets.push_back(b.params.empty() ? 0 : b.offsets.back() + params[b.params.back()].numel());
    b.params.push_back(k);
    in_bucket += bytes;
  }
  im.bytes = 0;
  for (auto& b : im.buckets) {
    const int64_t n = b.offsets.back() + params[b.params.back()].numel();
    b.flat = torch::zeros({n});
    im.bytes += n * static_cast<int64_t>(sizeof(float));
  }
  for (size_t k = 0; k < params.size(); ++k)
    params[k].register_hook([this, k](const torch::Tensor& g) {
      impl_->on_grad(k, g);
      return g;
    });
}

void DataParallel::finish_gradients() {
  auto& im = *impl_;
  torch::NoGradGuard ng;
  for (auto& b : im.buckets) {
    if (!b.work) {  // a parameter without a gradient this step: its slot counts as zero
      for (size_t s = 0; s < b.params.size(); ++s)
        if (!im.params[b.params[s]].grad().defined())
          b.flat.slice(0, b.offsets[s], b.offsets[s] + im.params[b.params[s]].numel()).zero_();
      im.launch(b);
    }
    b.work->wait();
    for (size_t s = 0; s < b.params.size(); ++s) {
      auto& p = im.params[b.params[s]];
      const auto part = b.flat.slice(0, b.offsets[s], b.offsets[s] + p.numel()).view(p.sizes());
      if (p.grad().defined()) p.mutable_grad().copy_(part);
      else p.mutable_grad() = part.clone();
    }
    b.ready = 0;
    b.work.reset();
  }
}

double DataParallel::sum(double value) {
  auto t = torch::tensor({value}, torch::kFloat64);
  std::vector<torch::Tensor> v{t};
  impl_->pg->allreduce(v)->wait();
  return t.item<double>();
}

std::pair<int64_t, int64_t> DataParallel::shard(int64_t n) const {
  const int64_t w = impl_->world, r = impl_->rank;
  return {n * r / w, n * (r + 1) / w};
}

int64_t DataParallel::bytes_per_step() const { return impl_->bytes; }
int64_t DataParallel::buckets() const { return static_cast<int64_t>(impl_->buckets.size()); }

}  // namespace medai::train
