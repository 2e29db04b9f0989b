#!/usr/bin/env bash
# Does synthetic data help a detector trained on little data? For each low-data regime (a share
# of the training patients, grouped by patient, the same validation split throughout):
#   conventional: medai image train --train-fraction F (its default augmentation), SEEDS seeds;
#   synthetic:    a conditional GAN trained on exactly that F training split (RUN/split.csv,
#                 split train), then medai image train ... --synthetic GAN --synthetic-ratio R.
# Reports each run's validation AUROC with its bootstrap 95 % CI, the mean per arm and the
# difference. The GAN never sees validation images.
#   bench/run_gan_augment.sh [BUILD_DIR] [DATA] [OUT] [FRACTIONS] [SEEDS] [GAN_EPOCHS] [RATIO]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build/release}
data=${2:-$here/../../shared/data/chest_xray_pneumonia/train}
out=${3:-/tmp/medai_gan_augment}
fractions=${4:-0.10 0.25}
seeds=${5:-1 2 3}
gan_epochs=${6:-120}
ratio=${7:-1}
medai="$build/apps/medai/medai"
[ -x "$medai" ] || { echo "error: $medai not built" >&2; exit 2; }
mkdir -p "$out"
for f in $fractions; do
  d="$out/f$f"
  mkdir -p "$d"
  for s in $seeds; do
    [ -f "$d/conv_$s/model_card.json" ] ||
      "$medai" -q image train --data "$data" --train-fraction "$f" --split-seed 7 --seed "$s" --out "$d/conv_$s"
  done
  first=$(echo $seeds | cut -d' ' -f1)
  [ -f "$d/gan/model_card.json" ] ||
    "$medai" -q gan train --data "$d/conv_$first/split.csv" --split train --conditional --epochs "$gan_epochs" \
      --feature-epochs 0 --out "$d/gan"
  for s in $seeds; do
    [ -f "$d/syn_$s/model_card.json" ] ||
      "$medai" -q image train --data "$data" --train-fraction "$f" --split-seed 7 --seed "$s" --synthetic "$d/gan" \
        --synthetic-ratio "$ratio" --out "$d/syn_$s"
  done
done
/usr/bin/python3 - "$out" $fractions <<'PY'
import json, statistics, sys, pathlib
out = pathlib.Path(sys.argv[1])
for f in sys.argv[2:]:
    d = out / f"f{f}"
    arms = {}
    for arm in ("conv", "syn"):
        rows = []
        for card in sorted(d.glob(f"{arm}_*/model_card.json")):
            v = json.load(open(card))["metrics"]["validation"]
            rows.append((card.parent.name, v["auroc"], v["auroc_ci95"][0], v["auroc_ci95"][1], v["n"]))
        arms[arm] = rows
        for name, a, lo, hi, n in rows:
            print(f"fraction {f} {name}: validation AUROC {a:.4f} (95% CI {lo:.4f}-{hi:.4f}, n {n})")
    m = {k: statistics.mean(r[1] for r in v) for k, v in arms.items() if v}
    sd = {k: statistics.stdev(r[1] for r in v) if len(v) > 1 else 0.0 for k, v in arms.items() if v}
    if len(m) == 2:
        print(f"fraction {f}: conventional {m['conv']:.4f} (sd {sd['conv']:.4f}), with synthetic {m['syn']:.4f} "
              f"(sd {sd['syn']:.4f}), difference {m['syn'] - m['conv']:+.4f}")
PY
