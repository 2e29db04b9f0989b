// medai side of the imaging benchmark (bench/run_image_bench.sh runs it alternating with
// image_bench.py, the python3-torch + torchvision reference). Prints one JSON object.
//   image_bench train|infer|loader [--threads N] [--size S] [--batch B] [--steps K] [--data DIR]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "medai/core/runtime.h"
#include "medai/data/image_dataset.h"
#include "medai/data/image_loader.h"
#include "medai/imaging/classifier_model.h"
#include "medai/imaging/torchscript_interop.h"
#include "medai/nn/nets/classifier_net.h"
#include "medai/nn/nets/resnet.h"
#include "medai/train/torch_helpers.h"

using namespace medai;
using Clock = std::chrono::steady_clock;

namespace {
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(
        stderr,
        "usage: image_bench train|infer|loader [--threads N] [--size S] [--batch B] [--steps K] [--data DIR]\n");
    return 2;
  }
  std::string mode = argv[1], data;
  int threads = 2, size = 128, batch = 32, steps = 20;
  std::string precision = "fp32";
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--threads") threads = std::atoi(argv[i + 1]);
    else if (k == "--size") size = std::atoi(argv[i + 1]);
    else if (k == "--batch") batch = std::atoi(argv[i + 1]);
    else if (k == "--steps") steps = std::atoi(argv[i + 1]);
    else if (k == "--data") data = argv[i + 1];
    else if (k == "--precision") precision = argv[i + 1];
  }
  core::init_runtime({threads, false, true});
  train::apply_torch_threads();
  torch::manual_seed(0);

  if (mode == "train") {
    auto net = nn::make_classifier("resnet18", 1, 2);
    nn::to_channels_last(*net);
    net->train();
    torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(1e-3).weight_decay(1e-4));
    auto w = torch::tensor({1.5f, 0.75f});
    auto x = torch::randn({batch, 1, size, size}).contiguous(torch::MemoryFormat::ChannelsLast);
    auto y = torch::randint(0, 2, {batch}, torch::kLong);
    auto step = [&] {
      opt.zero_grad();
      torch::Tensor loss;
      {
        train::AutocastGuard autocast(precision == "bf16");
        loss = torch::nn::functional::cross_entropy(net->forward(x), y,
                                                    torch::nn::functional::CrossEntropyFuncOptions().weight(w));
      }
      loss.backward();
      opt.step();
    };
    for (int i = 0; i < 3; ++i) step();
    auto t0 = Clock::now();
    for (int i = 0; i < steps; ++i) step();
    double s = seconds_since(t0);
    std::printf(
        "{\"side\":\"medai\",\"mode\":\"train\",\"precision\":\"%s\",\"threads\":%d,\"batch\":%d,\"size\":%d,"
        "\"images_per_s\":%.3f}\n",
        precision.c_str(), threads, batch, size, steps * batch / s);
  } else if (mode == "infer") {
    // optimized: the product's path (imaging::ClassifierModel::logits), the network compiled to a
    // frozen TorchScript graph with prepacked oneDNN convolutions. eager: the native network in
    // eval mode (batch norms folded, channels-last, InferenceMode).
    auto net = nn::make_classifier("resnet18", 1, 2);
    net->eval();
    imaging::OptimizedClassifier optimized(*net, 1, size);
    nn::fold_batchnorm(*dynamic_cast<nn::ResNetImpl*>(net.get()));
    nn::to_channels_last(*net);
    auto measure = [&](const std::function<torch::Tensor(const torch::Tensor&)>& run, int b, int reps) {
      auto x = torch::randn({b, 1, size, size});
      for (int i = 0; i < 3; ++i) run(x);
      std::vector<double> ms;
      for (int i = 0; i < reps; ++i) {
        auto t0 = Clock::now();
        run(x);
        ms.push_back(1000 * seconds_since(t0));
      }
      return median(ms);
    };
    auto opt = [&](const torch::Tensor& x) { return optimized.forward(x); };
    auto eager = [&](const torch::Tensor& x) {
      c10::InferenceMode im;
      return net->forward(x.contiguous(torch::MemoryFormat::ChannelsLast));
    };
    double b1 = measure(opt, 1, 60), b32 = measure(opt, 32, 10);
    double e1 = measure(eager, 1, 60), e32 = measure(eager, 32, 10);
    std::printf(
        "{\"side\":\"medai\",\"mode\":\"infer\",\"threads\":%d,\"size\":%d,\"batch1_ms\":%.3f,\"batch32_ms\":%.3f,"
        "\"eager_batch1_ms\":%.3f,\"eager_batch32_ms\":%.3f}\n",
        threads, size, b1, b32, e1, e32);
  } else if (mode == "loader") {
    // Decode every image once (as training does), then one augmented epoch, as images/s.
    auto ds = data::load_image_dataset(data);
    std::vector<size_t> idx(ds.samples.size());
    std::iota(idx.begin(), idx.end(), 0);
    auto t0 = Clock::now();
    data::DecodedCache cache(ds, size);
    cache.preload(idx, threads, false);
    double decode_s = seconds_since(t0);
    data::LoaderOptions lo;
    lo.batch_size = batch;
    lo.shuffle = true;
    lo.augment = true;
    lo.workers = threads;
    t0 = Clock::now();
    data::ImageLoader loader(cache, ds, idx, lo);
    int64_t n = 0;
    while (auto b = loader.next()) n += b->size;
    double epoch_s = seconds_since(t0);
    std::printf(
        "{\"side\":\"medai\",\"mode\":\"loader\",\"threads\":%d,\"images\":%lld,\"decode_images_per_s\":%.1f,"
        "\"augmented_epoch_images_per_s\":%.1f,\"first_epoch_images_per_s\":%.1f}\n",
        threads, static_cast<long long>(n), n / decode_s, n / epoch_s, n / (decode_s + epoch_s));
  } else {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
  }
  return 0;
}
