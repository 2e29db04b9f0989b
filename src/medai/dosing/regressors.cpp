#include "medai/dosing/regressors.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "medai/bridges/xgboost/boosted_trees.h"
#include "medai/core/error.h"
#include "medai/survival/linalg.h"

namespace medai::dosing {

using nlohmann::json;
using Rows = std::vector<std::vector<double>>;

namespace {

// Column means and standard deviations (sd 1 for constant columns).
struct Scaler {
  std::vector<double> mean, sd;
  static Scaler fit(const Rows& x) {
    Scaler s;
    const size_t p = x.front().size(), n = x.size();
    s.mean.assign(p, 0);
    s.sd.assign(p, 0);
    for (const auto& r : x)
      for (size_t j = 0; j < p; ++j) s.mean[j] += r[j] / n;
    for (const auto& r : x)
      for (size_t j = 0; j < p; ++j) s.sd[j] += (r[j] - s.mean[j]) * (r[j] - s.mean[j]) / n;
    for (auto& v : s.sd) v = v > 1e-12 ? std::sqrt(v) : 1.0;
    return s;
  }
  double z(const std::vector<double>& r, size_t j) const { return (r[j] - mean[j]) / sd[j]; }
  json to_json() const { return {{"mean", mean}, {"sd", sd}}; }
  static Scaler from_json(const json& j, size_t p, const std::string& where) {
    Scaler s{j.at("mean").get<std::vector<double>>(), j.at("sd").get<std::vector<double>>()};
    if (s.mean.size() != p || s.sd.size() != p) fail_invalid(where + ": scaler has the wrong width");
    return s;
  }
};

void check_rows(const Rows& x, const std::vector<double>& y, const char* what) {
  if (x.empty() || x.size() != y.size()) fail(ErrorCode::Internal, std::string(what) + ": no rows or mismatched y");
}

class Ridge final : public Regressor {
 public:
  Scaler scaler;
  std::vector<double> beta;
  double intercept = 0, lambda = 1;
  double predict(const std::vector<double>& x) const override {
    double s = intercept;
    for (size_t j = 0; j < beta.size(); ++j) s += beta[j] * scaler.z(x, j);
    return s;
  }
  json to_json() const override {
    return {{"scaler", scaler.to_json()}, {"beta", beta}, {"intercept", intercept}, {"lambda", lambda}};
  }
};

class Trees final : public Regressor {
 public:
  bridges::BoostedTrees trees;
  double predict(const std::vector<double>& x) const override {
    std::vector<float> f(x.begin(), x.end());
    return trees.predict(f, 1)[0];
  }
  json to_json() const override { return {{"file", "trees.json"}, {"features", trees.features()}}; }
  std::string blob() const override { return trees.serialise(); }
};

// One hidden layer of tanh units; y standardised too.
struct Net {
  size_t p = 0, h = 0;
  std::vector<double> w1, b1, w2;  // w1: h x p
  double b2 = 0;
  double forward(const double* z, std::vector<double>* act = nullptr) const {
    double out = b2;
    for (size_t k = 0; k < h; ++k) {
      double a = b1[k];
      for (size_t j = 0; j < p; ++j) a += w1[k * p + j] * z[j];
      a = std::tanh(a);
      if (act) (*act)[k] = a;
      out += w2[k] * a;
    }
    return out;
  }
  json to_json() const { return {{"w1", w1}, {"b1", b1}, {"w2", w2}, {"b2", b2}, {"hidden", h}}; }
};

class Mlp final : public Regressor {
 public:
  Scaler scaler;
  double y_mean = 0, y_sd = 1;
  std::vector<Net> members;
  double predict(const std::vector<double>& x) const override {
    std::vector<double> z(x.size());
    for (size_t j = 0; j < x.size(); ++j) z[j] = scaler.z(x, j);
    double s = 0;
    for (const auto& m : members) s += m.forward(z.data());
    return y_mean + y_sd * s / members.size();
  }
  json to_json() const override {
    json ms = json::array();
    for (const auto& m : members) ms.push_back(m.to_json());
    return {{"scaler", scaler.to_json()}, {"y_mean", y_mean}, {"y_sd", y_sd}, {"members", ms}};
  }
};

// Adam over a flat parameter vector.
struct Adam {
  std::vector<double> m, v;
  double lr, b1 = 0.9, b2 = 0.999;
  long t = 0;
  void step(std::vector<double*>& params, const std::vector<double>& g) {
    if (m.empty()) m.assign(g.size(), 0), v.assign(g.size(), 0);
    ++t;
    const double c1 = 1 - std::pow(b1, t), c2 = 1 - std::pow(b2, t);
    for (size_t i = 0; i < g.size(); ++i) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      *params[i] -= lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + 1e-8);
    }
  }
};

double net_mse(const Net& net, const std::vector<std::vector<double>>& z, const std::vector<double>& y,
               const std::vector<size_t>& rows) {
  double s = 0;
  for (size_t r : rows) s += std::pow(net.forward(z[r].data()) - y[r], 2);
  return s / std::max<size_t>(rows.size(), 1);
}

// Mini-batch Adam on squared error, early-stopped on `valid` (patience 8 epochs).
Net train_net(const std::vector<std::vector<double>>& z, const std::vector<double>& y, std::vector<size_t> train,
              const std::vector<size_t>& valid, const RegressorSettings& s, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Net net;
  net.p = z.front().size();
  net.h = static_cast<size_t>(s.mlp_hidden);
  std::normal_distribution<double> g1(0, 1 / std::sqrt(double(net.p))), g2(0, 1 / std::sqrt(double(net.h)));
  for (size_t i = 0; i < net.h * net.p; ++i) net.w1.push_back(g1(rng));
  net.b1.assign(net.h, 0);
  for (size_t i = 0; i < net.h; ++i) net.w2.push_back(g2(rng) * 0.1);
  std::vector<double*> params;
  for (auto* v : {&net.w1, &net.b1, &net.w2})
    for (auto& x : *v) params.push_back(&x);
  params.push_back(&net.b2);
  Adam adam;
  adam.lr = s.mlp_lr;
  Net best = net;
  double best_loss = std::numeric_limits<double>::infinity();
  int since = 0;
  std::vector<double> grad(params.size()), act(net.h);
  const size_t batch = 64;
  const int epochs = std::max(1, s.mlp_max_iterations / 10);
  for (int epoch = 0; epoch < epochs && since < 8; ++epoch) {
    std::shuffle(train.begin(), train.end(), rng);
    for (size_t b = 0; b < train.size(); b += batch) {
      std::fill(grad.begin(), grad.end(), 0.0);
      const size_t e = std::min(train.size(), b + batch);
      const double scale = 2.0 / double(e - b);
      for (size_t i = b; i < e; ++i) {
        const double* x = z[train[i]].data();
        const double d = (net.forward(x, &act) - y[train[i]]) * scale;
        for (size_t k = 0; k < net.h; ++k) {
          const double dh = d * net.w2[k] * (1 - act[k] * act[k]);
          for (size_t j = 0; j < net.p; ++j) grad[k * net.p + j] += dh * x[j];
          grad[net.h * net.p + k] += dh;
          grad[net.h * net.p + net.h + k] += d * act[k];
        }
        grad.back() += d;
      }
      for (size_t i = 0; i < net.h * net.p; ++i) grad[i] += s.mlp_weight_decay * net.w1[i];
      adam.step(params, grad);
    }
    const double loss = net_mse(net, z, y, valid);
    if (loss < best_loss - 1e-6) best_loss = loss, best = net, since = 0;
    else ++since;
  }
  return best;
}

}  // namespace

std::unique_ptr<Regressor> fit_ridge(const Rows& x, const std::vector<double>& y, const RegressorSettings& s) {
  check_rows(x, y, "ridge");
  auto m = std::make_unique<Ridge>();
  m->scaler = Scaler::fit(x);
  m->lambda = s.ridge_lambda;
  const int p = static_cast<int>(x.front().size());
  m->intercept = std::accumulate(y.begin(), y.end(), 0.0) / y.size();
  std::vector<double> a(size_t(p) * p, 0), b(p, 0), z(p);
  for (size_t i = 0; i < x.size(); ++i) {
    for (int j = 0; j < p; ++j) z[j] = m->scaler.z(x[i], j);
    for (int j = 0; j < p; ++j) {
      b[j] += z[j] * (y[i] - m->intercept);
      for (int k = 0; k < p; ++k) a[size_t(j) * p + k] += z[j] * z[k];
    }
  }
  for (int j = 0; j < p; ++j) a[size_t(j) * p + j] += std::max(s.ridge_lambda, 1e-6);
  std::vector<double> l;
  if (!survival::cholesky(a, p, l)) fail(ErrorCode::Internal, "ridge: the penalised Gram matrix is singular");
  m->beta = survival::cholesky_solve(l, p, b);
  return m;
}

std::unique_ptr<Regressor> fit_trees(const Rows& x, const std::vector<double>& y, const RegressorSettings& s) {
  check_rows(x, y, "xgboost");
  const size_t p = x.front().size();
  std::vector<float> flat;
  flat.reserve(x.size() * p);
  for (const auto& r : x) flat.insert(flat.end(), r.begin(), r.end());
  bridges::BoostedTreesParams bp;
  bp.rounds = s.tree_rounds;
  bp.learning_rate = s.tree_lr;
  bp.max_depth = s.tree_depth;
  bp.min_child_weight = 5;
  bp.colsample_bytree = 0.8;
  bp.seed = s.seed;
  bp.threads = s.threads;
  auto m = std::make_unique<Trees>();
  m->trees = bridges::BoostedTrees::train_regression(flat, x.size(), p, std::vector<float>(y.begin(), y.end()), bp);
  return m;
}

std::unique_ptr<Regressor> fit_mlp(const Rows& x, const std::vector<double>& y, const RegressorSettings& s) {
  check_rows(x, y, "mlp");
  auto m = std::make_unique<Mlp>();
  m->scaler = Scaler::fit(x);
  m->y_mean = std::accumulate(y.begin(), y.end(), 0.0) / y.size();
  double var = 0;
  for (double v : y) var += (v - m->y_mean) * (v - m->y_mean) / y.size();
  m->y_sd = var > 1e-12 ? std::sqrt(var) : 1.0;
  std::vector<std::vector<double>> z(x.size(), std::vector<double>(x.front().size()));
  std::vector<double> yz(y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    for (size_t j = 0; j < x[i].size(); ++j) z[i][j] = m->scaler.z(x[i], j);
    yz[i] = (y[i] - m->y_mean) / m->y_sd;
  }
  for (int k = 0; k < s.mlp_members; ++k) {
    std::vector<size_t> idx(x.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::mt19937_64 rng(s.seed * 1000 + k);
    std::shuffle(idx.begin(), idx.end(), rng);
    const size_t nv = std::max<size_t>(1, idx.size() * 15 / 100);
    std::vector<size_t> valid(idx.begin(), idx.begin() + nv), train(idx.begin() + nv, idx.end());
    m->members.push_back(train_net(z, yz, train, valid, s, s.seed * 1000 + k + 7));
  }
  return m;
}

std::unique_ptr<Regressor> load_regressor(const std::string& kind, const json& j, const std::string& blob,
                                          size_t features, const std::string& where) {
  try {
    if (kind == "ridge") {
      auto m = std::make_unique<Ridge>();
      m->scaler = Scaler::from_json(j.at("scaler"), features, where);
      m->beta = j.at("beta").get<std::vector<double>>();
      m->intercept = j.at("intercept").get<double>();
      m->lambda = j.at("lambda").get<double>();
      if (m->beta.size() != features) fail_invalid(where + ": ridge coefficients have the wrong width");
      return m;
    }
    if (kind == "mlp") {
      auto m = std::make_unique<Mlp>();
      m->scaler = Scaler::from_json(j.at("scaler"), features, where);
      m->y_mean = j.at("y_mean").get<double>();
      m->y_sd = j.at("y_sd").get<double>();
      for (const auto& n : j.at("members")) {
        Net net;
        net.p = features;
        net.h = n.at("hidden").get<size_t>();
        net.w1 = n.at("w1").get<std::vector<double>>();
        net.b1 = n.at("b1").get<std::vector<double>>();
        net.w2 = n.at("w2").get<std::vector<double>>();
        net.b2 = n.at("b2").get<double>();
        if (net.w1.size() != net.h * net.p || net.b1.size() != net.h || net.w2.size() != net.h)
          fail_invalid(where + ": MLP weights have the wrong shape");
        m->members.push_back(std::move(net));
      }
      if (m->members.empty()) fail_invalid(where + ": MLP without members");
      return m;
    }
    if (kind == "xgboost") {
      auto m = std::make_unique<Trees>();
      m->trees = bridges::BoostedTrees::deserialise(blob, features, where);
      return m;
    }
  } catch (const json::exception& e) {
    fail_invalid(where + ": damaged " + kind + " model (" + e.what() + ")");
  }
  fail_invalid(where + ": unknown regressor '" + kind + "'");
}

}  // namespace medai::dosing
