#!/usr/bin/env python3
"""DeepChem's ScaffoldSplitter (deepchem/splits/splitters.py), transcribed on python3-rdkit, as the
reference `medai mol split --method scaffold` is checked against. Molecules RDKit cannot parse are
left out first (as DeepChem's loaders drop them); rows are 0-based data rows of the CSV.
usage: scaffold_split.py DATA.csv SMILES_COL OUT.csv [frac_train frac_valid]"""
import csv
import sys

from rdkit import Chem, RDLogger
from rdkit.Chem.Scaffolds import MurckoScaffold

RDLogger.DisableLog("rdApp.*")
path, col, out = sys.argv[1:4]
frac_train = float(sys.argv[4]) if len(sys.argv) > 4 else 0.8
frac_valid = float(sys.argv[5]) if len(sys.argv) > 5 else 0.1
with open(path, newline="") as f:
    rows = [r[col] for r in csv.DictReader(f)]
ids = []  # (data row, mol) of the parsed molecules, in order
for i, s in enumerate(rows):
    m = Chem.MolFromSmiles(s) if s.strip() else None
    if m is not None and m.GetNumAtoms() > 0:
        ids.append((i, m))
scaffolds = {}
for ind, (_, mol) in enumerate(ids):
    scaffold = MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)
    scaffolds.setdefault(scaffold, []).append(ind)
scaffolds = {k: sorted(v) for k, v in scaffolds.items()}
scaffold_sets = [s for (_, s) in sorted(scaffolds.items(), key=lambda x: (len(x[1]), x[1][0]), reverse=True)]
train_cutoff = frac_train * len(ids)
valid_cutoff = (frac_train + frac_valid) * len(ids)
train, valid, test = [], [], []
for s in scaffold_sets:
    if len(train) + len(s) > train_cutoff:
        if len(train) + len(valid) + len(s) > valid_cutoff:
            test += s
        else:
            valid += s
    else:
        train += s
part = {}
for name, inds in (("train", train), ("valid", valid), ("test", test)):
    for k in inds:
        part[ids[k][0]] = name
with open(out, "w") as f:
    f.write("row,split\n")
    for r in sorted(part):
        f.write(f"{r},{part[r]}\n")
