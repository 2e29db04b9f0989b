// Survival analysis: Kaplan-Meier and Nelson-Aalen worked by hand, concordance by hand, and Cox
// models, log-rank tests and Kaplan-Meier medians against R's survival package (Debian's
// r-base-core + r-cran-survival, a reference only) on lung, veteran and a heavily tied case.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "medai/core/error.h"
#include "medai/io/csv.h"
#include "medai/metrics/distributions.h"
#include "medai/survival/concordance.h"
#include "medai/survival/cox.h"
#include "medai/survival/kaplan_meier.h"
#include "medai/survival/survival_data.h"
#include "medai/survival/survival_metrics.h"
#include "support/test_support.h"

namespace medai::survival {
namespace {

using test::TempDir;

io::CsvTable table(const std::string& text) { return io::parse_csv(text, "t.csv"); }

TEST(KaplanMeier, HandWorked) {
  // t: 1 2 2+ 3 4+ 5; S = 5/6, 2/3, 4/9, 4/9, 0.
  const auto km = kaplan_meier({1, 2, 2, 3, 4, 5}, {1, 1, 0, 1, 0, 1});
  ASSERT_EQ(km.time.size(), 5u);
  EXPECT_NEAR(km.survival[0], 5.0 / 6, 1e-15);
  EXPECT_NEAR(km.survival[1], 2.0 / 3, 1e-15);
  EXPECT_NEAR(km.survival[2], 4.0 / 9, 1e-15);
  EXPECT_EQ(km.n_risk[2], 3u);
  EXPECT_EQ(km.n_censor[1], 1u);
  EXPECT_NEAR(km.std_err[1], 2.0 / 3 * std::sqrt(1.0 / 30 + 1.0 / 20), 1e-15);  // Greenwood
  EXPECT_NEAR(km.cumhaz[2], 1.0 / 6 + 1.0 / 5 + 1.0 / 3, 1e-15);                // Nelson-Aalen
  EXPECT_EQ(km.survival[4], 0.0);
  EXPECT_EQ(km.median, 3);
  EXPECT_NEAR(km.survival_at(2.5), 2.0 / 3, 1e-15);
  EXPECT_EQ(km.at_risk(3.5), 2u);
  // Exactly 0.5 over an interval: the midpoint to the next drop (R's rule).
  EXPECT_EQ(kaplan_meier({1, 2, 3, 4}, {1, 1, 1, 1}).median, 2.5);
}

TEST(Distributions, KnownValues) {
  EXPECT_NEAR(metrics::normal_two_sided_p(1.959963984540054), 0.05, 1e-14);
  EXPECT_NEAR(metrics::chi_square_upper_tail(3.841458820694124, 1), 0.05, 1e-12);
  EXPECT_NEAR(metrics::chi_square_upper_tail(7.814727903251178, 3), 0.05, 1e-12);
  EXPECT_NEAR(metrics::chi_square_upper_tail(40, 10), 1.6944743930067393e-05, 1e-15);  // R pchisq
  EXPECT_NEAR(metrics::chi_square_upper_tail(0.5, 3), 0.9188914116546759, 1e-14);
}

TEST(Concordance, HandWorked) {
  // Pairs comparable: (a,b) (a,c) (a,d) (c,d); b censored at 2 is longer than c's event at 2.
  const std::vector<double> t{1, 2, 2, 3};
  const std::vector<int> e{1, 0, 1, 0};
  const auto c = harrell_concordance(t, e, {4, 1, 2, 2});
  EXPECT_EQ(c.concordant, 4);  // a>b a>c a>d; c vs b: 2>1
  EXPECT_EQ(c.tied_risk, 1);   // c vs d
  EXPECT_EQ(c.discordant, 0);
  EXPECT_NEAR(c.c(), 4.5 / 5, 1e-15);
  // Without censoring Uno's weights are 1 and both Cs agree.
  const std::vector<double> tt{1, 2, 3, 4, 5};
  const std::vector<int> ee{1, 1, 1, 1, 1};
  const std::vector<double> risk{5, 3, 4, 1, 2};
  SurvivalCurves curves(5, std::vector<double>{0.5});
  const auto s = score_survival(tt, ee, risk, curves, {2.5});
  EXPECT_NEAR(s.c_harrell, s.c_uno, 1e-15);
  EXPECT_NEAR(s.c_harrell, 8.0 / 10, 1e-15);
  EXPECT_NEAR(s.brier[0], 0.25, 1e-15);  // every prediction 0.5 is 0.25 away squared
}

TEST(SurvivalScores, TimeDependentAucCalibrationAndCis) {
  // No censoring: G = 1, so AUC(3) is the share of (case <= 3, control > 3) pairs ordered right.
  const std::vector<double> t{1, 2, 3, 4, 5, 6};
  const std::vector<int> e{1, 1, 1, 1, 1, 1};
  const std::vector<double> risk{6, 5, 2, 4, 3, 1};  // case 3 (risk 2) is below controls 4 (4) and 5 (3)
  SurvivalCurves curves(6, std::vector<double>{0.5});
  const auto s = score_survival(t, e, risk, curves, {3.0}, 3.0);
  EXPECT_EQ(s.horizon, 3.0);
  EXPECT_NEAR(s.auc_at_horizon, 7.0 / 9, 1e-15);
  ASSERT_FALSE(s.calibration.count.empty());
  double n = 0;
  for (size_t c : s.calibration.count) n += c;
  EXPECT_EQ(n, 6);
  const auto b = bootstrap_survival_scores(t, e, risk, curves, {3.0}, 3.0, 100);
  EXPECT_LE(b.c_harrell_lower, b.c_harrell);
  EXPECT_GE(b.c_harrell_upper, b.c_harrell);
  EXPECT_EQ(b.c_harrell, s.c_harrell);
}

TEST(SurvivalData, FactorsMissingAndEventCoding) {
  const auto t = table("time,status,age,arm\n5,2,60,b\n3,1,,a\n4,1,50,a\n2,2,70,c\n");
  const auto d = read_survival_data(t, {"time", "status", {"age", "arm"}, {"arm"}});
  EXPECT_EQ(d.n(), 3u);
  EXPECT_EQ(d.dropped_missing, 1u);
  EXPECT_EQ(d.event_coding, "1/2");
  EXPECT_EQ(d.events(), 2u);
  EXPECT_EQ(d.names, (std::vector<std::string>{"age", "armb", "armc"}));
  EXPECT_EQ(d.at(0, 1), 1);
  EXPECT_EQ(d.at(1, 1), 0);
  EXPECT_EQ(d.at(2, 2), 1);
  // Imputed instead of dropped: the mean of age (60, 50, 70 -> 60), the most frequent arm (a).
  SurvivalColumns imputing{"time", "status", {"age", "arm"}, {"arm"}};
  imputing.impute = imputation_values(t, imputing);
  EXPECT_EQ(imputing.impute.at("age"), "60");
  const auto i = read_survival_data(t, imputing);
  EXPECT_EQ(i.n(), 4u);
  EXPECT_EQ(i.dropped_missing, 0u);
  EXPECT_EQ(i.imputed.at("age"), 1u);
  EXPECT_EQ(i.at(1, 0), 60);
  // Numeric factor levels sort as numbers (R's factor of 2, 10 is 2 < 10).
  const auto n = read_survival_data(table("time,status,g\n1,1,10\n2,0,2\n3,1,2\n"), {"time", "status", {"g"}, {"g"}});
  EXPECT_EQ(n.names, (std::vector<std::string>{"g10"}));
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SurvivalData, BadInputNamesFileLineAndField) {
  const auto read = [](const std::string& csv, SurvivalColumns c) {
    return [csv, c] { read_survival_data(table(csv), c); };
  };

  EXPECT_NE(message_of(read("time,status,x\n1,1,2\n0,1,3\n", {"time", "status", {"x"}})).find("t.csv:3: column 'time'"),
            std::string::npos);
  EXPECT_NE(message_of(read("time,status,x\nnan,1,2\n", {"time", "status", {"x"}})).find("not a positive number"),
            std::string::npos);
  EXPECT_NE(message_of(read("time,status,x\n1,3,2\n", {"time", "status", {"x"}})).find("column 'status'"),
            std::string::npos);
  EXPECT_NE(message_of(read("time,status,x\n1,1,2\n", {"time", "status", {"y"}})).find("y"), std::string::npos);
  EXPECT_NE(message_of(read("time,status,x\n1,1,abc\n", {"time", "status", {"x"}})).find("--factors"),
            std::string::npos);
  const auto d =
      read_survival_data(table("time,status,x,c\n1,1,2,5\n2,0,3,5\n3,1,1,5\n"), {"time", "status", {"x", "c"}});
  EXPECT_NE(message_of([&] { fit_cox(d); }).find("covariate 'c' is constant"), std::string::npos);
}

TEST(Cox, PerfectSeparationWarnsAsR) {
  // x = 1 dies before every x = 0: the likelihood rises without bound in beta.
  std::ostringstream csv;
  csv << "time,status,x,z\n";
  for (int i = 0; i < 20; ++i) csv << i + 1 << ",1," << (i < 10) << "," << (i * 7 % 5) << "\n";
  const auto m = fit_cox(read_survival_data(table(csv.str()), {"time", "status", {"x", "z"}}));
  ASSERT_FALSE(m.warnings.empty());
  EXPECT_NE(m.warnings.back().find("'x'"), std::string::npos);
  EXPECT_NE(m.warnings.back().find("may be infinite"), std::string::npos);
}

TEST(Cox, ModelJsonRoundTripAndCurves) {
  std::ostringstream csv;
  csv << "time,status,x,g\n";
  for (int i = 0; i < 40; ++i)
    csv << 1 + (i * 37 % 23) << "," << (i % 4 != 0) << "," << (i % 7) * 0.3 << ","
        << "ab"[i % 2] << "\n";
  const auto d = read_survival_data(table(csv.str()), {"time", "status", {"x", "g"}, {"g"}});
  const auto m = fit_cox(d);
  const auto back = CoxModel::from_json(nlohmann::json::parse(m.to_json().dump()), "m.json");
  EXPECT_EQ(back.coef, m.coef);
  const double x[2] = {0.6, 1};
  const auto s = back.survival(x, 0, {0.5, 5, 10, 100});
  EXPECT_EQ(s[0], 1.0);
  EXPECT_GT(s[1], s[2]);
  EXPECT_GT(s[2], s[3]);
  EXPECT_THROW(CoxModel::from_json(nlohmann::json{{"format", "other"}}, "m.json"), Error);
}

// ---- against R ------------------------------------------------------------------------------

constexpr const char* kRScript = R"R(
args <- commandArgs(trailingOnly = TRUE)
data_dir <- args[1]; out_dir <- args[2]
invisible(Sys.setlocale("LC_COLLATE", "C"))
suppressMessages(library(survival))
g <- function(x) sprintf("%.17g", x)
out <- function(case, fit) {
  cf <- coef(fit); se <- sqrt(diag(vcov(fit)))
  for (i in seq_along(cf)) cat(case, "coef", names(cf)[i], g(cf[i]), "\n")
  for (i in seq_along(se)) cat(case, "se", names(cf)[i], g(se[i]), "\n")
  cat(case, "loglik", "null", g(fit$loglik[1]), "\n")
  cat(case, "loglik", "final", g(fit$loglik[2]), "\n")
  cat(case, "concordance", "c", g(fit$concordance[["concordance"]]), "\n")
  cat(case, "n", "n", fit$n, "\n")
}
lung <- read.csv(file.path(data_dir, "lung.csv"))
out("lung_efron", coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung))
out("lung_breslow", coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung, ties = "breslow"))
vet <- read.csv(file.path(data_dir, "veteran.csv"))
vet$celltype <- factor(vet$celltype)
out("veteran", coxph(Surv(time, status) ~ trt + celltype + karno + diagtime + age + prior, data = vet))
lung$month <- ceiling(lung$time / 30)
write.csv(lung, file.path(out_dir, "lung_month.csv"), row.names = FALSE, na = "")
out("tied_efron", coxph(Surv(month, status) ~ age + sex + ph.ecog + wt.loss, data = lung))
out("tied_breslow", coxph(Surv(month, status) ~ age + sex + ph.ecog + wt.loss, data = lung, ties = "breslow"))
out("tied_strata", coxph(Surv(month, status) ~ age + ph.ecog + strata(sex), data = lung))
cat("logrank", "lung_sex", "chisq", g(survdiff(Surv(time, status) ~ sex, data = lung)$chisq), "\n")
cat("logrank", "veteran_celltype", "chisq", g(survdiff(Surv(time, status) ~ celltype, data = vet)$chisq), "\n")
km <- summary(survfit(Surv(time, status) ~ 1, data = lung))$table
cat("km", "lung", "median", g(km[["median"]]), "\n")
cat("km", "lung", "lower", g(km[["0.95LCL"]]), "\n")
cat("km", "lung", "upper", g(km[["0.95UCL"]]), "\n")
s <- summary(survfit(Surv(time, status) ~ 1, data = lung), times = c(100, 365, 700))
for (i in seq_along(s$time)) {
  cat("km", "lung", paste0("surv", s$time[i]), g(s$surv[i]), "\n")
  cat("km", "lung", paste0("lower", s$time[i]), g(s$lower[i]), "\n")
}
)R";

class AgainstR : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (test::shared_data().empty() || !std::filesystem::exists(test::shared_data() / "survival/lung.csv")) return;
    dir_ = new TempDir;
    test::write_text(*dir_ / "ref.R", kRScript);
    const auto r = test::run_command("Rscript " + test::quote(*dir_ / "ref.R") + " " +
                                     test::quote(test::shared_data() / "survival") + " " + test::quote(dir_->path()));
    error_ =
        r.exit_code == 0 ? "" : "Rscript failed (install r-base-core r-cran-survival: scripts/install-deps): " + r.err;
    std::istringstream lines(r.out);
    std::string a, b, c, v;
    while (lines >> a >> b >> c >> v) ref_[a + "/" + b + "/" + c] = std::stod(v);
  }
  static void TearDownTestSuite() { delete dir_; }
  void SetUp() override {
    MEDAI_REQUIRE_DATA("survival/lung.csv");
    ASSERT_TRUE(error_.empty()) << error_;
  }
  static double ref(const std::string& key) {
    const auto it = ref_.find(key);
    if (it == ref_.end()) ADD_FAILURE() << "R printed no " << key;
    return it == ref_.end() ? NAN : it->second;
  }
  static void expect_like_r(const std::string& name, const CoxModel& m) {
    for (size_t j = 0; j < m.names.size(); ++j) {
      const double coef = ref(name + "/coef/" + m.names[j]), se = ref(name + "/se/" + m.names[j]);
      EXPECT_NEAR(m.coef[j], coef, 1e-6 * std::fabs(coef)) << name << " " << m.names[j];
      EXPECT_NEAR(m.se[j], se, 1e-6 * se) << name << " " << m.names[j];
    }
    EXPECT_NEAR(m.loglik_null, ref(name + "/loglik/null"), 1e-8 * std::fabs(m.loglik_null)) << name;
    EXPECT_NEAR(m.loglik, ref(name + "/loglik/final"), 1e-8 * std::fabs(m.loglik)) << name;
    EXPECT_NEAR(m.concordance, ref(name + "/concordance/c"), 1e-9) << name;
    EXPECT_EQ(static_cast<double>(m.n), ref(name + "/n/n")) << name;
    EXPECT_TRUE(m.warnings.empty()) << m.warnings.front();
  }
  static TempDir* dir_;
  static std::string error_;
  static std::map<std::string, double> ref_;
};
TempDir* AgainstR::dir_ = nullptr;
std::string AgainstR::error_;
std::map<std::string, double> AgainstR::ref_;

io::CsvTable shared_csv(const std::string& name) { return io::read_csv(test::shared_data() / "survival" / name); }

TEST_F(AgainstR, CoxLungEfronAndBreslow) {
  const auto d = read_survival_data(shared_csv("lung.csv"), {"time", "status", {"age", "sex", "ph.ecog"}});
  EXPECT_EQ(d.dropped_missing, 1u);
  expect_like_r("lung_efron", fit_cox(d));
  CoxOptions breslow;
  breslow.ties = CoxTies::Breslow;
  expect_like_r("lung_breslow", fit_cox(d, breslow));
}

TEST_F(AgainstR, CoxVeteranWithAFactor) {
  const auto d =
      read_survival_data(shared_csv("veteran.csv"),
                         {"time", "status", {"trt", "celltype", "karno", "diagtime", "age", "prior"}, {"celltype"}});
  EXPECT_EQ(d.names[1], "celltypelarge");
  expect_like_r("veteran", fit_cox(d));
}

TEST_F(AgainstR, CoxHeavilyTiedTimesAndStrata) {
  const auto t = io::read_csv(*dir_ / "lung_month.csv");
  const auto d = read_survival_data(t, {"month", "status", {"age", "sex", "ph.ecog", "wt.loss"}});
  expect_like_r("tied_efron", fit_cox(d));
  CoxOptions breslow;
  breslow.ties = CoxTies::Breslow;
  expect_like_r("tied_breslow", fit_cox(d, breslow));
  const auto s = read_survival_data(t, {"month", "status", {"age", "ph.ecog"}, {}, {"sex"}});
  EXPECT_EQ(s.stratum_names.size(), 2u);
  expect_like_r("tied_strata", fit_cox(s));
}

TEST_F(AgainstR, LogRankAndKaplanMeier) {
  const auto lung = read_survival_data(shared_csv("lung.csv"), {"time", "status", {}, {}, {"sex"}});
  EXPECT_NEAR(log_rank(lung.time, lung.event, lung.stratum, lung.stratum_names).chi_square,
              ref("logrank/lung_sex/chisq"), 1e-9);
  const auto vet = read_survival_data(shared_csv("veteran.csv"), {"time", "status", {}, {}, {"celltype"}});
  const auto lr = log_rank(vet.time, vet.event, vet.stratum, vet.stratum_names);
  EXPECT_EQ(lr.df, 3);
  EXPECT_NEAR(lr.chi_square, ref("logrank/veteran_celltype/chisq"), 1e-9);
  const auto km = kaplan_meier(lung.time, lung.event);
  EXPECT_EQ(km.median, ref("km/lung/median"));
  EXPECT_EQ(km.median_lower, ref("km/lung/lower"));
  EXPECT_EQ(km.median_upper, ref("km/lung/upper"));
  for (int t : {100, 365, 700}) {
    EXPECT_NEAR(km.survival_at(t), ref("km/lung/surv" + std::to_string(t)), 1e-12);
    const auto it = std::upper_bound(km.time.begin(), km.time.end(), static_cast<double>(t)) - 1;
    EXPECT_NEAR(km.lower[it - km.time.begin()], ref("km/lung/lower" + std::to_string(t)), 1e-12);
  }
}

}  // namespace
}  // namespace medai::survival
