#pragma once
// Small dense symmetric positive-definite algebra for the survival models (p x p, row-major).
#include <vector>

namespace medai::survival {

// Cholesky factor L (lower, row-major) of `a`; false when `a` is not positive definite (a pivot
// below `tolerance` times the largest diagonal).
bool cholesky(const std::vector<double>& a, int p, std::vector<double>& l, double tolerance = 1e-12);
// Solves (L L^T) x = b.
std::vector<double> cholesky_solve(const std::vector<double>& l, int p, const std::vector<double>& b);
// (L L^T)^-1.
std::vector<double> cholesky_inverse(const std::vector<double>& l, int p);

}  // namespace medai::survival
