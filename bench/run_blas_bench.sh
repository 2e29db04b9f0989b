#!/usr/bin/env bash
# BLAS kernels: the generic kernels OpenBLAS falls back to on a CPU it does not know
# (OPENBLAS_CORETYPE=Prescott) against medai's automatic choice, like for like in one run,
# alternating: sgemm GFLOP/s (medai doctor) and a small forecaster training (2 epochs).
#   bench/run_blas_bench.sh [BUILD_DIR] [ROUNDS] [SHARED_DATA]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
ROUNDS=${2:-2}
S=$(realpath "${3:-../shared/data}")/t1d_simglucose
M=$BUILD/apps/medai/medai
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$M" -q glucose cohort --patients adolescent --days 4 --params "$S/vpatient_params.csv" --quest "$S/Quest.csv" \
  --out "$W/cohort" > /dev/null
run() {  # $1 label, $2 env
  local t0 t1
  env $2 "$M" doctor --json > "$W/doc.json"
  t0=$(date +%s.%N)
  env $2 "$M" -q glucose train-forecaster --data "$W/cohort" --out "$W/fc-$1-$r" --epochs 2 --ensemble 1 --json > /dev/null
  t1=$(date +%s.%N)
  /usr/bin/python3 -c "import json,sys; d=json.load(open('$W/doc.json')); print(json.dumps({'side': '$1', 'kernel': d['blas']['kernel'], 'sgemm_gflops': d['sgemm_gflops_1024'], 'sgemm_ok': d['sgemm_check']['ok'], 'forecaster_s': $t1 - $t0}))" | tee -a "$W/results"
}
for r in $(seq "$ROUNDS"); do
  run generic "OPENBLAS_CORETYPE=Prescott"
  run auto "-u OPENBLAS_CORETYPE"
done
/usr/bin/python3 - "$W/results" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(side, key): return statistics.median(r[key] for r in rows if r["side"] == side)
g, a = med("generic", "sgemm_gflops"), med("auto", "sgemm_gflops")
kernel = [r["kernel"] for r in rows if r["side"] == "auto"][0]
print(f"sgemm 1024: generic (Prescott) {g:.1f} GFLOP/s, auto ({kernel}) {a:.1f} GFLOP/s -> {a / g:.2f}x")
fg, fa = med("generic", "forecaster_s"), med("auto", "forecaster_s")
print(f"forecaster training (2 epochs): generic {fg:.1f} s, auto {fa:.1f} s -> {fg / fa:.2f}x")
PYEOF
