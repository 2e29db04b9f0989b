#pragma once
// Tail probabilities for tests and confidence intervals.
namespace medai::metrics {

// P(|Z| >= |z|) for a standard normal Z.
double normal_two_sided_p(double z);
// P(X >= x) for X ~ chi-square with `df` degrees of freedom (regularised upper incomplete gamma).
double chi_square_upper_tail(double x, double df);

}  // namespace medai::metrics
