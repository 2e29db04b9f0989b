#!/usr/bin/env bash
# Cox proportional hazards, medai vs R's coxph (survival 3.5) in one run: N simulated subjects
# (default 100,000) x P covariates (default 20), Efron ties on times rounded to whole days, the
# same CSV for both. The fit alone is timed on each side (R: system.time(coxph(...)) after
# read.csv; medai: bench/survival_bench after reading the CSV), ROUNDS times alternating; also
# the whole `medai survival fit` process (CSV parsing, run folder). Prints medians, the ratio
# R / medai (> 1: medai faster) and the largest relative coefficient difference.
#   bench/run_survival_bench.sh [BUILD_DIR] [ROUNDS] [N] [P]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build/release}
rounds=${2:-3}
n=${3:-100000}
p=${4:-20}
medai="$build/apps/medai/medai"
bench="$build/bench/survival_bench"
[ -x "$medai" ] && [ -x "$bench" ] || { echo "error: $medai or $bench not built" >&2; exit 2; }
command -v Rscript >/dev/null || { echo "error: Rscript missing (scripts/install-deps installs r-base-core r-cran-survival)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
Rscript - "$work" "$n" "$p" <<'R'
a <- commandArgs(trailingOnly = TRUE); dir <- a[1]; n <- as.integer(a[2]); p <- as.integer(a[3])
set.seed(1)
x <- matrix(rnorm(n * p), n, p); colnames(x) <- paste0("x", seq_len(p))
beta <- seq(-0.5, 0.5, length.out = p)
t <- ceiling(rexp(n, exp(x %*% beta) / 365) )
c <- ceiling(runif(n, 1, 3 * 365))
d <- data.frame(time = pmin(t, c), status = as.integer(t <= c), x)
write.csv(d, file.path(dir, "sim.csv"), row.names = FALSE)
R
covs=$(seq -s, -f "x%g" 1 "$p")
for r in $(seq "$rounds"); do
  Rscript - "$work" "$covs" <<'R' | tee -a "$work/r.txt"
suppressMessages(library(survival))
a <- commandArgs(trailingOnly = TRUE); d <- read.csv(file.path(a[1], "sim.csv"))
f <- as.formula(paste("Surv(time, status) ~", gsub(",", " + ", a[2])))
s <- system.time(fit <- coxph(f, data = d))[["elapsed"]]
cat(sprintf("R_seconds %.4f\n", s))
write.csv(data.frame(coef = coef(fit)), file.path(a[1], "r_coef.csv"))
R
  "$bench" --data "$work/sim.csv" --covariates "$covs" --rounds 1 | tee -a "$work/fit.json"
  s=$(date +%s%N)
  "$medai" survival fit --data "$work/sim.csv" --covariates "$covs" --out "$work/run" --json > "$work/medai.json"
  e=$(date +%s%N)
  echo "medai_seconds $(( (e - s) / 1000000 ))e-3" | tee -a "$work/m.txt"
done
/usr/bin/python3 - "$work" <<'PY'
import csv, json, statistics, sys
w = sys.argv[1]
r = statistics.median(float(l.split()[1]) for l in open(f"{w}/r.txt"))
m = statistics.median(float(l.split()[1]) for l in open(f"{w}/m.txt"))
f = statistics.median(json.loads(l)["fit_seconds"] for l in open(f"{w}/fit.json"))
mc = json.load(open(f"{w}/medai.json"))["coefficients"]
rc = {row[""]: float(row["coef"]) for row in csv.DictReader(open(f"{w}/r_coef.csv"))}
diff = max(abs(mc[k]["coef"] - v) / abs(v) for k, v in rc.items())
print(f"cox fit alone: R coxph {r:.3f} s, medai {f:.3f} s -> ratio {r / f:.2f}x")
print(f"medai survival fit, whole process (CSV read, run folder written): {m:.3f} s -> {r / m:.2f}x R's fit alone")
print(f"max relative coefficient difference {diff:.2e}")
PY
