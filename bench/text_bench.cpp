// medai side of the text benchmark (bench/run_text_bench.sh runs it alternating with
// text_bench.py, the same BERT in python3-torch). Prints one JSON object.
//   text_bench train|infer|bm25 [--threads N] [--batch B] [--length S] [--steps K] [--data medquad.csv]
//              [--init BERT_DIR] [--flush-denormal 0|1] [--bf16 0|1]
// train: masked-LM steps of the `text pretrain` default encoder (4 layers, hidden 256, 4 heads,
// feed-forward 1024, vocabulary 8000), 15 % of the positions predicted, AdamW: tokens/s.
// infer: mean-pooled forward passes without gradients: ms per batch.
// bm25: BM25 over the answers of a MedQuAD CSV, every question scored against all: queries/s.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "medai/core/runtime.h"
#include "medai/io/csv.h"
#include "medai/io/safetensors.h"
#include "medai/nn/nets/bert.h"
#include "medai/text/bert_folder.h"
#include "medai/text/bm25.h"
#include "medai/train/torch_helpers.h"

using namespace medai;
using Clock = std::chrono::steady_clock;

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(
        stderr, "usage: text_bench train|infer|bm25 [--threads N] [--batch B] [--length S] [--steps K] [--data CSV]\n");
    return 2;
  }
  const std::string mode = argv[1];
  int threads = 2, batch = mode == "train" ? 32 : 1, length = 128, steps = mode == "train" ? 8 : 20;
  std::string data, init;
  int flush_denormal = 0, bf16 = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--threads") threads = std::atoi(argv[i + 1]);
    else if (k == "--batch") batch = std::atoi(argv[i + 1]);
    else if (k == "--length") length = std::atoi(argv[i + 1]);
    else if (k == "--steps") steps = std::atoi(argv[i + 1]);
    else if (k == "--data") data = argv[i + 1];
    else if (k == "--init") init = argv[i + 1];  // start from trained weights (a BERT folder)
    else if (k == "--flush-denormal") flush_denormal = std::atoi(argv[i + 1]);
    else if (k == "--bf16") bf16 = std::atoi(argv[i + 1]);  // autocast (the python side stays fp32)
  }
  core::init_runtime({threads, false, true});
  train::apply_torch_threads();
  if (mode == "bm25") {
    const auto t = io::read_csv(data);
    const size_t q = t.column("question"), a = t.column("answer");
    std::vector<std::string> docs, queries;
    for (const auto& row : t.rows) {
      if (!row[a].empty()) docs.push_back(row[a]);
      queries.push_back(row[q]);
    }
    const auto t0 = Clock::now();
    text::Bm25Index index;
    index.build(docs);
    const double build_s = std::chrono::duration<double>(Clock::now() - t0).count();
    const auto t1 = Clock::now();
    size_t checksum = 0;
    for (const auto& query : queries) checksum += index.top(query, 10).size();
    const double s = std::chrono::duration<double>(Clock::now() - t1).count();
    std::printf(
        "{\"side\": \"medai\", \"mode\": \"bm25\", \"threads\": %d, \"documents\": %zu, \"queries\": %zu, "
        "\"build_s\": %.3f, \"queries_per_s\": %.1f, \"checksum\": %zu}\n",
        threads, docs.size(), queries.size(), build_s, queries.size() / s, checksum);
    return 0;
  }
  torch::manual_seed(0);
  nn::BertConfig c;
  c.vocab_size = 8000, c.hidden = 256, c.layers = 4, c.heads = 4, c.intermediate = 1024, c.max_positions = 512;
  at::globalContext().setFlushDenormal(flush_denormal != 0);
  nn::BertEncoder encoder(c, 0.1);
  if (!init.empty()) {
    encoder = nn::load_hf_bert(init);
    c = encoder->config;
  }
  nn::BertMlmHead head(c);
  if (!init.empty())
    nn::copy_named_tensors(head->hf_named_tensors(), io::SafetensorsFile::read(init + "/model.safetensors"));
  const auto ids = torch::randint(5, c.vocab_size, {batch, length}, torch::kInt64);
  const auto attention = torch::ones({batch, length}, torch::kInt64);
  std::vector<double> times;
  if (mode == "train") {
    auto params = encoder->parameters();
    for (const auto& p : head->parameters()) params.push_back(p);
    torch::optim::AdamW opt(params, torch::optim::AdamWOptions(5e-4).weight_decay(0.01));
    const auto positions = torch::nonzero(torch::rand({batch * length}) < 0.15).flatten();
    const auto targets = ids.flatten().index_select(0, positions);
    encoder->train();
    head->train();
    for (int s = 0; s < steps + 2; ++s) {
      const auto t0 = Clock::now();
      torch::Tensor logits;
      {
        train::AutocastGuard autocast(bf16 != 0);
        const auto hidden = encoder->forward(ids, attention);
        logits = head->forward(hidden.reshape({-1, c.hidden}).index_select(0, positions), encoder->word->weight)
                     .to(torch::kFloat);
      }
      train::optimise(opt, torch::nn::functional::cross_entropy(logits, targets), params, 1.0);
      if (s >= 2) times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    std::printf(
        "{\"side\": \"medai\", \"mode\": \"train\", \"threads\": %d, \"batch\": %d, \"length\": %d, "
        "\"bf16\": %d, \"tokens_per_s\": %.1f}\n",
        threads, batch, length, bf16, batch * length / median(times));
  } else {
    encoder->eval();
    torch::NoGradGuard ng;
    for (int s = 0; s < steps + 3; ++s) {
      const auto t0 = Clock::now();
      const auto pooled = text::mean_pool(encoder->forward(ids, attention), attention);
      (void)pooled.sum().item<float>();
      if (s >= 3) times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    std::printf(
        "{\"side\": \"medai\", \"mode\": \"infer\", \"threads\": %d, \"batch\": %d, \"length\": %d, "
        "\"ms_per_batch\": %.3f}\n",
        threads, batch, length, 1000 * median(times));
  }
  return 0;
}
