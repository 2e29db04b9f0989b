#include "medai/survival/cox.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "medai/core/error.h"
#include "medai/metrics/distributions.h"
#include "medai/survival/concordance.h"
#include "medai/survival/linalg.h"

namespace medai::survival {

using nlohmann::json;

CoxTies parse_ties(const std::string& name) {
  check_known("ties", name, {"efron", "breslow"});
  return name == "breslow" ? CoxTies::Breslow : CoxTies::Efron;
}

namespace {

// The centred design sorted by stratum, then time descending (the risk set grows as we walk).
struct Sorted {
  int p = 0;
  std::vector<double> x;  // centred, in sorted order
  std::vector<double> time;
  std::vector<int> event, stratum;
};

struct Derivatives {
  double loglik = 0;
  std::vector<double> score, information;
};

Sorted sort_design(const SurvivalData& d, const std::vector<double>& means) {
  std::vector<size_t> order(d.n());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return d.stratum[a] != d.stratum[b] ? d.stratum[a] < d.stratum[b] : d.time[a] > d.time[b];
  });
  Sorted s;
  s.p = static_cast<int>(d.p());
  for (size_t i : order) {
    for (int j = 0; j < s.p; ++j) s.x.push_back(d.at(i, j) - means[j]);
    s.time.push_back(d.time[i]);
    s.event.push_back(d.event[i]);
    s.stratum.push_back(d.stratum[i]);
  }
  return s;
}

// Log partial likelihood, score and information at beta (Breslow or Efron ties), visiting one
// distinct time of one stratum at a time.
Derivatives derivatives(const Sorted& s, const std::vector<double>& beta, CoxTies ties) {
  const int p = s.p;
  const size_t n = s.time.size(), pp = static_cast<size_t>(p) * p;
  Derivatives out;
  out.score.assign(p, 0.0);
  out.information.assign(pp, 0.0);
  std::vector<double> s1(p), s2(pp), d1(p), d2(pp), a1(p);
  double s0 = 0;
  for (size_t i = 0; i < n;) {
    if (i == 0 || s.stratum[i] != s.stratum[i - 1]) {
      s0 = 0;
      std::fill(s1.begin(), s1.end(), 0.0);
      std::fill(s2.begin(), s2.end(), 0.0);
    }
    double d0 = 0;
    int deaths = 0;
    std::fill(d1.begin(), d1.end(), 0.0);
    std::fill(d2.begin(), d2.end(), 0.0);
    const size_t start = i;
    for (; i < n && s.time[i] == s.time[start] && s.stratum[i] == s.stratum[start]; ++i) {
      const double* x = &s.x[i * p];
      double eta = 0;
      for (int j = 0; j < p; ++j) eta += x[j] * beta[j];
      const double r = std::exp(eta);
      s0 += r;
      for (int j = 0; j < p; ++j) {
        s1[j] += r * x[j];
        for (int k = 0; k <= j; ++k) s2[j * p + k] += r * x[j] * x[k];
      }
      if (!s.event[i]) continue;
      ++deaths;
      d0 += r;
      out.loglik += eta;
      for (int j = 0; j < p; ++j) {
        out.score[j] += x[j];
        d1[j] += r * x[j];
        for (int k = 0; k <= j; ++k) d2[j * p + k] += r * x[j] * x[k];
      }
    }
    // Breslow: every death sees the whole risk set; Efron: the k-th of d tied deaths sees it less
    // k/d of the dying.
    const int steps = ties == CoxTies::Breslow ? 1 : deaths;
    const double weight = ties == CoxTies::Breslow ? deaths : 1.0;
    for (int k = 0; k < steps && deaths > 0; ++k) {
      const double f = ties == CoxTies::Breslow ? 0.0 : static_cast<double>(k) / deaths;
      const double a0 = s0 - f * d0;
      out.loglik -= weight * std::log(a0);
      for (int j = 0; j < p; ++j) {
        a1[j] = (s1[j] - f * d1[j]) / a0;
        out.score[j] -= weight * a1[j];
      }
      for (int j = 0; j < p; ++j)
        for (int l = 0; l <= j; ++l)
          out.information[j * p + l] += weight * ((s2[j * p + l] - f * d2[j * p + l]) / a0 - a1[j] * a1[l]);
    }
  }
  for (int j = 0; j < p; ++j)
    for (int k = 0; k < j; ++k) out.information[k * p + j] = out.information[j * p + k];
  return out;
}

void add_ridge(Derivatives& d, const std::vector<double>& beta, double lambda) {
  if (lambda <= 0) return;
  const int p = static_cast<int>(beta.size());
  for (int j = 0; j < p; ++j) {
    d.loglik -= lambda / 2 * beta[j] * beta[j];
    d.score[j] -= lambda * beta[j];
    d.information[j * p + j] += lambda;
  }
}

std::vector<double> factor_or_fail(const std::vector<double>& information, int p) {
  std::vector<double> l;
  if (!cholesky(information, p, l, 1e-12))
    fail_invalid(
        "Cox model: the information matrix is singular (collinear covariates, or a covariate constant "
        "within the event times)");
  return l;
}

void check_design(const SurvivalData& d) {
  if (d.events() == 0) fail_invalid("Cox model: no events among the " + std::to_string(d.n()) + " used rows");
  for (size_t j = 0; j < d.p(); ++j) {
    double lo = d.at(0, j), hi = lo;
    for (size_t i = 1; i < d.n(); ++i) lo = std::min(lo, d.at(i, j)), hi = std::max(hi, d.at(i, j));
    if (lo == hi)
      fail_invalid("Cox model: covariate '" + d.names[j] + "' is constant (" + std::to_string(lo) + ") over the " +
                   std::to_string(d.n()) + " used rows");
  }
}

// Cumulative baseline hazard at the means, per stratum, at each event time.
void baseline_hazard(const Sorted& s, const std::vector<double>& beta, CoxTies ties, CoxModel& m) {
  const int p = s.p;
  const size_t n = s.time.size();
  m.base_time.assign(m.stratum_names.size(), {});
  m.base_cumhaz.assign(m.stratum_names.size(), {});
  // Walk each stratum from its shortest time up: the risk set at t is everyone at or after t.
  for (size_t end = n; end > 0;) {
    size_t begin = end;
    while (begin > 0 && s.stratum[begin - 1] == s.stratum[end - 1]) --begin;
    std::vector<double> times, risk, dying;  // per distinct time, longest first
    std::vector<int> deaths;
    double s0 = 0;
    for (size_t i = begin; i < end;) {
      const size_t start = i;
      double d0 = 0;
      int d = 0;
      for (; i < end && s.time[i] == s.time[start]; ++i) {
        double eta = 0;
        for (int j = 0; j < p; ++j) eta += s.x[i * p + j] * beta[j];
        const double r = std::exp(eta);
        s0 += r;
        if (s.event[i]) d0 += r, ++d;
      }
      times.push_back(s.time[start]);
      risk.push_back(s0);
      dying.push_back(d0);
      deaths.push_back(d);
    }
    auto& bt = m.base_time[s.stratum[begin]];
    auto& bh = m.base_cumhaz[s.stratum[begin]];
    double h = 0;
    for (size_t k = times.size(); k-- > 0;) {
      if (deaths[k] == 0) continue;
      if (ties == CoxTies::Breslow) {
        h += deaths[k] / risk[k];
      } else {
        for (int l = 0; l < deaths[k]; ++l) h += 1.0 / (risk[k] - static_cast<double>(l) / deaths[k] * dying[k]);
      }
      bt.push_back(times[k]);
      bh.push_back(h);
    }
    end = begin;
  }
}

}  // namespace

double CoxModel::p(size_t j) const { return metrics::normal_two_sided_p(z(j)); }

double CoxModel::linear_predictor(const double* x) const {
  double eta = 0;
  for (size_t j = 0; j < coef.size(); ++j) eta += coef[j] * (x[j] - means[j]);
  return eta;
}

std::vector<double> CoxModel::survival(const double* x, int stratum, const std::vector<double>& times) const {
  const double r = std::exp(linear_predictor(x));
  const auto& bt = base_time.at(stratum);
  const auto& bh = base_cumhaz.at(stratum);
  std::vector<double> out;
  for (double t : times) {
    const auto it = std::upper_bound(bt.begin(), bt.end(), t);
    const double h = it == bt.begin() ? 0.0 : bh[static_cast<size_t>(it - bt.begin()) - 1];
    out.push_back(std::exp(-h * r));
  }
  return out;
}

CoxModel fit_cox(const SurvivalData& data, const CoxOptions& options) {
  check_design(data);
  const int p = static_cast<int>(data.p());
  CoxModel m;
  m.names = data.names;
  m.factors = data.factors;
  m.n = data.n();
  m.events = data.events();
  m.dropped_missing = data.dropped_missing;
  m.ties = options.ties;
  m.ridge = options.ridge;
  m.stratum_names = data.stratum_names;
  m.means.assign(p, 0.0);
  for (size_t i = 0; i < data.n(); ++i)
    for (int j = 0; j < p; ++j) m.means[j] += data.at(i, j) / static_cast<double>(data.n());
  const Sorted s = sort_design(data, m.means);

  // Newton-Raphson from 0, halving a step that lowers the likelihood (R's coxfit6).
  std::vector<double> beta(p, 0.0), next(p);
  Derivatives d = derivatives(s, beta, options.ties);
  m.loglik_null = d.loglik;
  add_ridge(d, beta, options.ridge);
  double loglik = d.loglik;
  auto step = cholesky_solve(factor_or_fail(d.information, p), p, d.score);
  for (int j = 0; j < p; ++j) next[j] = beta[j] + step[j];
  bool halving = false;
  for (m.iterations = 1; m.iterations <= options.max_iterations; ++m.iterations) {
    d = derivatives(s, next, options.ties);
    add_ridge(d, next, options.ridge);
    if (std::isfinite(d.loglik) && std::fabs(1 - loglik / d.loglik) <= options.tolerance && !halving) {
      m.converged = true;
      break;
    }
    if (m.iterations == options.max_iterations) break;
    if (!std::isfinite(d.loglik) || d.loglik < loglik) {
      halving = true;
      for (int j = 0; j < p; ++j) next[j] = (next[j] + beta[j]) / 2;
    } else {
      halving = false;
      loglik = d.loglik;
      beta = next;
      step = cholesky_solve(factor_or_fail(d.information, p), p, d.score);
      for (int j = 0; j < p; ++j) next[j] = beta[j] + step[j];
    }
  }
  m.iterations = std::min(m.iterations, options.max_iterations);
  beta = next;
  m.penalised_loglik = d.loglik;
  m.loglik = options.ridge > 0 ? derivatives(s, beta, options.ties).loglik : d.loglik;
  const auto l = factor_or_fail(d.information, p);
  m.covariance = cholesky_inverse(l, p);
  m.coef = beta;
  for (int j = 0; j < p; ++j) m.se.push_back(std::sqrt(m.covariance[j * p + j]));
  if (!m.converged)
    m.warnings.push_back("ran out of iterations (" + std::to_string(options.max_iterations) + ") and did not converge");
  // R's check: the step still to take is large against the coefficient.
  const auto remaining = cholesky_solve(l, p, d.score);
  for (int j = 0; j < p; ++j)
    if (std::fabs(remaining[j]) > options.tolerance &&
        std::fabs(remaining[j]) > std::sqrt(options.tolerance) * std::fabs(beta[j]))
      m.warnings.push_back("loglik converged before variable " + std::to_string(j + 1) + " ('" + m.names[j] +
                           "'); coefficient may be infinite (monotone likelihood, e.g. perfect separation)");
  std::vector<double> eta(data.n());
  for (size_t i = 0; i < data.n(); ++i) eta[i] = m.linear_predictor(&data.x[i * p]);
  m.concordance = harrell_concordance(data.time, data.event, eta, &data.stratum).c();
  baseline_hazard(s, beta, options.ties, m);
  return m;
}

json CoxModel::summary_json() const {
  json coefficients = json::object();
  for (size_t j = 0; j < coef.size(); ++j)
    coefficients[names[j]] = {{"coef", coef[j]},
                              {"se", se[j]},
                              {"z", z(j)},
                              {"p", p(j)},
                              {"exp_coef", std::exp(coef[j])},
                              {"lower95", std::exp(coef[j] - 1.959963984540054 * se[j])},
                              {"upper95", std::exp(coef[j] + 1.959963984540054 * se[j])}};
  json j = {{"model", "cox"},
            {"coefficients", coefficients},
            {"loglik", json::array({loglik_null, loglik})},
            {"n", n},
            {"events", events},
            {"dropped_missing", dropped_missing},
            {"concordance", concordance},
            {"iterations", iterations},
            {"converged", converged},
            {"ties", ties == CoxTies::Breslow ? "breslow" : "efron"},
            {"warnings", warnings}};
  if (ridge > 0) j["ridge"] = ridge, j["penalised_loglik"] = penalised_loglik;
  return j;
}

json CoxModel::to_json() const {
  json j = summary_json();
  j["format"] = "medai.cox_model/1";
  j["names"] = names;
  j["means"] = means;
  j["coef"] = coef;
  j["se"] = se;
  j["covariance"] = covariance;
  j["ridge"] = ridge;
  json f = json::array();
  for (const auto& c : factors) f.push_back({{"column", c.column}, {"levels", c.levels}});
  j["factors"] = f;
  json strata = json::array();
  for (size_t s = 0; s < stratum_names.size(); ++s)
    strata.push_back({{"name", stratum_names[s]}, {"time", base_time[s]}, {"cumhaz", base_cumhaz[s]}});
  j["baseline"] = strata;
  return j;
}

CoxModel CoxModel::from_json(const json& j, const std::string& where) {
  if (!j.is_object() || j.value("format", "") != "medai.cox_model/1")
    fail_invalid(where + ": not a medai Cox model (format medai.cox_model/1)");
  CoxModel m;
  try {
    m.names = j.at("names").get<std::vector<std::string>>();
    m.means = j.at("means").get<std::vector<double>>();
    m.coef = j.at("coef").get<std::vector<double>>();
    m.se = j.at("se").get<std::vector<double>>();
    m.covariance = j.at("covariance").get<std::vector<double>>();
    m.ties = parse_ties(j.at("ties").get<std::string>());
    m.ridge = j.at("ridge").get<double>();
    m.n = j.at("n").get<size_t>();
    m.events = j.at("events").get<size_t>();
    m.concordance = j.at("concordance").get<double>();
    m.loglik_null = j.at("loglik").at(0).get<double>();
    m.loglik = j.at("loglik").at(1).get<double>();
    m.converged = j.at("converged").get<bool>();
    m.iterations = j.at("iterations").get<int>();
    m.warnings = j.at("warnings").get<std::vector<std::string>>();
    for (const auto& f : j.at("factors"))
      m.factors.push_back({f.at("column").get<std::string>(), f.at("levels").get<std::vector<std::string>>()});
    for (const auto& s : j.at("baseline")) {
      m.stratum_names.push_back(s.at("name").get<std::string>());
      m.base_time.push_back(s.at("time").get<std::vector<double>>());
      m.base_cumhaz.push_back(s.at("cumhaz").get<std::vector<double>>());
      if (m.base_time.back().size() != m.base_cumhaz.back().size())
        fail_invalid(where + ": baseline '" + m.stratum_names.back() + "': time and cumhaz differ in length");
    }
  } catch (const json::exception& e) {
    fail_invalid(where + ": " + e.what());
  }
  const size_t p = m.names.size();
  if (m.means.size() != p || m.coef.size() != p || m.se.size() != p || m.covariance.size() != p * p ||
      m.stratum_names.empty())
    fail_invalid(where + ": names, means, coef, se, covariance and baseline do not agree in size");
  return m;
}

}  // namespace medai::survival
