#!/usr/bin/env bash
# fp32 against bf16 autocast, like for like in one run, alternating: ResNet-18 training speed
# (image_bench, synthetic batch) and the image classifier trained on the same patient-grouped
# subset of the chest X-rays with the same seed, its validation AUROC (95% CI) side by side.
#   bench/run_precision_bench.sh [BUILD_DIR] [SHARED_DATA] [IMAGES_PER_CLASS] [EPOCHS] [SIZE]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}; DATA=$(realpath "${2:-../shared/data}"); N=${3:-300}; EPOCHS=${4:-3}; SIZE=${5:-128}
M=$BUILD/apps/medai/medai
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
X=$DATA/chest_xray_pneumonia
{ sed -n 1p "$X/index.csv"; grep -m "$N" ",NORMAL," "$X/index.csv"; grep -m "$N" ",PNEUMONIA," "$X/index.csv"; } |
  awk -F, -v d="$X" 'NR == 1 {print; next} {$1 = d "/" $1; print}' OFS=, > "$W/xr.csv"
"$M" doctor --json | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print('cpu:', {k: v for k, v in d['cpu'].items() if v}, 'blas:', d['blas']['kernel'])"
for p in fp32 bf16 fp32 bf16; do "$BUILD/bench/image_bench" train --precision $p --steps 10 --size "$SIZE" | tee -a "$W/speed"; done
for p in fp32 bf16; do
  "$M" image train --data "$W/xr.csv" --out "$W/run-$p" --size "$SIZE" --epochs "$EPOCHS" --seed 42 --precision $p --json > "$W/$p.json"
done
/usr/bin/python3 - "$W" <<'PYEOF'
import json, statistics, sys, csv
w = sys.argv[1]
speed = [json.loads(l) for l in open(f"{w}/speed")]
f = statistics.median(s["images_per_s"] for s in speed if s["precision"] == "fp32")
b = statistics.median(s["images_per_s"] for s in speed if s["precision"] == "bf16")
print(f"ResNet-18 training step: fp32 {f:.1f} img/s, bf16 {b:.1f} img/s -> bf16/fp32 {b / f:.2f}x")
for p in ("fp32", "bf16"):
    c = json.load(open(f"{w}/{p}.json")); v = c["metrics"]["validation"]
    secs = sum(float(r["seconds"]) for r in csv.DictReader(open(f"{w}/run-{p}/curves.csv")))
    print(f"{p}: validation AUROC {v['auroc']:.4f} (95% CI {v['auroc_ci95'][0]:.4f}-{v['auroc_ci95'][1]:.4f}), "
          f"accuracy {v['accuracy']:.4f}, n {v['n']}, training {secs:.0f} s")
PYEOF
