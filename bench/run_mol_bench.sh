#!/usr/bin/env bash
# Drug discovery speed, medai vs the Python stack in one run, on the same CSV (default Tox21):
#  1. featurisation (parse, canonical SMILES, ECFP4, RDKit descriptors, Chemprop graph) per
#     molecule: bench/mol_bench on 1 thread and on all, python3-rdkit in one process;
#  2. D-MPNN training molecules/s, EPOCHS epochs: medai's MolModel::train (featurisation
#     included) vs the same network in python3-torch on the same threads (featurisation excluded).
# Prints each side and the ratios (> 1: medai faster).
#   bench/run_mol_bench.sh [BUILD_DIR] [CSV] [EPOCHS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build/release}
csv=${2:-$here/../../shared/data/molecules/tox21.csv}
epochs=${3:-3}
bench="$build/bench/mol_bench"
py=/usr/bin/python3
[ -x "$bench" ] || { echo "error: $bench not built" >&2; exit 2; }
$py -c "import rdkit, torch" 2>/dev/null || { echo "error: python3-rdkit / python3-torch missing (scripts/install-deps)" >&2; exit 2; }
threads=$(nproc)
val() { $py -c "import json,sys; j=json.loads(sys.argv[1]); print(j['$2'])" "$1"; }
m1=$("$bench" featurize "$csv" smiles 1); mn=$("$bench" featurize "$csv" smiles "$threads"); p1=$($py "$here/mol_bench.py" featurize "$csv" smiles)
n=$(val "$m1" molecules)
rate() { $py -c "print(f'{$1 / $2:.0f}')"; }
echo "featurisation of $n molecules: medai 1 thread $(rate "$n" "$(val "$m1" seconds)")/s, $threads threads $(rate "$n" "$(val "$mn" seconds)")/s; python3-rdkit $(rate "$n" "$(val "$p1" seconds)")/s"
$py -c "import sys; a,b,c=map(float,sys.argv[1:4]); print(f'ratio (python / medai time): 1 thread {c/a:.2f}x, {int(sys.argv[4])} threads {c/b:.2f}x')" "$(val "$m1" seconds)" "$(val "$mn" seconds)" "$(val "$p1" seconds)" "$threads"
mt=$(MEDAI_THREADS=$threads "$bench" train "$csv" smiles "$epochs"); pt=$($py "$here/mol_bench.py" train "$csv" smiles "$epochs" "$threads")
mr=$($py -c "import json,sys; j=json.loads(sys.argv[1]); print(j['molecules']*j['epochs']/j['seconds'])" "$mt")
pr=$($py -c "import json,sys; j=json.loads(sys.argv[1]); print(j['molecules']*j['epochs']/j['seconds'])" "$pt")
echo "D-MPNN training ($epochs epochs, $threads threads): medai $(printf %.0f "$mr") molecules/s (featurisation included), python3-torch $(printf %.0f "$pr") molecules/s"
$py -c "import sys; print(f'ratio (medai / python molecules/s): {float(sys.argv[1])/float(sys.argv[2]):.2f}x')" "$mr" "$pr"
