#pragma once
// DeepSurv (Katzman et al., BMC Med Res Methodol 2018): a multilayer perceptron whose output is
// the log-risk of a Cox model, trained on the negative Cox partial likelihood (Breslow ties) with
// the shared Trainer, early stopping on the validation split's Harrell C. Covariates are
// standardised on the training rows (non-negative ones with skewness > 2 on log(1 + x) first); the baseline cumulative
// hazard is Breslow's on the training rows, so each patient gets a survival curve as from a Cox model. Header free of
// libtorch.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "medai/survival/survival_data.h"

namespace medai::survival {

struct DeepSurvOptions {
  std::vector<int> hidden{32, 32};
  double dropout = 0.2, lr = 1e-3, weight_decay = 1e-3;
  int epochs = 300, patience = 30, steps_per_epoch = 1;  // full-batch steps
  // cox: DeepSurv (one output, the log-risk); logistic-hazard: a discrete-time model (Gensheimer &
  // Narasimhan 2019; pycox's LogisticHazard): one hazard logit per interval, `intervals` intervals
  // cut at quantiles of the event times; the same networks, scaling, members and early stopping.
  std::string head = "cox";
  int intervals = 20;
  int members = 5;  // networks from seeds seed, seed + 1, ... (each its own validation split), log-risks averaged
  double validation_fraction = 0.2;  // stratified by event, for early stopping
  uint64_t seed = 1;
  bool progress = true;
};

class DeepSurvModel {
 public:
  DeepSurvModel();
  ~DeepSurvModel();
  DeepSurvModel(DeepSurvModel&&) noexcept;
  DeepSurvModel& operator=(DeepSurvModel&&) noexcept;

  static DeepSurvModel fit(const SurvivalData& data, const DeepSurvOptions& options = {});
  // Risk of each design row (n x p, row-major): the log-risk, or for the logistic hazard the
  // cumulative hazard over every interval.
  std::vector<double> risk(const std::vector<double>& x, size_t n) const;
  std::vector<double> survival(const double* x, const std::vector<double>& times) const;
  const std::vector<std::string>& names() const;
  const std::vector<FactorCoding>& factors() const;
  int best_epoch() const;       // of the first member
  double validation_c() const;  // the members' mean

  void save(const std::filesystem::path& dir) const;
  static DeepSurvModel load(const std::filesystem::path& dir);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace medai::survival
