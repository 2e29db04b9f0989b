#include "medai/chem/smiles_lm.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <set>

#include "medai/bridges/rdkit/chem.h"
#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/progress.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/metrics/feature_distances.h"
#include "medai/nn/nets/token_lstm.h"
#include "medai/train/torch_helpers.h"
#include "medai/train/trainer.h"

namespace medai::chem {

namespace fs = std::filesystem;
namespace bc = bridges::chem;
using nlohmann::json;

std::vector<std::string> tokenize_smiles(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '[') {
      const size_t end = s.find(']', i);
      const size_t n = end == std::string::npos ? s.size() - i : end - i + 1;
      out.push_back(s.substr(i, n)), i += n;
    } else if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(s.substr(i, 3)), i += 3;
    } else if ((s[i] == 'C' && i + 1 < s.size() && s[i + 1] == 'l') ||
               (s[i] == 'B' && i + 1 < s.size() && s[i + 1] == 'r')) {
      out.push_back(s.substr(i, 2)), i += 2;
    } else {
      out.push_back(std::string(1, s[i])), ++i;
    }
  }
  return out;
}

namespace {

constexpr int64_t kPad = 0, kBos = 1, kEos = 2;
constexpr const char* kFormat = "medai.smiles_lm/1";

}  // namespace

struct SmilesLm::Impl {
  LmOptions options;
  std::vector<std::string> vocab;  // index -> token; 0 <pad>, 1 <bos>, 2 <eos>
  std::map<std::string, int64_t> index;
  std::vector<std::string> training;
  nn::TokenLstm net{nullptr};

  void build_vocab(const std::vector<std::vector<std::string>>& seqs) {
    vocab = {"<pad>", "<bos>", "<eos>"};
    std::set<std::string> seen;
    for (const auto& s : seqs) seen.insert(s.begin(), s.end());
    vocab.insert(vocab.end(), seen.begin(), seen.end());
    for (size_t i = 0; i < vocab.size(); ++i) index[vocab[i]] = static_cast<int64_t>(i);
  }
  nn::TokenLstmOptions net_options() const {
    return {static_cast<int64_t>(vocab.size()), options.embedding, options.hidden, options.layers, options.dropout};
  }
  // [N, T + 2] token ids: <bos> tokens <eos> <pad>...
  torch::Tensor encode(const std::vector<std::vector<std::string>>& seqs) const {
    size_t longest = 0;
    for (const auto& s : seqs) longest = std::max(longest, s.size());
    auto t = torch::full({static_cast<int64_t>(seqs.size()), static_cast<int64_t>(longest + 2)}, kPad, torch::kLong);
    auto a = t.accessor<int64_t, 2>();
    for (size_t i = 0; i < seqs.size(); ++i) {
      a[static_cast<int64_t>(i)][0] = kBos;
      for (size_t k = 0; k < seqs[i].size(); ++k)
        a[static_cast<int64_t>(i)][static_cast<int64_t>(k + 1)] = index.at(seqs[i][k]);
      a[static_cast<int64_t>(i)][static_cast<int64_t>(seqs[i].size() + 1)] = kEos;
    }
    return t;
  }
  // Sum over positions of log P(token | prefix) for sequences [N, T] (pads ignored): [N].
  static torch::Tensor sequence_log_likelihood(nn::TokenLstm& net, const torch::Tensor& tokens) {
    const auto input = tokens.slice(1, 0, tokens.size(1) - 1), target = tokens.slice(1, 1);
    const auto logp = torch::log_softmax(net->forward(input).first, 2);
    const auto picked = logp.gather(2, target.unsqueeze(2)).squeeze(2);
    return (picked * (target != kPad).to(torch::kFloat)).sum(1);
  }
  // Samples n sequences from `net` (no gradient): token ids [N, T] incl. <bos>, and decoded SMILES.
  std::pair<torch::Tensor, std::vector<std::string>> draw(nn::TokenLstm& net, int n, double temperature) const {
    torch::NoGradGuard ng;
    net->eval();
    auto tokens = torch::full({n, 1}, kBos, torch::kLong);
    nn::TokenLstmImpl::State state;
    auto done = torch::zeros({n}, torch::kBool);
    std::vector<torch::Tensor> steps{tokens};
    for (int t = 0; t < options.max_tokens + 1; ++t) {
      auto [logits, next] = net->forward(steps.back(), state);
      state = next;
      const auto probs = torch::softmax(logits.select(1, 0) / temperature, 1);
      auto tok = torch::multinomial(probs, 1).squeeze(1);
      tok = torch::where(done, torch::full_like(tok, kPad), tok);
      done = done.logical_or(tok == kEos);
      steps.push_back(tok.unsqueeze(1));
      if (done.all().item<bool>()) break;
    }
    const auto seq = torch::cat(steps, 1);
    std::vector<std::string> smiles(static_cast<size_t>(n));
    const auto a = seq.accessor<int64_t, 2>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 1; k < seq.size(1); ++k) {
        const auto id = a[i][k];
        if (id == kEos || id == kPad) break;
        smiles[static_cast<size_t>(i)] += vocab[static_cast<size_t>(id)];
      }
    return {seq, smiles};
  }
};

SmilesLm::SmilesLm() = default;
SmilesLm::~SmilesLm() = default;
SmilesLm::SmilesLm(SmilesLm&&) noexcept = default;
SmilesLm& SmilesLm::operator=(SmilesLm&&) noexcept = default;

SmilesLm SmilesLm::train(const std::vector<std::string>& smiles, const LmOptions& o) {
  train::apply_torch_threads();
  torch::manual_seed(o.seed);
  SmilesLm m;
  m.impl_ = std::make_unique<Impl>();
  auto& im = *m.impl_;
  im.options = o;
  std::vector<std::vector<std::string>> seqs;
  for (const auto& s : smiles) {
    auto t = tokenize_smiles(s);
    if (t.empty() || static_cast<int>(t.size()) > o.max_tokens) continue;
    seqs.push_back(std::move(t));
    im.training.push_back(s);
  }
  if (seqs.size() < 50)
    fail_invalid("a SMILES language model needs at least 50 molecules of up to --max-tokens tokens");
  if (seqs.size() < smiles.size())
    spdlog::info("{} SMILES longer than {} tokens left out", smiles.size() - seqs.size(), o.max_tokens);
  im.build_vocab(seqs);
  std::vector<size_t> order(seqs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::mt19937_64 rng(o.seed);
  std::shuffle(order.begin(), order.end(), rng);
  const auto n_val = std::max<size_t>(1, static_cast<size_t>(o.validation_fraction * static_cast<double>(seqs.size())));
  std::vector<std::vector<std::string>> fit, val;
  for (size_t k = 0; k < order.size(); ++k) (k < n_val ? val : fit).push_back(seqs[order[k]]);
  // Sort by length within shuffled chunks so batches pad little.
  std::sort(fit.begin(), fit.end(), [](const auto& a, const auto& b) { return a.size() < b.size(); });
  const int64_t n = static_cast<int64_t>(fit.size()), steps = (n + o.batch_size - 1) / o.batch_size;
  std::vector<torch::Tensor> batches;
  for (int64_t b = 0; b < steps; ++b)
    batches.push_back(im.encode({fit.begin() + b * o.batch_size, fit.begin() + std::min(n, (b + 1) * o.batch_size)}));
  const auto val_tokens = im.encode(val);
  im.net = nn::TokenLstm(im.net_options());
  auto opt = torch::optim::Adam(im.net->parameters(), torch::optim::AdamOptions(o.lr));
  train::TrainerOptions to;
  to.epochs = o.epochs;
  to.steps_per_epoch = steps;
  to.schedule = {train::ScheduleKind::Cosine, o.lr, steps * o.epochs, steps / 2, 0.05};
  to.monitor = "val_nll_per_token";
  to.maximize = false;
  to.patience = o.patience;
  to.label = "SMILES LM epoch";
  to.unit = "batches";
  to.progress = o.progress;
  torch::Tensor perm;
  train::ParameterSnapshot best;
  train::TrainerHooks hooks;
  hooks.begin_epoch = [&](int) {
    im.net->train();
    perm = torch::randperm(steps);
  };
  hooks.train_step = [&](int64_t b, double lr) -> std::optional<std::pair<double, int64_t>> {
    train::set_lr(opt, lr);
    const auto& tok = batches[static_cast<size_t>(perm[b].item<int64_t>())];
    const auto ll = Impl::sequence_log_likelihood(im.net, tok);
    const auto loss = -ll.sum() / (tok.slice(1, 1) != kPad).sum().to(torch::kFloat);
    return std::pair{train::optimise(opt, loss, im.net->parameters(), 5.0), int64_t{1}};
  };
  hooks.validate = [&](int) {
    torch::NoGradGuard ng;
    im.net->eval();
    const double ll = Impl::sequence_log_likelihood(im.net, val_tokens).sum().item<double>();
    const double tokens = (val_tokens.slice(1, 1) != kPad).sum().item<double>();
    return train::Metrics{{"val_nll_per_token", -ll / tokens}};
  };
  hooks.save_best = [&] { best.capture(im.net->parameters()); };
  const auto r = train::fit(to, hooks);
  best.restore(im.net->parameters());
  spdlog::info("SMILES LM: best epoch {} of {}, validation NLL {:.4f} per token", r.best_epoch, r.history.size(),
               r.best_value);
  return m;
}

Sample SmilesLm::sample(int n, double temperature, uint64_t seed) const {
  if (n < 1) fail_invalid("--n must be at least 1");
  if (!(temperature > 0)) fail_invalid("--temperature must be > 0");
  train::apply_torch_threads();
  torch::manual_seed(seed);
  Sample s;
  for (int done = 0; done < n; done += 512) {
    const int k = std::min(512, n - done);
    auto [tokens, smiles] = impl_->draw(impl_->net, k, temperature);
    torch::NoGradGuard ng;
    const auto ll = Impl::sequence_log_likelihood(impl_->net, tokens);
    for (int i = 0; i < k; ++i)
      s.smiles.push_back(smiles[static_cast<size_t>(i)]), s.log_likelihood.push_back(ll[i].item<double>());
  }
  return s;
}

const std::vector<std::string>& SmilesLm::training_smiles() const { return impl_->training; }

SmilesLm SmilesLm::optimize(const std::function<std::vector<double>(const std::vector<std::string>&)>& score,
                            const OptimizeOptions& o, std::vector<StepRecord>* history) const {
  train::apply_torch_threads();
  SmilesLm agent;
  agent.impl_ = std::make_unique<Impl>(*impl_);
  auto& a = *agent.impl_;
  a.net = nn::TokenLstm(a.net_options());
  {
    torch::NoGradGuard ng;
    const auto src = impl_->net->parameters();
    const auto dst = a.net->parameters();
    for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  }
  auto prior = impl_->net;
  prior->eval();
  auto opt = torch::optim::Adam(a.net->parameters(), torch::optim::AdamOptions(o.lr));
  core::ProgressBar bar("REINVENT step", o.steps, "steps", o.progress);
  std::map<std::string, int> seen;
  for (int step = 0; step < o.steps; ++step) {
    auto [tokens, smiles] = a.draw(a.net, o.batch_size, 1.0);
    const auto s = score(smiles);
    // Diversity filter (REINVENT 2's identical-molecule filter): a molecule earns its score the
    // first `repeats` times it is sampled, then 0, so the agent cannot collapse onto one answer.
    std::vector<double> reward = s;
    size_t valid = 0;
    for (size_t i = 0; i < smiles.size(); ++i) {
      const auto m = bc::parse_smiles(smiles[i]);
      if (!m) continue;
      ++valid;
      if (o.repeats > 0 && ++seen[bc::canonical_smiles(*m)] > o.repeats) reward[i] = 0;
    }
    torch::Tensor prior_ll;
    {
      torch::NoGradGuard ng;
      prior_ll = Impl::sequence_log_likelihood(prior, tokens);
    }
    a.net->train();
    const auto agent_ll = Impl::sequence_log_likelihood(a.net, tokens);
    const auto augmented = prior_ll + o.sigma * torch::tensor(std::vector<float>(reward.begin(), reward.end()));
    const auto loss = (augmented - agent_ll).pow(2).mean();
    const double l = train::optimise(opt, loss, a.net->parameters(), 5.0);
    double mean = 0;
    for (double v : s) mean += v / static_cast<double>(s.size());
    if (history)
      history->push_back({step + 1, mean, static_cast<double>(valid) / static_cast<double>(smiles.size()), l});
    bar.set_postfix(fmt::format("score {:.3f} valid {:.2f}", mean,
                                static_cast<double>(valid) / static_cast<double>(smiles.size())));
    bar.advance();
  }
  bar.finish();
  return agent;
}

json SmilesLm::describe() const {
  const auto& o = impl_->options;
  return {{"architecture", "token LSTM language model"},
          {"embedding", o.embedding},
          {"hidden", o.hidden},
          {"layers", o.layers},
          {"dropout", o.dropout},
          {"vocabulary", impl_->vocab.size()},
          {"max_tokens", o.max_tokens},
          {"training_molecules", impl_->training.size()}};
}

void SmilesLm::save(const fs::path& dir) const {
  fs::create_directories(dir);
  train::save_module(*impl_->net, dir / "smiles_lm.pt");
  std::string text;
  for (const auto& s : impl_->training) text += s + "\n";
  core::write_file_atomic(dir / "training_smiles.smi", text);
  json j = describe();
  j["format"] = kFormat;
  j["vocab"] = impl_->vocab;
  core::write_json_file(dir / "smiles_lm.json", j);
}

SmilesLm SmilesLm::load(const fs::path& dir) {
  const fs::path meta = dir / "smiles_lm.json";
  if (!fs::exists(meta)) fail_not_found(dir.string() + ": no SMILES language model here (smiles_lm.json missing)");
  const json j = core::read_json_file(meta);
  if (!j.is_object() || j.value("format", "") != kFormat)
    fail_invalid(meta.string() + std::string(": not a medai SMILES language model (format ") + kFormat + ")");
  SmilesLm m;
  m.impl_ = std::make_unique<Impl>();
  auto& im = *m.impl_;
  im.options.embedding = core::json_int(j, "embedding", meta.string(), 1, 4096);
  im.options.hidden = core::json_int(j, "hidden", meta.string(), 1, 8192);
  im.options.layers = core::json_int(j, "layers", meta.string(), 1, 16);
  im.options.max_tokens = core::json_int(j, "max_tokens", meta.string(), 1, 10000);
  im.vocab = j.at("vocab").get<std::vector<std::string>>();
  if (im.vocab.size() < 4 || im.vocab[0] != "<pad>" || im.vocab[1] != "<bos>" || im.vocab[2] != "<eos>")
    fail_invalid(meta.string() + ": vocab must start with <pad>, <bos>, <eos>");
  for (size_t i = 0; i < im.vocab.size(); ++i) im.index[im.vocab[i]] = static_cast<int64_t>(i);
  const std::string text = core::read_file(dir / "training_smiles.smi");
  for (size_t start = 0; start < text.size();) {
    const size_t end = std::min(text.find('\n', start), text.size());
    if (end > start) im.training.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  im.net = nn::TokenLstm(im.net_options());
  train::load_module(*im.net, dir / "smiles_lm.pt");
  return m;
}

namespace {

torch::Tensor descriptor_matrix(const std::vector<bc::Molecule>& mols) {
  const auto d = static_cast<int64_t>(bc::descriptor_names().size());
  auto t = torch::zeros({static_cast<int64_t>(mols.size()), d}, torch::kDouble);
  std::vector<std::vector<double>> rows(mols.size());
  core::parallel_for(mols.size(), [&](size_t i) {
    try {
      rows[i] = bc::descriptors(mols[i]);
    } catch (...) {
      rows[i].assign(static_cast<size_t>(d), 0.0);
    }
  });
  auto acc = t.accessor<double, 2>();
  for (size_t i = 0; i < rows.size(); ++i)
    for (int64_t k = 0; k < d; ++k)
      acc[static_cast<int64_t>(i)][k] =
          std::isfinite(rows[i][static_cast<size_t>(k)]) ? rows[i][static_cast<size_t>(k)] : 0.0;
  return t;
}

}  // namespace

json generation_metrics(const std::vector<std::string>& generated, const std::vector<std::string>& training) {
  if (generated.empty()) fail_invalid("no generated SMILES to score");
  std::vector<std::optional<bc::Molecule>> parsed(generated.size());
  core::parallel_for(generated.size(), [&](size_t i) { parsed[i] = bc::parse_smiles(generated[i]); });
  std::set<std::string> train_set;
  for (const auto& s : training)
    if (const auto m = bc::parse_smiles(s)) train_set.insert(bc::canonical_smiles(*m));
  std::set<std::string> unique;
  std::vector<bc::Molecule> unique_mols;
  size_t valid = 0;
  for (const auto& m : parsed) {
    if (!m) continue;
    ++valid;
    if (unique.insert(bc::canonical_smiles(*m)).second) unique_mols.push_back(*m);
  }
  size_t novel = 0;
  for (const auto& s : unique) novel += !train_set.count(s);
  json j = {{"n", generated.size()},
            {"validity", static_cast<double>(valid) / static_cast<double>(generated.size())},
            {"uniqueness", valid ? static_cast<double>(unique.size()) / static_cast<double>(valid) : 0.0},
            {"novelty", unique.empty() ? 0.0 : static_cast<double>(novel) / static_cast<double>(unique.size())}};
  if (unique_mols.size() >= 2) {
    const size_t k = std::min<size_t>(unique_mols.size(), 1000);
    std::vector<bc::Fingerprint> fps;
    for (size_t i = 0; i < k; ++i) fps.push_back(bc::morgan_fingerprint(unique_mols[i]));
    double sum = 0;
    for (size_t i = 0; i < k; ++i)
      for (size_t l = i + 1; l < k; ++l) sum += bc::tanimoto(fps[i], fps[l]);
    j["internal_diversity"] = 1.0 - sum / (static_cast<double>(k) * static_cast<double>(k - 1) / 2.0);
  }
  std::vector<bc::Molecule> train_mols;
  for (const auto& s : train_set) train_mols.push_back(*bc::parse_smiles(s));
  if (unique_mols.size() >= 2 && train_mols.size() >= 2) {
    auto g = descriptor_matrix(unique_mols), t = descriptor_matrix(train_mols);
    const auto mean = t.mean(0), sd = t.std(0).clamp_min(1e-6);
    j["frechet_descriptor_distance"] =
        metrics::frechet_distance(((g - mean) / sd).clamp(-10, 10), ((t - mean) / sd).clamp(-10, 10));
  }
  return j;
}

}  // namespace medai::chem
