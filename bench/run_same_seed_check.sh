#!/usr/bin/env bash
# Same seed, same BLAS kernel, two medai binaries (before and after a change): the image
# classifier, the forecaster and PPO trained small, then every number in their CSV and JSON
# outputs compared (within 1e-5; timings, dates and versions ignored).
#   bench/run_same_seed_check.sh MEDAI_BEFORE MEDAI_AFTER [SHARED_DATA]
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE=$(realpath "$1"); AFTER=$(realpath "$2"); DATA=$(realpath "${3:-../shared/data}")
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Prescott}  # the kernel changes numerics by design: hold it
X=$DATA/chest_xray_pneumonia S=$DATA/t1d_simglucose
{ sed -n 1p "$X/index.csv"; grep -m 120 ",NORMAL," "$X/index.csv"; grep -m 120 ",PNEUMONIA," "$X/index.csv"; } |
  awk -F, -v d="$X" 'NR == 1 {print; next} {$1 = d "/" $1; print}' OFS=, > "$W/xr.csv"
"$AFTER" -q glucose cohort --patients adolescent --days 4 --params "$S/vpatient_params.csv" --quest "$S/Quest.csv" \
  --out "$W/cohort" > /dev/null
for side in before after; do
  M=$BEFORE; [ $side = after ] && M=$AFTER
  D=$W/$side
  mkdir -p "$D"
  "$M" --threads 2 image train --data "$W/xr.csv" --out "$D/cls" --size 64 --epochs 3 --batch 16 --seed 42 --json > "$D/cls.json"
  "$M" --threads 2 glucose train-forecaster --data "$W/cohort" --out "$D/fc" --epochs 3 --ensemble 2 --hidden 32 --seed 1 \
    --json > "$D/fc.json"
  "$M" --threads 2 glucose train-ppo --patients adolescent#001,adolescent#002 --params "$S/vpatient_params.csv" \
    --quest "$S/Quest.csv" --out "$D/ppo" --iterations 20 --copies 2 --rollout-steps 96 --epochs 2 --hidden 32 \
    --eval-days 2 --json > "$D/ppo.json"
done
/usr/bin/python3 bench/same_seed_compare.py "$W/before" "$W/after"
