#!/usr/bin/env bash
# Side-by-side text benchmark: medai (C++) vs the same BERT in python3-torch, alternating in one
# run, same threads: masked-LM training tokens/s (batch 32 x 128 tokens), inference latency at
# 128 tokens for batch 1 and 32, and BM25 queries/s over MedQuAD (when its CSV is given).
# On CPUs with AMX-BF16 also medai's bf16-autocast training rate. Prints each measurement and the
# medai/reference ratios (> 1: medai faster).
#   bench/run_text_bench.sh [BUILD_DIR] [ROUNDS] [MEDQUAD_CSV]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build/release}
rounds=${2:-3}
medquad=${3:-}
threads=${MEDAI_THREADS:-$(nproc)}
cpp="$build/bench/text_bench"
py="/usr/bin/python3 $here/text_bench.py"
[ -x "$cpp" ] || { echo "error: $cpp not built (cmake --build $build --target text_bench)" >&2; exit 2; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq "$rounds"); do
  for args in "train" "infer --batch 1" "infer --batch 32 --steps 5"; do
    $cpp $args --threads "$threads" | tee -a "$out"
    $py $args --threads "$threads" | tee -a "$out"
  done
  if grep -q amx_bf16 /proc/cpuinfo; then $cpp train --bf16 1 --threads "$threads" | tee -a "$out"; fi
  if [ -n "$medquad" ]; then
    $cpp bm25 --data "$medquad" --threads "$threads" | tee -a "$out"
    $py bm25 --data "$medquad" --threads "$threads" | tee -a "$out"
  fi
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
def med(side, mode, key, batch=None):
    v = [r[key] for r in rows if r['side'] == side and r['mode'] == mode and (batch is None or r.get('batch') == batch)]
    return st.median(v) if v else None
print('\nmedians over rounds (threads=%d)' % rows[0]['threads'])
def med_train(side, bf16):
    v = [r['tokens_per_s'] for r in rows if r['side'] == side and r['mode'] == 'train' and r.get('bf16', 0) == bf16]
    return st.median(v) if v else None
a, b = med_train('medai', 0), med_train('python3-torch', 0)
print('train BERT-4x256 MLM b32x128 tokens/s  medai %9.1f  python3-torch %9.1f  ratio %.2fx' % (a, b, a / b))
c = med_train('medai', 1)
if c:
    print('train, medai bf16 autocast (AMX-BF16)  medai %9.1f  = %.2fx medai fp32, %.2fx python3-torch fp32' % (c, c / a, c / b))
for batch in (1, 32):
    a, b = med('medai', 'infer', 'ms_per_batch', batch), med('python3-torch', 'infer', 'ms_per_batch', batch)
    print('infer batch %-2d x 128 tokens ms/batch     medai %9.2f  python3-torch %9.2f  ratio %.2fx' % (batch, a, b, b / a))
a, b = med('medai', 'bm25', 'queries_per_s'), med('python3-torch', 'bm25', 'queries_per_s')
if a:
    print('BM25 MedQuAD queries/s (top 10)        medai %9.1f  python scipy  %9.1f  ratio %.2fx' % (a, b, a / b))
PY
