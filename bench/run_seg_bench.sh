#!/usr/bin/env bash
# Side-by-side U-Net benchmark: medai (C++) vs the same network in python3-torch, alternating in
# one run, same threads: training images/s (batch 8, 128 px crops) and inference ms per 256 px
# image. Prints each measurement and the medai/reference ratios (> 1: medai faster).
#   bench/run_seg_bench.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build/release}
rounds=${2:-3}
threads=${MEDAI_THREADS:-$(nproc)}
cpp="$build/bench/seg_bench"
py="/usr/bin/python3 $here/seg_bench.py"
[ -x "$cpp" ] || { echo "error: $cpp not built (cmake --build $build --target seg_bench)" >&2; exit 2; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq "$rounds"); do
  for mode in train infer; do
    $cpp "$mode" --threads "$threads" | tee -a "$out"
    $py "$mode" --threads "$threads" | tee -a "$out"
  done
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
def med(side, mode, key):
    return st.median([r[key] for r in rows if r['side'] == side and r['mode'] == mode])
a, b = med('medai', 'train', 'images_per_s'), med('python3-torch', 'train', 'images_per_s')
print('\nmedians over rounds (threads=%d)' % rows[0]['threads'])
print('train U-Net b8 128px img/s      medai %8.2f  python3-torch %8.2f  ratio %.2fx' % (a, b, a / b))
a, b = med('medai', 'infer', 'ms_per_image'), med('python3-torch', 'infer', 'ms_per_image')
print('infer U-Net 256px ms/image      medai %8.2f  python3-torch %8.2f  ratio %.2fx' % (a, b, b / a))
PY
