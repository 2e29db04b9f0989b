#!/usr/bin/env bash
# Reading PhysioNet 2012 stays: medai (`medai icu summary`: parse, validate and clean every file
# on the runtime's threads) vs pandas (pd.read_csv of every file, nothing more: the reference does
# less work), ROUNDS alternating rounds; prints medians and the ratio pandas / medai (> 1: medai
# faster). medai uses MEDAI_THREADS (default nproc) threads; pandas is single-threaded as used.
#   bench/run_icu_bench.sh [BUILD_DIR] [SET_DIR] [ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build/release}
set_dir=${2:-$here/../../shared/data/icu_physionet2012/set-a}
rounds=${3:-3}
medai="$build/apps/medai/medai"
[ -x "$medai" ] || { echo "error: $medai not built" >&2; exit 2; }
[ -d "$set_dir" ] || { echo "error: $set_dir is not a folder of stay files" >&2; exit 2; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq "$rounds"); do
  "$medai" --threads "${MEDAI_THREADS:-$(nproc)}" icu summary --data "$set_dir" --json |
    /usr/bin/python3 -c 'import json,sys; print("medai", json.load(sys.stdin)["seconds"])' | tee -a "$out"
  /usr/bin/python3 - "$set_dir" <<'PY' | tee -a "$out"
import glob, sys, time
import pandas as pd
t = time.perf_counter()
frames = [pd.read_csv(f) for f in sorted(glob.glob(sys.argv[1] + "/*.txt"))]
print("pandas", time.perf_counter() - t)
PY
done
/usr/bin/python3 - "$out" <<'PY'
import statistics, sys
v = {}
for line in open(sys.argv[1]):
    k, s = line.split()
    v.setdefault(k, []).append(float(s))
m, p = statistics.median(v["medai"]), statistics.median(v["pandas"])
print(f"ICU stays read: medai {m:.2f} s, pandas {p:.2f} s -> ratio {p / m:.1f}x")
PY
