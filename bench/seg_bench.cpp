// medai side of the segmentation benchmark (bench/run_seg_bench.sh runs it alternating with
// seg_bench.py, the same U-Net in python3-torch). Prints one JSON object.
//   seg_bench train|infer [--threads N] [--size S] [--batch B] [--steps K]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "medai/core/runtime.h"
#include "medai/nn/nets/unet.h"
#include "medai/train/torch_helpers.h"

using namespace medai;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: seg_bench train|infer [--threads N] [--size S] [--batch B] [--steps K]\n");
    return 2;
  }
  const std::string mode = argv[1];
  int threads = 2, size = mode == "train" ? 128 : 256, batch = mode == "train" ? 8 : 1, steps = 10;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--threads") threads = std::atoi(argv[i + 1]);
    else if (k == "--size") size = std::atoi(argv[i + 1]);
    else if (k == "--batch") batch = std::atoi(argv[i + 1]);
    else if (k == "--steps") steps = std::atoi(argv[i + 1]);
  }
  core::init_runtime({threads, false, true});
  train::apply_torch_threads();
  torch::manual_seed(0);
  nn::UNet net(nn::UNetOptions(3, 1).width(16).depth(4));
  auto x = torch::rand({batch, 3, size, size});
  auto y = (torch::rand({batch, 1, size, size}) > 0.8).to(torch::kFloat);
  std::vector<double> times;
  if (mode == "train") {
    torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(3e-3));
    net->train();
    for (int s = 0; s < steps + 3; ++s) {
      const auto t0 = Clock::now();
      auto logits = net->forward(x);
      auto p = torch::sigmoid(logits).flatten(1), t = y.flatten(1);
      auto loss = torch::binary_cross_entropy_with_logits(logits, y) +
                  (1 - (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1)).mean();
      train::optimise(opt, loss);
      if (s >= 3) times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    std::printf("{\"side\": \"medai\", \"mode\": \"train\", \"threads\": %d, \"images_per_s\": %.3f}\n", threads,
                batch / times[times.size() / 2]);
  } else {
    net->eval();
    torch::NoGradGuard ng;
    for (int s = 0; s < steps + 3; ++s) {
      const auto t0 = Clock::now();
      auto p = torch::sigmoid(net->forward(x));
      (void)p.sum().item<float>();
      if (s >= 3) times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    std::printf("{\"side\": \"medai\", \"mode\": \"infer\", \"threads\": %d, \"ms_per_image\": %.3f}\n", threads,
                1000 * times[times.size() / 2] / batch);
  }
  return 0;
}
