#pragma once
// Cox proportional hazards by Newton-Raphson with step halving, as R's coxph (survival 3.5)
// fits it: covariates centred on their means, Efron or Breslow ties, strata, iteration from 0
// until the log partial likelihood changes by <= 1e-9 relative (at most 20 iterations), a warning
// when it converged before a coefficient did (monotone likelihood: the coefficient may be
// infinite). An optional ridge penalty (lambda / 2 * sum beta^2). Standard errors from the inverse
// information; Wald z, two-sided p and 95 % limits of the hazard ratio; Harrell's concordance; the
// baseline cumulative hazard (Breslow or Efron, as survfit.coxph) per stratum for survival curves.
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "medai/survival/survival_data.h"

namespace medai::survival {

enum class CoxTies { Efron, Breslow };
CoxTies parse_ties(const std::string& name);  // "efron" | "breslow"

struct CoxOptions {
  CoxTies ties = CoxTies::Efron;
  double ridge = 0;  // lambda
  int max_iterations = 20;
  double tolerance = 1e-9;  // relative change of the log partial likelihood
};

struct CoxModel {
  std::vector<std::string> names;
  std::vector<FactorCoding> factors;
  std::vector<double> coef, se, means;
  std::vector<double> covariance;  // p x p, row-major
  double loglik_null = 0, loglik = 0, penalised_loglik = 0;
  int iterations = 0;
  bool converged = false;
  size_t n = 0, events = 0, dropped_missing = 0;
  double concordance = 0;
  CoxTies ties = CoxTies::Efron;
  double ridge = 0;
  std::vector<std::string> warnings;
  std::vector<std::string> stratum_names;
  std::vector<std::vector<double>> base_time, base_cumhaz;  // per stratum, at the means

  double z(size_t j) const { return coef[j] / se[j]; }
  double p(size_t j) const;
  // beta . (x - means) for one design row.
  double linear_predictor(const double* x) const;
  // S(t | x) at each of `times` for a design row in `stratum`.
  std::vector<double> survival(const double* x, int stratum, const std::vector<double>& times) const;
  // fit --json's shape: {"coefficients": {NAME: {coef, se, z, p, exp_coef, lower95, upper95}},
  // "loglik": [null, final], "n", "events", "concordance", "iterations", "ties", "warnings"}
  nlohmann::json summary_json() const;
  nlohmann::json to_json() const;  // everything, for the run folder
  static CoxModel from_json(const nlohmann::json& j, const std::string& where);
};

CoxModel fit_cox(const SurvivalData& data, const CoxOptions& options = {});

}  // namespace medai::survival
