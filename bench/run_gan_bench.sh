#!/usr/bin/env bash
# GAN training speed, medai vs python3-torch in one run: the same generator + discriminator
# (gan.cpp / gan_bench.py), one discriminator and one generator step per batch, same threads.
# medai's figure is `medai gan train`'s own images/s over EPOCHS x STEPS batches (decoded images
# from DATA; the per-epoch sample grid included), python's is STEPS x EPOCHS batches of random
# images. Prints both and the ratio (> 1: medai faster).
#   bench/run_gan_bench.sh [BUILD_DIR] [DATA] [SIZE] [STEPS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build/release}
data=${2:-$here/../../shared/data/chest_xray_pneumonia/train}
size=${3:-64}
steps=${4:-40}
medai="$build/apps/medai/medai"
py=/usr/bin/python3
[ -x "$medai" ] || { echo "error: $medai not built" >&2; exit 2; }
$py -c "import torch" 2>/dev/null || { echo "error: python3-torch missing (scripts/install-deps)" >&2; exit 2; }
threads=$(nproc)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$medai" --threads "$threads" -q gan train --data "$data" --out "$tmp/gan" --conditional --size "$size" --epochs 2 \
  --max-batches "$steps" --feature-epochs 0 --json > "$tmp/card.json"
mr=$($py -c "import json; print(json.load(open('$tmp/card.json'))['training_run']['images_per_second'])")
pj=$($py "$here/gan_bench.py" "$size" 32 $((2 * steps)) "$threads")
pr=$($py -c "import json,sys; j=json.loads(sys.argv[1]); print(j['images']/j['seconds'])" "$pj")
echo "GAN training ${size} px, batch 32, $threads threads: medai $(printf %.1f "$mr") images/s, python3-torch $(printf %.1f "$pr") images/s"
$py -c "import sys; print(f'ratio (medai / python images/s): {float(sys.argv[1])/float(sys.argv[2]):.2f}x')" "$mr" "$pr"
