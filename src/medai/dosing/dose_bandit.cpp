#include "medai/dosing/dose_bandit.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "medai/core/error.h"
#include "medai/dosing/dose_model.h"
#include "medai/dosing/iwpc.h"
#include "medai/io/plot.h"
#include "medai/survival/linalg.h"

namespace medai::dosing {

using nlohmann::json;
using Vec = std::vector<double>;

namespace {

constexpr int kArms = 3;

// Population values for imputation in the replay: constants, so no label of a later patient leaks.
FeatureCoding population_coding() {
  FeatureCoding c;
  c.height_median.fill(168);
  c.weight_median.fill(76);
  c.height_all = 168;
  c.weight_all = 76;
  c.inr_median = 2.5;
  return c;
}

struct Context {
  Vec x;  // bias first, then scaled features
  int clinical = kMedium, pharmacogenetic = kMedium;
};

Context context_of(const WarfarinPatient& p, const FeatureCoding& c) {
  Context ctx;
  const auto e = encode(p, c);
  ctx.x.push_back(1.0);
  for (size_t j = 0; j < e.x.size(); ++j) {
    const std::string& n = feature_names()[j];
    const double scale = n == "age_decades"                     ? 10
                         : n == "height_cm" || n == "weight_kg" ? 100
                         : n == "target_inr"                    ? 3
                                                                : 1;
    ctx.x.push_back(e.x[j] / scale);
  }
  WarfarinPatient filled = p;
  filled.height_cm = e.x[1];
  filled.weight_kg = e.x[2];
  ctx.clinical = dose_bucket(formula_dose(Algorithm::Clinical, filled));
  ctx.pharmacogenetic = dose_bucket(formula_dose(Algorithm::Pharmacogenetic, filled));
  return ctx;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

class Policy {
 public:
  virtual ~Policy() = default;
  virtual int choose(const Context& c, long t) = 0;
  virtual void update(const Context&, int /*arm*/, double /*reward*/) {}
};

class Formula final : public Policy {
 public:
  explicit Formula(int which) : which_(which) {}
  int choose(const Context& c, long) override {
    return which_ == 0 ? kMedium : which_ == 1 ? c.clinical : c.pharmacogenetic;
  }

 private:
  int which_;
};

// Per-arm ridge statistics: A^-1 (Sherman-Morrison) and b.
struct ArmModel {
  Vec a_inv, b;
  size_t d = 0;
  ArmModel(size_t dim, double prior_strength, const Vec& prior_mean) : a_inv(dim * dim, 0), b(dim, 0), d(dim) {
    for (size_t i = 0; i < d; ++i) {
      a_inv[i * d + i] = 1.0 / prior_strength;
      b[i] = prior_strength * (prior_mean.empty() ? 0.0 : prior_mean[i]);
    }
  }
  Vec theta() const {
    Vec th(d, 0);
    for (size_t i = 0; i < d; ++i)
      for (size_t j = 0; j < d; ++j) th[i] += a_inv[i * d + j] * b[j];
    return th;
  }
  Vec a_inv_x(const Vec& x) const {
    Vec v(d, 0);
    for (size_t i = 0; i < d; ++i)
      for (size_t j = 0; j < d; ++j) v[i] += a_inv[i * d + j] * x[j];
    return v;
  }
  void add(const Vec& x, double r) {
    const Vec v = a_inv_x(x);
    const double den = 1 + dot(x, v);
    for (size_t i = 0; i < d; ++i)
      for (size_t j = 0; j < d; ++j) a_inv[i * d + j] -= v[i] * v[j] / den;
    for (size_t i = 0; i < d; ++i) b[i] += r * x[i];
  }
};

// LinUCB (Li et al. 2010), disjoint arms; `warm`: the context gains the pharmacogenetic formula's
// band as a one-hot and each arm's prior mean says "reward 0 when the formula picks me, -0.6 when
// not" with the weight of `kPriorPatients` patients, so it starts as the formula and learns from there.
class LinUcb final : public Policy {
 public:
  LinUcb(size_t dim, double alpha, bool warm) : alpha_(alpha), warm_(warm) {
    const size_t d = dim + (warm ? kArms : 0);
    for (int a = 0; a < kArms; ++a) {
      Vec prior;
      if (warm) {
        prior.assign(d, 0.0);
        prior[0] = -0.6;
        prior[dim + a] = 0.6;
      }
      arms_.emplace_back(d, warm ? kPriorPatients : 1.0, prior);
    }
  }
  int choose(const Context& c, long) override {
    const Vec x = features(c);
    int best = 0;
    double best_score = -1e300;
    for (int a = 0; a < kArms; ++a) {
      const double s = dot(arms_[a].theta(), x) + alpha_ * std::sqrt(std::max(0.0, dot(x, arms_[a].a_inv_x(x))));
      if (s > best_score) best_score = s, best = a;
    }
    return best;
  }
  void update(const Context& c, int arm, double reward) override { arms_[arm].add(features(c), reward); }

 private:
  static constexpr double kPriorPatients = 30.0;
  Vec features(const Context& c) const {
    if (!warm_) return c.x;
    Vec x = c.x;
    for (int a = 0; a < kArms; ++a) x.push_back(c.pharmacogenetic == a);
    return x;
  }
  double alpha_;
  bool warm_;
  std::vector<ArmModel> arms_;
};

// Linear Thompson sampling (Agrawal & Goyal 2013): theta ~ N(A^-1 b, v^2 A^-1) per arm.
class Thompson final : public Policy {
 public:
  Thompson(size_t dim, double v, uint64_t seed) : v_(v), rng_(seed) {
    for (int a = 0; a < kArms; ++a) arms_.emplace_back(dim, 1.0, Vec());
  }
  int choose(const Context& c, long) override {
    int best = 0;
    double best_score = -1e300;
    std::normal_distribution<double> g;
    for (int a = 0; a < kArms; ++a) {
      const auto& m = arms_[a];
      Vec l;
      Vec cov = m.a_inv;
      for (double& x : cov) x *= v_ * v_;
      if (!survival::cholesky(cov, static_cast<int>(m.d), l, 1e-14)) l.assign(m.d * m.d, 0);
      Vec th = m.theta(), z(m.d);
      for (double& x : z) x = g(rng_);
      for (size_t i = 0; i < m.d; ++i)
        for (size_t j = 0; j <= i; ++j) th[i] += l[i * m.d + j] * z[j];
      const double s = dot(th, c.x);
      if (s > best_score) best_score = s, best = a;
    }
    return best;
  }
  void update(const Context& c, int arm, double reward) override { arms_[arm].add(c.x, reward); }

 private:
  double v_;
  std::mt19937_64 rng_;
  std::vector<ArmModel> arms_;
};

// Lasso by coordinate descent on the sufficient statistics G = X^T X, c = X^T y (n rows):
// minimises 1/(2n) |y - X beta|^2 + lambda |beta|_1 with the bias (index 0) unpenalised.
struct LassoStats {
  Vec g, c, beta;
  size_t d = 0, n = 0;
  explicit LassoStats(size_t dim) : g(dim * dim, 0), c(dim, 0), beta(dim, 0), d(dim) {}
  void add(const Vec& x, double y) {
    ++n;
    for (size_t i = 0; i < d; ++i) {
      c[i] += x[i] * y;
      for (size_t j = 0; j < d; ++j) g[i * d + j] += x[i] * x[j];
    }
  }
  void fit(double lambda, int sweeps) {
    if (n == 0) return;
    const double nn = static_cast<double>(n);
    for (int s = 0; s < sweeps; ++s)
      for (size_t j = 0; j < d; ++j) {
        const double gjj = g[j * d + j] / nn;
        if (gjj <= 1e-12) continue;
        double rho = c[j] / nn;
        for (size_t k = 0; k < d; ++k)
          if (k != j) rho -= g[j * d + k] / nn * beta[k];
        const double l = j == 0 ? 0.0 : lambda;
        beta[j] = rho > l ? (rho - l) / gjj : rho < -l ? (rho + l) / gjj : 0.0;
      }
  }
};

// The Lasso bandit (Bastani & Bayati 2020) with q = 1, h = 5, lambda1 = lambda2,0 = 0.05: arms
// are forced at the times (2^n - 1) K q + j; otherwise the arms within h/2 of the best by the
// forced-sample estimates are compared by the all-sample estimates.
class LassoBandit final : public Policy {
 public:
  explicit LassoBandit(size_t dim) {
    for (int a = 0; a < kArms; ++a) forced_.emplace_back(dim), all_.emplace_back(dim);
  }
  int choose(const Context& c, long t) override {
    forced_arm_ = forced(t);
    if (forced_arm_ >= 0) return forced_arm_;
    double top = -1e300;
    Vec f(kArms);
    for (int a = 0; a < kArms; ++a) top = std::max(top, f[a] = dot(forced_[a].beta, c.x));
    int best = 0;
    double best_score = -1e300;
    for (int a = 0; a < kArms; ++a) {
      if (f[a] < top - kH / 2) continue;
      const double s = dot(all_[a].beta, c.x);
      if (s > best_score) best_score = s, best = a;
    }
    return best;
  }
  void update(const Context& c, int arm, double reward) override {
    ++t_;
    if (forced_arm_ == arm) {
      forced_[arm].add(c.x, reward);
      forced_[arm].fit(kLambda1, 20);
    }
    all_[arm].add(c.x, reward);
    const double lambda2 = kLambda1 * std::sqrt((std::log(double(t_)) + std::log(double(c.x.size()))) / t_);
    all_[arm].fit(lambda2, 3);
  }

 private:
  static constexpr double kH = 5, kLambda1 = 0.05;
  static int forced(long t) {  // t from 1
    for (long n = 0; n < 62; ++n) {
      const long base = ((1L << n) - 1) * kArms;
      if (t <= base) break;
      if (t <= base + kArms) return static_cast<int>(t - base - 1);
    }
    return -1;
  }
  std::vector<LassoStats> forced_, all_;
  int forced_arm_ = -1;
  long t_ = 0;
};

std::unique_ptr<Policy> make_policy(const std::string& name, size_t dim, const BanditOptions& o, uint64_t seed) {
  if (name == "fixed") return std::make_unique<Formula>(0);
  if (name == "clinical") return std::make_unique<Formula>(1);
  if (name == "pharmacogenetic") return std::make_unique<Formula>(2);
  if (name == "linucb") return std::make_unique<LinUcb>(dim, o.alpha, false);
  if (name == "pgx-linucb") return std::make_unique<LinUcb>(dim, o.alpha * 0.2, true);
  if (name == "thompson") return std::make_unique<Thompson>(dim, o.thompson_scale, seed);
  if (name == "lasso-bandit") return std::make_unique<LassoBandit>(dim);
  check_known("bandit policy", name, bandit_policies());
  fail_invalid("unknown bandit policy " + name);
}

// The safety layer: at most one band from the clinical formula's band.
int safe_arm(int arm, const Context& c, bool* overridden) {
  *overridden = std::abs(arm - c.clinical) > 1;
  return *overridden ? kMedium : arm;
}

struct Summary {
  double mean = 0, sd = 0, lo = 0, hi = 0;
};
Summary summarise(const Vec& v) {
  Summary s;
  for (double x : v) s.mean += x / v.size();
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / (v.size() - 1)) : 0.0;
  // t quantile 0.975 for the mean (df >= 1; 1.96 in the limit).
  const double df = std::max<double>(1, v.size() - 1);
  const double tq = 1.96 + 2.4 / df + 2.2 / (df * df);
  const double half = tq * s.sd / std::sqrt(double(v.size()));
  s.lo = s.mean - half;
  s.hi = s.mean + half;
  return s;
}

}  // namespace

const std::vector<std::string>& bandit_policies() {
  static const std::vector<std::string> p = {"fixed",    "clinical",     "pharmacogenetic", "linucb",
                                             "thompson", "lasso-bandit", "pgx-linucb"};
  return p;
}

BanditResult run_bandit(const std::vector<WarfarinPatient>& patients, const std::string& policy,
                        const BanditOptions& o) {
  check_known("bandit policy", policy, bandit_policies());
  const FeatureCoding coding = population_coding();
  std::vector<Context> ctx;
  std::vector<int> truth;
  for (const auto& p : patients)
    if (p.dose_mg_week && p.age_decades) {
      ctx.push_back(context_of(p, coding));
      truth.push_back(dose_bucket(*p.dose_mg_week));
    }
  if (ctx.size() < 10) fail_invalid("dose bandit: fewer than 10 patients with a dose and an age");
  if (o.permutations < 1) fail_invalid("dose bandit: --permutations must be >= 1");
  BanditResult r;
  r.policy = policy;
  r.n = ctx.size();
  r.permutations = o.permutations;
  const size_t points = std::max<size_t>(2, std::min<size_t>(o.curve_points, ctx.size()));
  for (size_t k = 0; k < points; ++k) r.curve_t.push_back(std::round(double(ctx.size()) * (k + 1) / points));
  std::vector<Vec> curves(points);
  Vec regrets, accuracies;
  double overrides = 0;
  for (int perm = 0; perm < o.permutations; ++perm) {
    std::vector<size_t> order(ctx.size());
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(o.seed * 7919 + perm);
    std::shuffle(order.begin(), order.end(), rng);
    auto pol = make_policy(policy, ctx.front().x.size(), o, o.seed * 31 + perm);
    double regret = 0;
    size_t next = 0;
    for (size_t t = 0; t < order.size(); ++t) {
      const Context& c = ctx[order[t]];
      int arm = pol->choose(c, static_cast<long>(t + 1));
      bool over = false;
      if (o.safety) arm = safe_arm(arm, c, &over);
      overrides += over;
      const double reward = arm == truth[order[t]] ? 0.0 : -1.0;
      regret -= reward;
      pol->update(c, arm, reward);
      while (next < points && r.curve_t[next] == double(t + 1)) curves[next++].push_back(regret);
    }
    regrets.push_back(regret);
    accuracies.push_back(1.0 - regret / ctx.size());
  }
  const Summary sr = summarise(regrets), sa = summarise(accuracies);
  r.regret = sr.mean, r.regret_sd = sr.sd, r.regret_lo = sr.lo, r.regret_hi = sr.hi;
  r.accuracy = sa.mean, r.accuracy_sd = sa.sd, r.accuracy_lo = sa.lo, r.accuracy_hi = sa.hi;
  r.safety_overrides = overrides / o.permutations;
  for (auto& c : curves) {
    const Summary s = summarise(c);
    r.curve_regret.push_back(s.mean);
    r.curve_lo.push_back(s.lo);
    r.curve_hi.push_back(s.hi);
  }
  return r;
}

json BanditResult::to_json() const {
  return {{"policy", policy},
          {"accuracy", accuracy},
          {"accuracy_ci95", {accuracy_lo, accuracy_hi}},
          {"accuracy_sd", accuracy_sd},
          {"regret", regret},
          {"regret_ci95", {regret_lo, regret_hi}},
          {"regret_sd", regret_sd},
          {"n", n},
          {"permutations", permutations},
          {"safety_overrides_per_replay", safety_overrides},
          {"reward", "0 for the right dose band (< 21, 21-49, > 49 mg/week), -1 otherwise"},
          {"ci", "95 % CI of the mean over permutations (t)"}};
}

void save_regret_plot(const std::string& path, const std::vector<BanditResult>& results) {
  static const std::vector<std::array<unsigned char, 3>> colours = {
      {127, 127, 127}, {255, 127, 14}, {44, 160, 44}, {31, 119, 180}, {148, 103, 189}, {140, 86, 75}, {214, 39, 40}};
  io::PlotPanel regret{"Cumulative regret (wrong dose bands)", "patients", "regret", {}, {}, false, {}, false, {}};
  io::PlotPanel acc{
      "Accuracy so far", "patients", "share of right bands", {}, std::pair{0.4, 0.8}, false, {}, false, {}};
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    io::Series s{r.policy, r.curve_t, r.curve_regret, colours[i % colours.size()], false, {}};
    regret.series.push_back(s);
    Vec a(r.curve_t.size());
    for (size_t k = 0; k < a.size(); ++k) a[k] = 1.0 - r.curve_regret[k] / r.curve_t[k];
    s.y = a;
    acc.series.push_back(s);
  }
  io::save_plot(path, {regret, acc}, 560, 420);
}

}  // namespace medai::dosing
