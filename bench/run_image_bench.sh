#!/usr/bin/env bash
# Side-by-side imaging benchmark: medai (C++) vs python3-torch + torchvision, alternating in one
# run, same threads. Prints each measurement and the medai/reference ratios.
#   bench/run_image_bench.sh [BUILD_DIR] [DATA_DIR] [ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build/release}
data=${2:-$here/../../shared/data/chest_xray_pneumonia}
rounds=${3:-3}
threads=${MEDAI_THREADS:-$(nproc)}
cpp="$build/bench/image_bench"
py="/usr/bin/python3 $here/image_bench.py"
[ -x "$cpp" ] || { echo "error: $cpp not built (cmake --build $build --target image_bench)" >&2; exit 2; }
out=$(mktemp)
for r in $(seq "$rounds"); do
  for mode in train infer; do
    $cpp "$mode" --threads "$threads" | tee -a "$out"
    $py "$mode" --threads "$threads" | tee -a "$out"
  done
  if [ -d "$data" ]; then
    $cpp loader --threads "$threads" --data "$data" | tee -a "$out"
    $py loader --threads "$threads" --data "$data" | tee -a "$out"
  fi
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
def med(side, mode, key):
    v = [r[key] for r in rows if r['side'] == side and r['mode'] == mode and key in r]
    return st.median(v) if v else float('nan')
m, p = 'medai', 'python3-torch'
print('\nmedians over rounds (threads=%d)' % rows[0]['threads'])
print('%-34s %12s %14s %8s' % ('measure', 'medai', 'python3-torch', 'ratio'))
def line(label, mode, key, higher_better):
    a, b = med(m, mode, key), med(p, mode, key)
    ratio = a / b if higher_better else b / a
    print('%-34s %12.2f %14.2f %7.2fx' % (label, a, b, ratio))
line('train ResNet-18 b32 128px img/s', 'train', 'images_per_s', True)
def pair(label, mkey, pkey):
    a, b = med(m, 'infer', mkey), med(p, 'infer', pkey)
    print('%-34s %12.2f %14.2f %7.2fx' % (label, a, b, b / a))
print('-- inference, each side as shipped: medai (optimised graph) vs torchvision eval + no_grad')
line('infer batch-1 latency ms', 'infer', 'batch1_ms', False)
line('infer batch-32 latency ms', 'infer', 'batch32_ms', False)
print('-- like for like')
pair('eager b1: medai vs torchvision', 'eager_batch1_ms', 'batch1_ms')
pair('eager b32: medai vs torchvision', 'eager_batch32_ms', 'batch32_ms')
pair('optimised b1: medai vs optimize_for_inference', 'batch1_ms', 'optimized_batch1_ms')
pair('optimised b32: medai vs optimize_for_inference', 'batch32_ms', 'optimized_batch32_ms')
print('--')
line('loader first epoch img/s', 'loader', 'first_epoch_images_per_s', True)
a = med(m, 'loader', 'augmented_epoch_images_per_s')
print('%-34s %12.2f %14s' % ('loader cached epoch img/s (medai)', a, '-'))
print('ratio > 1 means medai is faster')
PY
rm -f "$out"
