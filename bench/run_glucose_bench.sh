#!/usr/bin/env bash
# Glucose simulation: medai (C++) side by side with the transcription of simglucose's patient
# model (bench/simglucose_reference.py; scipy dopri5, parameters as a pandas Series as simglucose
# passes them), alternating, then the agreement of BG trajectories.
#   bench/run_glucose_bench.sh [BUILD_DIR] [SHARED_DATA] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
DATA=${2:-../shared/data}
ROUNDS=${3:-3}
T=$DATA/t1d_simglucose
PY=/usr/bin/python3
export OMP_NUM_THREADS=1
for r in $(seq "$ROUNDS"); do
  echo "round $r"
  taskset -c 0 "$BUILD/bench/glucose_bench" "$T/vpatient_params.csv" "$T/Quest.csv" 10 | tee -a /tmp/glucose_bench_cpp.$$
  taskset -c 0 $PY bench/simglucose_reference.py speed "$T/vpatient_params.csv" 1 pandas | tee -a /tmp/glucose_bench_py.$$
done
$PY - /tmp/glucose_bench_cpp.$$ /tmp/glucose_bench_py.$$ <<'PYEOF'
import json, statistics, sys
cpp = [json.loads(l) for l in open(sys.argv[1])]
py = [json.loads(l) for l in open(sys.argv[2])]
c = statistics.median(x["model_ms_per_patient_day"] for x in cpp)
p = statistics.median(x["ms_per_patient_day"] for x in py)
print(f"patient model: medai {c:.3f} ms/patient-day, simglucose-style python {p:.1f} ms/patient-day -> {p / c:.0f}x")
print(f"closed loop (sensor, pump, basal-bolus, safety): {statistics.median(x['closed_loop_patient_days_per_s'] for x in cpp):.0f} patient-days/s")
print(f"vectorised env ({cpp[0]['vector_env_size']} envs): {statistics.median(x['vector_env_steps_per_s'] for x in cpp):.0f} steps/s")
PYEOF
rm -f /tmp/glucose_bench_cpp.$$ /tmp/glucose_bench_py.$$

# Agreement over 24 h: three meals with boluses, per patient.
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
worst=0
for name in adolescent#001 adolescent#007 adult#001 adult#005 adult#009 child#003 child#010; do
  $PY - "$T/vpatient_params.csv" "$T/Quest.csv" "$name" > "$TMP/s.csv" <<'PYEOF'
import csv, sys
p = next(r for r in csv.DictReader(open(sys.argv[1])) if r["Name"] == sys.argv[3])
q = next(r for r in csv.DictReader(open(sys.argv[2])) if r["Name"] == sys.argv[3])
basal = float(p["u2ss"]) * float(p["BW"]) / 6000
cr = float(q["CR"])
print("minute,carbs_g,insulin_u_per_min")
for m in range(1440):
    c = {420: 45, 720: 70, 1080: 80, 900: 15}.get(m, 0)
    print(f"{m},{c},{basal + (c / cr if c else 0):.10f}")
PYEOF
  "$BUILD/apps/medai/medai" -q glucose simulate --patient "$name" --params "$T/vpatient_params.csv" --inputs "$TMP/s.csv" --minutes 1440 --out "$TMP/c.csv" >/dev/null
  $PY bench/simglucose_reference.py trajectory "$T/vpatient_params.csv" "$name" "$TMP/s.csv" 1440 > "$TMP/p.csv"
  $PY bench/simglucose_reference.py trajectory "$T/vpatient_params.csv" "$name" "$TMP/s.csv" 1440 1e-10 > "$TMP/p10.csv"
  $PY - "$TMP/c.csv" "$TMP/p.csv" "$TMP/p10.csv" "$name" <<'PYEOF'
import csv, sys
c = [float(r["bg_mgdl"]) for r in csv.DictReader(open(sys.argv[1]))]
p = [float(r["bg_mgdl"]) for r in csv.DictReader(open(sys.argv[2]))]
q = [float(r["bg_mgdl"]) for r in csv.DictReader(open(sys.argv[3]))]
print(f"{sys.argv[4]:15s} BG {min(c):6.1f}-{max(c):6.1f} mg/dL  max|medai - reference(dopri5 default tol)| {max(abs(a-b) for a,b in zip(c,p)):.2e}"
      f"  max|medai - reference(tol 1e-10)| {max(abs(a-b) for a,b in zip(c,q)):.2e} mg/dL")
PYEOF
done
