#include "medai/chem/mol_model.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/metrics/classification.h"
#include "medai/nn/nets/dmpnn.h"
#include "medai/train/torch_helpers.h"
#include "medai/train/trainer.h"

namespace medai::chem {

namespace fs = std::filesystem;
namespace bc = bridges::chem;
using nlohmann::json;

namespace {

constexpr const char* kFormat = "medai.mol_model/1";
constexpr const char* kMetaFile = "mol_model.json";
constexpr int kFpBits = 2048;

std::vector<bc::MolGraph> graphs_of(const std::vector<bc::Molecule>& mols) {
  std::vector<bc::MolGraph> g(mols.size());
  core::parallel_for(mols.size(), [&](size_t i) { g[i] = bc::molecular_graph(mols[i]); });
  return g;
}

std::vector<bc::Fingerprint> fingerprints_of(const std::vector<bc::Molecule>& mols) {
  std::vector<bc::Fingerprint> f(mols.size());
  core::parallel_for(mols.size(), [&](size_t i) { f[i] = bc::morgan_fingerprint(mols[i], 2, kFpBits); });
  return f;
}

// RDKit descriptors standardised with the training set's mean and sd, clipped to +-6 SD;
// a descriptor RDKit cannot compute (non-finite) becomes the training mean (0).
struct DescriptorScaler {
  std::vector<double> mean, sd;
  void fit(const std::vector<std::vector<double>>& raw) {
    const size_t d = bc::descriptor_names().size();
    mean.assign(d, 0), sd.assign(d, 1);
    for (size_t k = 0; k < d; ++k) {
      double s = 0, ss = 0;
      size_t n = 0;
      for (const auto& r : raw)
        if (std::isfinite(r[k])) s += r[k], ss += r[k] * r[k], ++n;
      if (n == 0) continue;
      mean[k] = s / static_cast<double>(n);
      const double var = ss / static_cast<double>(n) - mean[k] * mean[k];
      sd[k] = var > 1e-12 ? std::sqrt(var) : 1.0;
    }
  }
  std::vector<float> transform(const std::vector<std::vector<double>>& raw) const {
    std::vector<float> out;
    out.reserve(raw.size() * mean.size());
    for (const auto& r : raw)
      for (size_t k = 0; k < mean.size(); ++k) {
        const double z = std::isfinite(r[k]) ? (r[k] - mean[k]) / sd[k] : 0.0;
        out.push_back(static_cast<float>(std::clamp(z, -6.0, 6.0)));
      }
    return out;
  }
};

std::vector<std::vector<double>> raw_descriptors(const std::vector<bc::Molecule>& mols) {
  std::vector<std::vector<double>> d(mols.size());
  const size_t k = bc::descriptor_names().size();
  std::atomic<size_t> failed{0};
  core::parallel_for(mols.size(), [&](size_t i) {
    try {
      d[i] = bc::descriptors(mols[i]);
    } catch (...) {
      d[i].assign(k, std::nan(""));
      ++failed;
    }
  });
  if (failed)
    spdlog::warn("RDKit could not compute the descriptors of {} of {} molecules; they get the training means",
                 failed.load(), mols.size());
  return d;
}

// A featurised set of molecules, ready for batching.
struct Prepared {
  std::vector<bc::MolGraph> graphs;
  std::vector<float> extra;  // n x extra_dim
  int64_t extra_dim = 0;
  size_t size() const { return graphs.size(); }
};

nn::GraphBatch make_batch(const Prepared& p, const std::vector<int64_t>& idx) {
  std::vector<float> atoms, bonds, extra;
  std::vector<int64_t> from, to, mol_of;
  int64_t offset = 0;
  for (size_t m = 0; m < idx.size(); ++m) {
    const auto& g = p.graphs[static_cast<size_t>(idx[m])];
    atoms.insert(atoms.end(), g.atom_features.begin(), g.atom_features.end());
    bonds.insert(bonds.end(), g.bond_features.begin(), g.bond_features.end());
    for (size_t b = 0; b < g.bond_from.size(); ++b)
      from.push_back(offset + g.bond_from[b]), to.push_back(offset + g.bond_to[b]);
    mol_of.insert(mol_of.end(), static_cast<size_t>(g.atoms), static_cast<int64_t>(m));
    offset += g.atoms;
    if (p.extra_dim > 0) {
      const auto* row = p.extra.data() + idx[m] * p.extra_dim;
      extra.insert(extra.end(), row, row + p.extra_dim);
    }
  }
  const auto f = [](std::vector<float>& v, int64_t cols) {
    return torch::from_blob(v.data(), {static_cast<int64_t>(v.size()) / cols, cols}, torch::kFloat).clone();
  };
  const auto l = [](std::vector<int64_t>& v) {
    return torch::from_blob(v.data(), {static_cast<int64_t>(v.size())}, torch::kLong).clone();
  };
  nn::GraphBatch b;
  b.atoms = f(atoms, bc::kAtomFeatures);
  b.bonds = bonds.empty() ? torch::zeros({0, bc::kBondFeatures}) : f(bonds, bc::kBondFeatures);
  b.bond_from = l(from), b.bond_to = l(to), b.atom_mol = l(mol_of);
  if (p.extra_dim > 0) b.extra = f(extra, p.extra_dim);
  b.molecules = static_cast<int64_t>(idx.size());
  return b;
}

std::vector<int64_t> range_of(size_t begin, size_t end) {
  std::vector<int64_t> v(end - begin);
  std::iota(v.begin(), v.end(), static_cast<int64_t>(begin));
  return v;
}

// Network outputs [n, tasks] for every molecule, in eval mode.
torch::Tensor run_all(nn::Dmpnn& net, const Prepared& p) {
  torch::NoGradGuard ng;
  net->eval();
  std::vector<torch::Tensor> parts;
  for (size_t s = 0; s < p.size(); s += 256)
    parts.push_back(net->forward(make_batch(p, range_of(s, std::min(p.size(), s + 256)))));
  return parts.empty() ? torch::zeros({0, net->options.tasks}) : torch::cat(parts, 0);
}

// Mean over tasks of the validation AUROC (tasks with both classes), or minus the RMSE.
double validation_score(const torch::Tensor& out, const std::vector<float>& labels, size_t tasks, TaskType type) {
  const auto o = out.contiguous();
  const float* z = o.data_ptr<float>();
  const size_t n = labels.size() / tasks;
  double total = 0;
  size_t counted = 0;
  for (size_t t = 0; t < tasks; ++t) {
    std::vector<double> s;
    std::vector<int> y;
    double se = 0;
    for (size_t i = 0; i < n; ++i) {
      const float v = labels[i * tasks + t];
      if (std::isnan(v)) continue;
      s.push_back(z[i * tasks + t]), y.push_back(static_cast<int>(v));
      se += (z[i * tasks + t] - v) * (z[i * tasks + t] - v);
    }
    if (type == TaskType::Regression) {
      if (!s.empty()) total -= std::sqrt(se / static_cast<double>(s.size())), ++counted;
      continue;
    }
    const auto pos = std::count(y.begin(), y.end(), 1);
    if (pos == 0 || pos == static_cast<long>(y.size())) continue;
    total += metrics::auroc(s, y), ++counted;
  }
  return counted ? total / static_cast<double>(counted) : 0.0;
}

torch::Tensor masked_loss(const torch::Tensor& out, const torch::Tensor& y, TaskType type) {
  const auto mask = torch::isnan(y).logical_not().to(torch::kFloat);
  const auto target = torch::nan_to_num(y, 0.0);
  const auto per = type == TaskType::Classification
                       ? torch::binary_cross_entropy_with_logits(out, target, {}, {}, at::Reduction::None)
                       : (out - target).pow(2);
  return (per * mask).sum() / mask.sum().clamp_min(1);
}

}  // namespace

struct MolModel::Impl {
  std::string kind;
  std::vector<std::string> tasks;
  TaskType type = TaskType::Classification;
  MolModelOptions options;
  bool use_descriptors = false;
  DescriptorScaler scaler;
  std::vector<double> target_mean, target_sd;  // regression: the network predicts standardised targets
  std::vector<nn::Dmpnn> members;
  std::vector<std::vector<bridges::BoostedTrees>> trees;  // [task][bag]
  std::vector<bc::Fingerprint> train_fps;

  Prepared prepare(const std::vector<bc::Molecule>& mols) const {
    Prepared p;
    p.graphs = graphs_of(mols);
    if (use_descriptors) {
      p.extra = scaler.transform(raw_descriptors(mols));
      p.extra_dim = static_cast<int64_t>(scaler.mean.size());
    }
    return p;
  }
  nn::DmpnnOptions net_options() const {
    nn::DmpnnOptions n;
    n.atom_features = bc::kAtomFeatures, n.bond_features = bc::kBondFeatures;
    n.extra_features = use_descriptors ? static_cast<int64_t>(scaler.mean.size()) : 0;
    n.tasks = static_cast<int64_t>(tasks.size());
    n.hidden = options.hidden, n.depth = options.depth, n.ffn_hidden = options.ffn_hidden;
    n.dropout = options.dropout;
    return n;
  }
  std::vector<float> scaled_labels(const MolDataset& d) const {
    std::vector<float> y = d.labels;
    if (type == TaskType::Regression)
      for (size_t i = 0; i < y.size(); ++i) {
        const size_t t = i % tasks.size();
        if (!std::isnan(y[i])) y[i] = static_cast<float>((y[i] - target_mean[t]) / target_sd[t]);
      }
    return y;
  }
  nn::Dmpnn train_member(const Prepared& fit, const std::vector<float>& fit_y, const Prepared& val,
                         const std::vector<float>& val_y, int member) const;
  void train_trees(const MolDataset& train);
  void choose_blend(const MolDataset& valid);
  MolPredictions predict_trees(const std::vector<bc::Molecule>& mols) const;
  MolPredictions predict_networks(const std::vector<bc::Molecule>& mols) const;
  // ensemble: w x networks + (1 - w) x trees
  MolPredictions predict(const std::vector<bc::Molecule>& mols, double w) const;
  double blend = 1.0;  // the networks' weight in an ensemble, chosen on the validation molecules
};

nn::Dmpnn MolModel::Impl::train_member(const Prepared& fit, const std::vector<float>& fit_y, const Prepared& val,
                                       const std::vector<float>& val_y, int member) const {
  const auto& o = options;
  torch::manual_seed(o.seed + 1000 * static_cast<uint64_t>(member));
  nn::Dmpnn net(net_options());
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
  const auto n = static_cast<int64_t>(fit.size());
  const int64_t steps = (n + o.batch_size - 1) / o.batch_size;
  const int64_t t = static_cast<int64_t>(tasks.size());
  const auto y_all = torch::from_blob(const_cast<float*>(fit_y.data()), {n, t}, torch::kFloat);
  train::TrainerOptions to;
  to.epochs = o.epochs;
  to.steps_per_epoch = steps;
  to.schedule = {train::ScheduleKind::Cosine, o.lr, steps * o.epochs, 2 * steps, 0.1};
  to.monitor = type == TaskType::Classification ? "val_auroc" : "val_neg_rmse";
  to.patience = o.patience;
  to.label = "D-MPNN " + std::to_string(member + 1) + "/" + std::to_string(o.ensemble) + " epoch";
  to.unit = "molecules";
  to.units_per_epoch = n;
  to.progress = o.progress;
  to.log_epochs = false;
  torch::Tensor perm;
  train::ParameterSnapshot best;
  train::TrainerHooks hooks;
  hooks.begin_epoch = [&](int) {
    net->train();
    perm = torch::randperm(n);
  };
  hooks.train_step = [&](int64_t b, double lr) -> std::optional<std::pair<double, int64_t>> {
    train::set_lr(opt, lr);
    const auto idx_t = perm.slice(0, b * o.batch_size, std::min(n, (b + 1) * o.batch_size));
    const std::vector<int64_t> idx(idx_t.data_ptr<int64_t>(), idx_t.data_ptr<int64_t>() + idx_t.numel());
    const auto loss = masked_loss(net->forward(make_batch(fit, idx)), y_all.index_select(0, idx_t), type);
    return std::pair{train::optimise(opt, loss, net->parameters(), 10.0), static_cast<int64_t>(idx.size())};
  };
  hooks.validate = [&](int) {
    return train::Metrics{{to.monitor, validation_score(run_all(net, val), val_y, tasks.size(), type)}};
  };
  hooks.save_best = [&] { best.capture(net->parameters()); };
  const auto r = train::fit(to, hooks);
  best.restore(net->parameters());
  spdlog::info("D-MPNN member {}: best epoch {} of {}, {} {:.4f}", member + 1, r.best_epoch, r.history.size(),
               to.monitor, r.best_value);
  return net;
}

namespace {
std::vector<float> fingerprint_matrix(const std::vector<bc::Fingerprint>& fps, const std::vector<size_t>& rows) {
  std::vector<float> x(rows.size() * kFpBits, 0.0f);
  for (size_t r = 0; r < rows.size(); ++r)
    for (int b = 0; b < kFpBits; ++b)
      if (fps[rows[r]].test(b)) x[r * kFpBits + static_cast<size_t>(b)] = 1.0f;
  return x;
}
}  // namespace

void MolModel::Impl::train_trees(const MolDataset& train) {
  trees.clear();
  trees.resize(tasks.size());
  for (size_t t = 0; t < tasks.size(); ++t) {
    std::vector<size_t> rows;
    std::vector<float> y;
    for (size_t i = 0; i < train.size(); ++i)
      if (!std::isnan(train.label(i, t))) rows.push_back(i), y.push_back(train.label(i, t));
    const auto x = fingerprint_matrix(train_fps, rows);
    for (int bag = 0; bag < options.ensemble; ++bag) {
      auto p = options.trees;
      p.seed = options.seed + static_cast<uint64_t>(bag);
      trees[t].push_back(type == TaskType::Classification
                             ? bridges::BoostedTrees::train_binary(x, rows.size(), kFpBits, y, p)
                             : bridges::BoostedTrees::train_regression(x, rows.size(), kFpBits, y, p));
    }
    if (options.progress)
      spdlog::info("trees: task {}/{} ({}) on {} molecules", t + 1, tasks.size(), tasks[t], rows.size());
  }
}

void MolModel::Impl::choose_blend(const MolDataset& valid) {
  // The weight of the networks against the trees that scores best on the validation molecules
  // (mean AUROC or RMSE over tasks), from 1.0 down to 0.5 in steps of 0.1.
  const auto nets = predict_networks(valid.molecules), tr = predict_trees(valid.molecules);
  double best = -1e300;
  for (int k = 10; k >= 5; --k) {
    const double w = k / 10.0;
    MolPredictions p = nets;
    for (size_t j = 0; j < p.mean.size(); ++j) p.mean[j] = w * nets.mean[j] + (1 - w) * tr.mean[j];
    const auto e = evaluate_predictions(valid, p);
    const double score = type == TaskType::Classification ? e["mean_auroc"].get<double>() : -e["rmse"].get<double>();
    spdlog::info("ensemble: networks x {:.1f} + trees x {:.1f}: validation {} {:.4f}", w, 1 - w,
                 type == TaskType::Classification ? "mean AUROC" : "RMSE", std::abs(score));
    if (score > best + 1e-9) best = score, blend = w;
  }
  spdlog::info("ensemble: networks weighted {:.1f}, trees {:.1f}", blend, 1 - blend);
}

MolModel::MolModel() = default;
MolModel::~MolModel() = default;
MolModel::MolModel(MolModel&&) noexcept = default;
MolModel& MolModel::operator=(MolModel&&) noexcept = default;

MolModel MolModel::train(const MolDataset& train_in, const MolDataset& valid_in, const MolModelOptions& o) {
  check_known("--model", o.model, {"dmpnn", "xgb-ecfp", "ensemble"});
  if (o.ensemble < 1 || o.ensemble > 50) fail_invalid("--ensemble must be in [1, 50]");
  if (train_in.size() < 10) fail_invalid(train_in.source.string() + ": fewer than 10 training molecules");
  train::apply_torch_threads();
  MolModel m;
  m.impl_ = std::make_unique<Impl>();
  auto& im = *m.impl_;
  im.kind = o.model, im.tasks = train_in.tasks, im.type = train_in.type, im.options = o;
  MolDataset train = train_in, valid = valid_in;
  if (valid.size() == 0) {  // hold back 10 % of the training molecules for model selection
    const auto parts = random_split(train_in.size(), o.seed, 0.9, 0.1);
    std::vector<size_t> a, b;
    for (size_t i = 0; i < parts.size(); ++i) (parts[i] == data::RowSplits::kTrain ? a : b).push_back(i);
    train = subset_rows(train_in, a), valid = subset_rows(train_in, b);
    spdlog::info("no validation split: {} of the training molecules select the best epoch", b.size());
  }
  im.train_fps = fingerprints_of(train.molecules);
  if (im.type == TaskType::Regression) {
    for (size_t t = 0; t < im.tasks.size(); ++t) {
      double s = 0, ss = 0, n = 0;
      for (size_t i = 0; i < train.size(); ++i)
        if (const float v = train.label(i, t); !std::isnan(v)) s += v, ss += v * v, ++n;
      const double mean = s / n, var = ss / n - mean * mean;
      im.target_mean.push_back(mean), im.target_sd.push_back(var > 1e-12 ? std::sqrt(var) : 1.0);
    }
  }
  if (o.model != "dmpnn") im.train_trees(train);
  if (o.model == "xgb-ecfp") return m;
  im.use_descriptors = o.descriptors;
  if (im.use_descriptors) im.scaler.fit(raw_descriptors(train.molecules));
  const Prepared fit = im.prepare(train.molecules), val = im.prepare(valid.molecules);
  const auto fit_y = im.scaled_labels(train), val_y = im.scaled_labels(valid);
  for (int k = 0; k < o.ensemble; ++k) im.members.push_back(im.train_member(fit, fit_y, val, val_y, k));
  if (o.model == "ensemble") im.choose_blend(valid);
  return m;
}

namespace {

// Mean and SD over members (member -> n x tasks).
MolPredictions pool(const std::vector<std::vector<double>>& per_member, size_t n, size_t tasks) {
  MolPredictions p;
  p.n = n, p.tasks = tasks;
  p.mean.assign(n * tasks, 0), p.sd.assign(n * tasks, 0);
  const double k = static_cast<double>(per_member.size());
  for (size_t j = 0; j < p.mean.size(); ++j) {
    double s = 0, ss = 0;
    for (const auto& v : per_member) s += v[j], ss += v[j] * v[j];
    p.mean[j] = s / k;
    p.sd[j] = k > 1 ? std::sqrt(std::max(0.0, (ss - s * s / k) / (k - 1))) : 0.0;
  }
  return p;
}

}  // namespace

MolPredictions MolModel::Impl::predict_trees(const std::vector<bc::Molecule>& mols) const {
  const size_t n = mols.size(), t_count = tasks.size();
  const auto fps = fingerprints_of(mols);
  std::vector<size_t> rows(n);
  std::iota(rows.begin(), rows.end(), size_t{0});
  const auto x = fingerprint_matrix(fps, rows);
  std::vector<std::vector<double>> per_member(trees.front().size(), std::vector<double>(n * t_count));
  for (size_t t = 0; t < t_count; ++t)
    for (size_t b = 0; b < trees[t].size(); ++b) {
      const auto v = trees[t][b].predict(x, n);
      for (size_t i = 0; i < n; ++i) per_member[b][i * t_count + t] = v[i];
    }
  return pool(per_member, n, t_count);
}

MolPredictions MolModel::Impl::predict_networks(const std::vector<bc::Molecule>& mols) const {
  train::apply_torch_threads();
  const size_t t_count = tasks.size();
  const Prepared prep = prepare(mols);
  std::vector<std::vector<double>> per_member;
  for (auto net : members) {
    const auto z = run_all(net, prep);
    const auto out = type == TaskType::Classification ? torch::sigmoid(z) : z;
    std::vector<double> v(out.data_ptr<float>(), out.data_ptr<float>() + out.numel());
    if (type == TaskType::Regression)
      for (size_t i = 0; i < v.size(); ++i) v[i] = v[i] * target_sd[i % t_count] + target_mean[i % t_count];
    per_member.push_back(std::move(v));
  }
  return pool(per_member, mols.size(), t_count);
}

MolPredictions MolModel::Impl::predict(const std::vector<bc::Molecule>& mols, double w) const {
  if (kind == "xgb-ecfp") return predict_trees(mols);
  auto p = predict_networks(mols);
  if (kind != "ensemble" || w >= 1.0) return p;
  const auto t = predict_trees(mols);
  for (size_t j = 0; j < p.mean.size(); ++j) {
    p.mean[j] = w * p.mean[j] + (1 - w) * t.mean[j];
    p.sd[j] = std::sqrt(w * p.sd[j] * p.sd[j] + (1 - w) * t.sd[j] * t.sd[j]);
  }
  return p;
}

MolPredictions MolModel::predict(const std::vector<bc::Molecule>& mols) const {
  return impl_->predict(mols, impl_->blend);
}

std::vector<double> MolModel::atom_contributions(const bc::Molecule& mol, size_t task) const {
  const auto& im = *impl_;
  if (im.members.empty() || task >= im.tasks.size()) return {};
  const Prepared prep = im.prepare({mol});
  const auto batch = make_batch(prep, {0});
  std::vector<double> total(static_cast<size_t>(mol.atoms()), 0.0);
  for (auto net : im.members) {
    net->eval();
    torch::Tensor atoms;
    {
      torch::NoGradGuard ng;
      atoms = net->encode_atoms(batch);
    }
    atoms.requires_grad_(true);
    net->readout(atoms, batch).select(1, static_cast<int64_t>(task)).sum().backward();
    const auto c = (atoms.grad() * atoms).sum(1);
    for (size_t a = 0; a < total.size(); ++a)
      total[a] += c[static_cast<int64_t>(a)].item<double>() / static_cast<double>(im.members.size());
  }
  return total;
}

std::vector<double> MolModel::nearest_training_similarity(const std::vector<bc::Molecule>& mols) const {
  const auto fps = fingerprints_of(mols);
  std::vector<double> best(mols.size(), 0.0);
  core::parallel_for(
      mols.size(),
      [&](size_t i) {
        for (const auto& t : impl_->train_fps) best[i] = std::max(best[i], bc::tanimoto(fps[i], t));
      },
      4);
  return best;
}

const std::vector<std::string>& MolModel::tasks() const { return impl_->tasks; }
TaskType MolModel::type() const { return impl_->type; }
std::pair<double, double> MolModel::target_scale(size_t task) const {
  if (impl_->type != TaskType::Regression || task >= impl_->target_mean.size()) return {0.0, 1.0};
  return {impl_->target_mean[task], impl_->target_sd[task]};
}
const std::string& MolModel::kind() const { return impl_->kind; }

json MolModel::describe() const {
  const auto& o = impl_->options;
  json j = {{"model", impl_->kind},
            {"ensemble", o.ensemble},
            {"tasks", impl_->tasks},
            {"task_type", task_type_name(impl_->type)},
            {"training_molecules", impl_->train_fps.size()}};
  if (impl_->kind != "xgb-ecfp")
    j.update({{"hidden", o.hidden},
              {"depth", o.depth},
              {"ffn_hidden", o.ffn_hidden},
              {"dropout", o.dropout},
              {"descriptors", impl_->use_descriptors},
              {"epochs", o.epochs},
              {"batch_size", o.batch_size},
              {"lr", o.lr}});
  if (impl_->kind != "dmpnn")
    j.update({{"fingerprint", "ECFP4 (Morgan radius 2, 2048 bits)"},
              {"rounds", o.trees.rounds},
              {"learning_rate", o.trees.learning_rate},
              {"max_depth", o.trees.max_depth}});
  if (impl_->kind == "ensemble") j["network_weight"] = impl_->blend;
  return j;
}

namespace {

void save_fingerprints(const std::vector<bc::Fingerprint>& fps, const fs::path& file) {
  std::string bytes = "MEDAIFP1";
  const uint64_t count = fps.size(), bits = kFpBits;
  bytes.append(reinterpret_cast<const char*>(&bits), 8).append(reinterpret_cast<const char*>(&count), 8);
  for (const auto& f : fps) bytes.append(reinterpret_cast<const char*>(f.words.data()), f.words.size() * 8);
  core::write_file_atomic(file, bytes);
}

std::vector<bc::Fingerprint> load_fingerprints(const fs::path& file) {
  const std::string bytes = core::read_file(file);
  uint64_t bits = 0, count = 0;
  if (bytes.size() < 24 || bytes.compare(0, 8, "MEDAIFP1") != 0)
    fail_invalid(file.string() + ": not a medai fingerprint file");
  std::memcpy(&bits, bytes.data() + 8, 8), std::memcpy(&count, bytes.data() + 16, 8);
  const uint64_t words = (bits + 63) / 64;
  if (bits != kFpBits || bytes.size() != 24 + count * words * 8)
    fail_invalid(file.string() + ": declared " + std::to_string(count) + " fingerprints of " + std::to_string(bits) +
                 " bits, the file holds " + std::to_string(bytes.size()) + " bytes");
  std::vector<bc::Fingerprint> fps(count);
  for (uint64_t i = 0; i < count; ++i) {
    fps[i].bits = kFpBits;
    fps[i].words.resize(words);
    std::memcpy(fps[i].words.data(), bytes.data() + 24 + i * words * 8, words * 8);
  }
  return fps;
}

}  // namespace

void MolModel::save(const fs::path& dir) const {
  const auto& im = *impl_;
  fs::create_directories(dir / "members");
  json j = describe();
  j["format"] = kFormat;
  j["descriptor_mean"] = im.scaler.mean, j["descriptor_sd"] = im.scaler.sd;
  j["descriptor_names"] = im.use_descriptors ? bc::descriptor_names() : std::vector<std::string>{};
  j["target_mean"] = im.target_mean, j["target_sd"] = im.target_sd;
  for (size_t k = 0; k < im.members.size(); ++k)
    train::save_module(*im.members[k], dir / "members" / ("dmpnn-" + std::to_string(k) + ".pt"));
  for (size_t t = 0; t < im.trees.size(); ++t)
    for (size_t b = 0; b < im.trees[t].size(); ++b)
      core::write_file_atomic(dir / "members" / ("trees-" + std::to_string(t) + "-" + std::to_string(b) + ".json"),
                              im.trees[t][b].serialise());
  save_fingerprints(im.train_fps, dir / "train_fingerprints.bin");
  core::write_json_file(dir / kMetaFile, j);  // last: a folder without it holds no model
}

bool MolModel::holds_model(const fs::path& dir) { return fs::exists(dir / kMetaFile); }

MolModel MolModel::load(const fs::path& dir) {
  const fs::path meta = dir / kMetaFile;
  if (!fs::exists(meta)) fail_not_found(dir.string() + ": no molecular model here (" + kMetaFile + " missing)");
  const json j = core::read_json_file(meta);
  if (!j.is_object() || j.value("format", "") != kFormat)
    fail_invalid(meta.string() + std::string(": not a medai molecular model (format ") + kFormat + ")");
  MolModel m;
  m.impl_ = std::make_unique<Impl>();
  auto& im = *m.impl_;
  im.kind = core::json_string(j, "model", meta.string());
  check_known(meta.string() + ": model", im.kind, {"dmpnn", "xgb-ecfp", "ensemble"});
  im.tasks = j.at("tasks").get<std::vector<std::string>>();
  im.type = core::json_string(j, "task_type", meta.string()) == "regression" ? TaskType::Regression
                                                                             : TaskType::Classification;
  im.options.ensemble = core::json_int(j, "ensemble", meta.string(), 1, 50);
  im.target_mean = j.at("target_mean").get<std::vector<double>>();
  im.target_sd = j.at("target_sd").get<std::vector<double>>();
  im.train_fps = load_fingerprints(dir / "train_fingerprints.bin");
  if (im.kind != "dmpnn") {
    im.trees.clear();
    im.trees.resize(im.tasks.size());
    for (size_t t = 0; t < im.tasks.size(); ++t)
      for (int b = 0; b < im.options.ensemble; ++b) {
        const fs::path f = dir / "members" / ("trees-" + std::to_string(t) + "-" + std::to_string(b) + ".json");
        im.trees[t].push_back(bridges::BoostedTrees::deserialise(core::read_file(f), kFpBits, f.string()));
      }
    if (im.kind == "xgb-ecfp") return m;
    im.blend = core::json_number(j, "network_weight", meta.string(), 0.0, 1.0);
  }
  im.options.hidden = core::json_int(j, "hidden", meta.string(), 1, 8192);
  im.options.depth = core::json_int(j, "depth", meta.string(), 1, 32);
  im.options.ffn_hidden = core::json_int(j, "ffn_hidden", meta.string(), 1, 8192);
  im.use_descriptors = core::json_bool(j, "descriptors", meta.string(), false);
  if (im.use_descriptors) {
    if (j.at("descriptor_names") != json(bc::descriptor_names()))
      fail_invalid(meta.string() + ": trained on another RDKit descriptor set than this build's (RDKit " +
                   bc::rdkit_version() + ")");
    im.scaler.mean = j.at("descriptor_mean").get<std::vector<double>>();
    im.scaler.sd = j.at("descriptor_sd").get<std::vector<double>>();
  }
  for (int k = 0; k < im.options.ensemble; ++k) {
    nn::Dmpnn net(im.net_options());
    train::load_module(*net, dir / "members" / ("dmpnn-" + std::to_string(k) + ".pt"));
    im.members.push_back(net);
  }
  return m;
}

json evaluate_predictions(const MolDataset& d, const MolPredictions& p, const std::vector<std::string>& only) {
  if (p.n != d.size() || p.tasks != d.tasks.size()) fail(ErrorCode::Internal, "predictions do not match the dataset");
  json per = json::object();
  double sum_auroc = 0, sum_auprc = 0, se = 0, ae = 0, sy = 0, syy = 0;
  size_t counted = 0, labels = 0;
  for (size_t t = 0; t < p.tasks; ++t) {
    if (!only.empty() && std::find(only.begin(), only.end(), d.tasks[t]) == only.end()) continue;
    std::vector<double> s;
    std::vector<int> y;
    std::vector<double> yr;
    for (size_t i = 0; i < p.n; ++i)
      if (const float v = d.label(i, t); !std::isnan(v))
        s.push_back(p.at(i, t)), y.push_back(static_cast<int>(v)), yr.push_back(v);
    if (d.type == TaskType::Classification) {
      const auto pos = std::count(y.begin(), y.end(), 1);
      json e = {{"n", s.size()}, {"positives", pos}};
      if (pos > 0 && pos < static_cast<long>(y.size())) {
        e["auroc"] = metrics::auroc(s, y), e["auprc"] = metrics::average_precision(s, y);
        sum_auroc += e["auroc"].get<double>(), sum_auprc += e["auprc"].get<double>(), ++counted;
      } else {
        e["auroc"] = nullptr, e["auprc"] = nullptr;  // one class only: undefined
      }
      per[d.tasks[t]] = e;
    } else {
      double tse = 0, tae = 0;
      for (size_t i = 0; i < s.size(); ++i) tse += (s[i] - yr[i]) * (s[i] - yr[i]), tae += std::abs(s[i] - yr[i]);
      per[d.tasks[t]] = {{"n", s.size()},
                         {"rmse", std::sqrt(tse / std::max<size_t>(1, s.size()))},
                         {"mae", tae / std::max<size_t>(1, s.size())}};
      se += tse, ae += tae, labels += s.size();
      for (double v : yr) sy += v, syy += v * v;
    }
  }
  json out = {{"n", p.n}, {"per_task", per}, {"task_type", task_type_name(d.type)}};
  if (d.type == TaskType::Classification) {
    if (counted == 0) fail_invalid(d.source.string() + ": no task has both classes in this split; AUROC is undefined");
    out["mean_auroc"] = sum_auroc / static_cast<double>(counted);
    out["mean_auprc"] = sum_auprc / static_cast<double>(counted);
    out["tasks_scored"] = counted;
  } else {
    const double nl = static_cast<double>(std::max<size_t>(1, labels)), sst = syy - sy * sy / nl;
    out["rmse"] = std::sqrt(se / nl), out["mae"] = ae / nl, out["r2"] = sst > 0 ? 1.0 - se / sst : 0.0;
  }
  return out;
}

}  // namespace medai::chem
