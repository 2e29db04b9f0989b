#include "medai/federated/site_model.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cmath>
#include <opencv2/core.hpp>

#include "medai/core/error.h"
#include "medai/core/runtime.h"
#include "medai/core/sha256.h"
#include "medai/data/image_dataset.h"
#include "medai/data/image_loader.h"
#include "medai/icu/features.h"
#include "medai/icu/physionet.h"
#include "medai/metrics/classification.h"
#include "medai/train/torch_helpers.h"

namespace medai::federated {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kImageSize = 64;
constexpr int kHidden = 64;
constexpr float kZClip = 5.0f;

// A stable number in [0, 1) from a string (the same in every process and on every machine).
double unit_hash(const std::string& s) {
  core::Sha256 h;
  h.update(s);
  const auto d = h.digest();
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | d[static_cast<size_t>(i)];
  return static_cast<double>(v >> 11) * 0x1.0p-53;
}

Part part_of(const std::string& patient) {
  const double u = unit_hash("split:" + patient);
  return u < 0.70 ? Part::Train : u < 0.85 ? Part::Validation : Part::Test;
}

struct Partition {
  enum Kind { All, IcuType, Hash, Skew } kind = All;
  int k = 0, n = 0;
};

Partition parse_partition(const std::string& s, const std::string& task) {
  Partition p;
  if (s.empty()) return p;
  const auto colon = s.find(':');
  const std::string kind = s.substr(0, colon), rest = colon == std::string::npos ? "" : s.substr(colon + 1);
  try {
    if (kind == "icutype" && task == "icu") {
      p.kind = Partition::IcuType;
      p.k = std::stoi(rest);
      if (p.k >= 1 && p.k <= 4) return p;
    } else if (kind == "part" || kind == "skew") {
      const auto slash = rest.find('/');
      p.kind = kind == "part" ? Partition::Hash : Partition::Skew;
      p.k = std::stoi(rest.substr(0, slash));
      p.n = std::stoi(rest.substr(slash + 1));
      if (slash != std::string::npos && p.n >= 1 && p.k >= 1 && p.k <= p.n) return p;
    }
  } catch (const std::exception&) {}
  fail_invalid("--partition '" + s + "': expected icutype:K (ICU, K = 1..4), part:K/N or skew:K/N");
}

// The site (1..N) a patient belongs to under a hash or skewed partition.
int site_of(const Partition& p, const std::string& patient, int label) {
  const double u = unit_hash("site:" + patient);
  if (p.kind == Partition::Hash) return 1 + static_cast<int>(u * p.n);
  double total = 0;  // skewed: site j's odds are (N - j + 1) for positives and j for negatives
  for (int j = 1; j <= p.n; ++j) total += label ? p.n - j + 1 : j;
  double c = 0;
  for (int j = 1; j <= p.n; ++j) {
    c += (label ? p.n - j + 1 : j) / total;
    if (u < c) return j;
  }
  return p.n;
}

struct Example {
  std::string patient;
  int label = 0;
  std::vector<float> features;  // tabular, raw (NaN = missing)
  cv::Mat image;                // images, [0, 1] at kImageSize
};

void read_icu(const SiteSource& src, const Partition& part, std::vector<Example>& out) {
  const auto stays = icu::read_stays(src.data);
  const auto outcomes = icu::read_outcomes(src.outcomes);
  for (const auto& s : stays) {
    const auto it = outcomes.find(s.record_id);
    if (it == outcomes.end()) continue;
    const std::string id = std::to_string(s.record_id);
    if (part.kind == Partition::IcuType && s.icu_type != static_cast<float>(part.k)) continue;
    if ((part.kind == Partition::Hash || part.kind == Partition::Skew) && site_of(part, id, it->second) != part.k)
      continue;
    out.push_back({id, it->second, icu::stay_features(s), {}});
  }
}

void read_xray(const SiteSource& src, const Partition& part, std::vector<Example>& out) {
  data::DatasetOptions o;
  o.classes = std::vector<std::string>{"NORMAL", "PNEUMONIA"};
  const auto ds = data::load_image_dataset(src.data, o);
  std::vector<size_t> keep;
  for (size_t i = 0; i < ds.samples.size(); ++i) {
    const auto& s = ds.samples[i];
    if (part.kind == Partition::IcuType) fail_invalid("--partition icutype:K is for the ICU task");
    if (part.kind != Partition::All && site_of(part, s.patient_id, s.label) != part.k) continue;
    keep.push_back(i);
  }
  std::vector<Example> ex(keep.size());
  core::parallel_for(
      keep.size(),
      [&](size_t j) {
        const auto& s = ds.samples[keep[j]];
        ex[j] = {s.patient_id, s.label, {}, data::load_unit_image(s.path, kImageSize)};
      },
      8);
  for (auto& e : ex) out.push_back(std::move(e));
}

torch::nn::Sequential make_net(const std::string& task) {
  namespace tn = torch::nn;
  if (task == "icu") {
    const int64_t in = 2 * static_cast<int64_t>(icu::feature_names().size());  // values + missing flags
    return tn::Sequential(tn::Linear(in, kHidden), tn::ReLU(), tn::Linear(kHidden, 1));
  }
  tn::Sequential net;
  int64_t in = 1;
  for (int64_t out : {16, 32, 64, 64}) {
    net->push_back(tn::Conv2d(tn::Conv2dOptions(in, out, 3).padding(1).bias(false)));
    net->push_back(tn::GroupNorm(tn::GroupNormOptions(4, out)));
    net->push_back(tn::ReLU());
    if (out != 64 || in != 64) net->push_back(tn::MaxPool2d(2));
    in = out;
  }
  net->push_back(tn::AdaptiveAvgPool2d(1));
  net->push_back(tn::Flatten());
  net->push_back(tn::Linear(64, 1));
  return net;
}

std::string layers_text(const std::string& task) {
  return task == "icu"
             ? "mlp(" + std::to_string(2 * icu::feature_names().size()) + "-" + std::to_string(kHidden) + "-1, relu)"
             : "cnn(64px; conv3x3-groupnorm4-relu 16,32,64,64; maxpool; gap; linear 64-1)";
}

int64_t count_parameters(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

torch::Tensor bce_sum(const torch::Tensor& z, const torch::Tensor& y) {
  return torch::binary_cross_entropy_with_logits(z.view({-1}), y, {}, {}, at::Reduction::Sum);
}

}  // namespace

const std::vector<std::string>& task_names() {
  static const std::vector<std::string> n{"icu", "xray"};
  return n;
}

void FeatureStats::merge(const FeatureStats& o) {
  if (count.empty()) {
    *this = o;
    return;
  }
  if (o.count.size() != count.size()) fail_invalid("federation: feature statistics of different sizes");
  for (size_t i = 0; i < count.size(); ++i) count[i] += o.count[i], sum[i] += o.sum[i], sum_sq[i] += o.sum_sq[i];
}

struct SiteModel::Impl {
  std::string task;
  torch::nn::Sequential net{nullptr};
  std::vector<Example> parts[3];
  torch::Tensor x[3], y[3];
  bool ready = false;

  const std::vector<Example>& of(Part p) const { return parts[static_cast<int>(p)]; }
  void build_image_tensors() {
    for (int p = 0; p < 3; ++p) {
      const auto& ex = parts[p];
      auto t = torch::empty({static_cast<int64_t>(ex.size()), 1, kImageSize, kImageSize});
      for (size_t i = 0; i < ex.size(); ++i) {
        cv::Mat m = ex[i].image.isContinuous() ? ex[i].image : ex[i].image.clone();
        t[static_cast<int64_t>(i)][0].copy_(torch::from_blob(m.ptr<float>(), {kImageSize, kImageSize}));
      }
      x[p] = (t - 0.5) / 0.25;
    }
    ready = true;
  }
  void build_labels() {
    for (int p = 0; p < 3; ++p) {
      std::vector<float> l;
      for (const auto& e : parts[p]) l.push_back(static_cast<float>(e.label));
      y[p] = torch::tensor(l);
    }
  }
};

SiteModel::SiteModel() : impl_(std::make_unique<Impl>()) {}
SiteModel::SiteModel(SiteModel&&) noexcept = default;
SiteModel& SiteModel::operator=(SiteModel&&) noexcept = default;
SiteModel::~SiteModel() = default;

SiteModel SiteModel::open(const std::vector<SiteSource>& sources, uint64_t seed) {
  if (sources.empty()) fail_invalid("federation: no data source");
  SiteModel m;
  auto& im = *m.impl_;
  im.task = sources.front().task;
  check_known("task", im.task, task_names());
  std::vector<Example> all;
  for (const auto& s : sources) {
    if (s.task != im.task) fail_invalid("federation: sources of different tasks");
    const Partition p = parse_partition(s.partition, s.task);
    if (s.task == "icu") {
      if (s.outcomes.empty()) fail_invalid("task icu needs --outcomes (the PhysioNet Outcomes file)");
      read_icu(s, p, all);
    } else {
      read_xray(s, p, all);
    }
  }
  for (auto& e : all) im.parts[static_cast<int>(part_of(e.patient))].push_back(std::move(e));
  const auto& train = im.parts[0];
  const size_t pos = static_cast<size_t>(std::count_if(train.begin(), train.end(), [](auto& e) { return e.label; }));
  if (train.empty() || pos == 0 || pos == train.size() || im.parts[1].empty())
    fail_invalid(sources.front().data.string() +
                 (sources.front().partition.empty() ? "" : " (" + sources.front().partition + ")") +
                 ": this site has no training examples of both classes or no validation split (" +
                 std::to_string(train.size()) + " training examples, " + std::to_string(pos) + " positive)");
  torch::manual_seed(seed);
  im.net = make_net(im.task);
  im.build_labels();
  if (im.task == "xray") im.build_image_tensors();
  return m;
}

const std::string& SiteModel::task() const { return impl_->task; }
json SiteModel::architecture() const { return task_architecture(impl_->task); }
size_t SiteModel::examples(Part p) const { return impl_->of(p).size(); }
size_t SiteModel::positives(Part p) const {
  const auto& ex = impl_->of(p);
  return static_cast<size_t>(std::count_if(ex.begin(), ex.end(), [](const Example& e) { return e.label == 1; }));
}

FeatureStats SiteModel::feature_stats() const {
  FeatureStats s;
  if (impl_->task != "icu") return s;
  const size_t f = icu::feature_names().size();
  s.count.assign(f, 0), s.sum.assign(f, 0), s.sum_sq.assign(f, 0);
  for (const auto& e : impl_->of(Part::Train))
    for (size_t k = 0; k < f; ++k)
      if (!std::isnan(e.features[k]))
        ++s.count[k], s.sum[k] += e.features[k], s.sum_sq[k] += e.features[k] * e.features[k];
  return s;
}

json SiteModel::preprocessing_from(const std::string& task, const FeatureStats& pooled) {
  if (task != "icu") return {{"kind", "fixed"}, {"mean", 0.5}, {"sd", 0.25}};
  std::vector<double> mean, sd;
  for (size_t k = 0; k < pooled.count.size(); ++k) {
    const double c = pooled.count[k], m = c > 0 ? pooled.sum[k] / c : 0, var = c > 1 ? pooled.sum_sq[k] / c - m * m : 1;
    mean.push_back(m);
    sd.push_back(var > 1e-12 ? std::sqrt(var) : 1.0);
  }
  return {{"kind", "standardise"}, {"mean", mean}, {"sd", sd}};
}

void SiteModel::set_preprocessing(const json& pre) {
  auto& im = *impl_;
  if (im.task != "icu") return;
  const size_t f = icu::feature_names().size();
  const auto mean = pre.at("mean").get<std::vector<double>>(), sd = pre.at("sd").get<std::vector<double>>();
  if (mean.size() != f || sd.size() != f) fail_invalid("federation: the normaliser does not match the ICU features");
  for (int p = 0; p < 3; ++p) {
    const auto& ex = im.parts[p];
    auto t = torch::zeros({static_cast<int64_t>(ex.size()), static_cast<int64_t>(2 * f)});
    auto a = t.accessor<float, 2>();
    for (size_t i = 0; i < ex.size(); ++i)
      for (size_t k = 0; k < f; ++k) {
        const float v = ex[i].features[k];
        if (std::isnan(v)) a[i][f + k] = 1;
        else a[i][k] = std::clamp(static_cast<float>((v - mean[k]) / sd[k]), -kZClip, kZClip);
      }
    im.x[p] = t;
  }
  im.ready = true;
}

std::vector<float> SiteModel::parameters() const {
  std::vector<float> flat;
  for (const auto& p : impl_->net->parameters()) {
    const auto c = p.detach().contiguous();
    flat.insert(flat.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  return flat;
}

void SiteModel::set_parameters(const std::vector<float>& flat) {
  torch::NoGradGuard ng;
  size_t off = 0;
  const auto params = impl_->net->parameters();
  size_t total = 0;
  for (const auto& p : params) total += static_cast<size_t>(p.numel());
  if (flat.size() != total)
    fail_invalid("federation: a model of " + std::to_string(flat.size()) + " parameters for a network of " +
                 std::to_string(total));
  for (auto& p : params) {
    p.copy_(torch::from_blob(const_cast<float*>(flat.data() + off), p.sizes()));
    off += static_cast<size_t>(p.numel());
  }
}

LocalTrainResult SiteModel::train(const LocalTrainOptions& o) {
  auto& im = *impl_;
  if (!im.ready) fail_invalid("federation: local training before the preprocessing is known");
  train::apply_torch_threads();
  torch::manual_seed(o.seed);
  im.net->train();
  const auto params = im.net->parameters();
  std::vector<torch::Tensor> start;
  for (const auto& p : params) start.push_back(p.detach().clone());
  torch::optim::Adam opt(params, torch::optim::AdamOptions(o.lr));
  const auto& x = im.x[0];
  const auto& y = im.y[0];
  const int64_t n = x.size(0), batch = std::max(1, o.batch_size);
  const int64_t steps = std::max<int64_t>(1, (n + batch - 1) / batch);
  const double q = std::min(1.0, static_cast<double>(batch) / static_cast<double>(n));
  const bool dp = o.dp_noise > 0;
  LocalTrainResult r;
  double loss_sum = 0;
  int64_t loss_n = 0;
  for (int e = 0; e < o.epochs; ++e) {
    const auto perm = torch::randperm(n);
    for (int64_t s = 0; s < steps; ++s) {
      opt.zero_grad();
      if (!dp) {
        const auto idx = perm.slice(0, s * batch, std::min(n, (s + 1) * batch));
        const auto loss = bce_sum(im.net->forward(x.index_select(0, idx)), y.index_select(0, idx)) / idx.size(0);
        loss.backward();
        loss_sum += loss.item<double>() * static_cast<double>(idx.size(0)), loss_n += idx.size(0);
      } else {
        // DP-SGD (Abadi et al. 2016) with Poisson sampling at rate q, as the accountant assumes.
        const auto picked = torch::nonzero(torch::rand({n}) < q).view({-1});
        std::vector<torch::Tensor> acc;
        for (const auto& p : params) acc.push_back(torch::zeros_like(p));
        for (int64_t j = 0; j < picked.size(0); ++j) {
          const auto i = picked.slice(0, j, j + 1);
          for (auto& p : params) p.mutable_grad() = torch::Tensor();
          const auto loss = bce_sum(im.net->forward(x.index_select(0, i)), y.index_select(0, i));
          loss.backward();
          loss_sum += loss.item<double>(), ++loss_n;
          double ss = 0;
          for (const auto& p : params) ss += p.grad().pow(2).sum().item<double>();
          const double scale = std::min(1.0, o.dp_clip / (std::sqrt(ss) + 1e-12));
          for (size_t k = 0; k < params.size(); ++k) acc[k].add_(params[k].grad(), scale);
        }
        const double expected = q * static_cast<double>(n);
        for (size_t k = 0; k < params.size(); ++k)
          params[k].mutable_grad() = (acc[k] + torch::randn_like(acc[k]) * (o.dp_noise * o.dp_clip)) / expected;
      }
      if (o.prox_mu > 0) {
        torch::NoGradGuard ng;
        for (size_t k = 0; k < params.size(); ++k) params[k].mutable_grad().add_(params[k] - start[k], o.prox_mu);
      }
      opt.step();
      ++r.steps;
    }
  }
  r.loss = loss_n ? loss_sum / static_cast<double>(loss_n) : 0;
  return r;
}

std::vector<double> SiteModel::scores(Part part) const {
  auto& im = *impl_;
  if (!im.ready) fail_invalid("federation: scores before the preprocessing is known");
  torch::NoGradGuard ng;
  im.net->eval();
  const auto& x = im.x[static_cast<int>(part)];
  std::vector<double> out;
  for (int64_t s = 0; s < x.size(0); s += 256) {
    const auto z = im.net->forward(x.slice(0, s, std::min(x.size(0), s + 256))).view({-1}).contiguous();
    out.insert(out.end(), z.data_ptr<float>(), z.data_ptr<float>() + z.numel());
  }
  return out;
}

std::vector<int> SiteModel::labels(Part part) const {
  std::vector<int> l;
  for (const auto& e : impl_->of(part)) l.push_back(e.label);
  return l;
}

double SiteModel::auroc(Part part) const { return metrics::auroc(scores(part), labels(part)); }

std::vector<float> initial_parameters(const std::string& task, uint64_t seed) {
  check_known("task", task, task_names());
  torch::manual_seed(seed);
  auto net = make_net(task);
  std::vector<float> flat;
  for (const auto& p : net->parameters()) {
    const auto c = p.detach().contiguous();
    flat.insert(flat.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  return flat;
}

json task_architecture(const std::string& task) {
  check_known("task", task, task_names());
  return {{"format", "medai.fl_model/1"},
          {"task", task},
          {"layers", layers_text(task)},
          {"parameters", count_parameters(*make_net(task))}};
}

}  // namespace medai::federated
