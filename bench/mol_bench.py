#!/usr/bin/env python3
"""The python3-rdkit / python3-torch side of bench/run_mol_bench.sh (reference only).
  mol_bench.py featurize CSV COL: the same per-molecule work as mol_bench featurize, one process.
  mol_bench.py train CSV COL EPOCHS: the same D-MPNN (Chemprop v1 layout: W_i, W_h without bias,
    W_o, two-layer head; hidden 300, depth 3, batch 50, Adam, masked BCE), graphs featurised first
    (untimed); the timed part is the epochs with a validation pass on 10 % each epoch."""
import csv, json, sys, time

from rdkit import Chem, RDLogger
from rdkit.Chem import AllChem, rdMolDescriptors

RDLogger.DisableLog("rdApp.*")
mode, path, col = sys.argv[1:4]
with open(path, newline="") as f:
    rows = list(csv.DictReader(f))
smiles = [r[col] for r in rows]
props = rdMolDescriptors.Properties()


def onehot(v, choices):
    out = [0.0] * (len(choices) + 1)
    out[choices.index(v) if v in choices else len(choices)] = 1.0
    return out


HYB = [Chem.rdchem.HybridizationType.SP, Chem.rdchem.HybridizationType.SP2, Chem.rdchem.HybridizationType.SP3,
       Chem.rdchem.HybridizationType.SP3D, Chem.rdchem.HybridizationType.SP3D2]


def graph(m):
    atoms = [onehot(a.GetAtomicNum(), list(range(1, 101))) + onehot(a.GetDegree(), [0, 1, 2, 3, 4, 5]) +
             onehot(a.GetFormalCharge(), [-1, -2, 1, 2, 0]) + onehot(int(a.GetChiralTag()), [0, 1, 2, 3]) +
             onehot(a.GetTotalNumHs(), [0, 1, 2, 3, 4]) + onehot(a.GetHybridization(), HYB) +
             [1.0 if a.GetIsAromatic() else 0.0, a.GetMass() * 0.01] for a in m.GetAtoms()]
    src, dst, bf = [], [], []
    for b in m.GetBonds():
        bt = b.GetBondType()
        f = [float(bt == t) for t in (Chem.rdchem.BondType.SINGLE, Chem.rdchem.BondType.DOUBLE,
                                      Chem.rdchem.BondType.TRIPLE, Chem.rdchem.BondType.AROMATIC)]
        f += [float(b.GetIsConjugated()), float(b.IsInRing())] + onehot(int(b.GetStereo()), [0, 1, 2, 3, 4, 5])
        u, v = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
        src += [u, v]; dst += [v, u]; bf += [f, f]
    return atoms, src, dst, bf


if mode == "featurize":
    t0 = time.perf_counter()
    for s in smiles:
        m = Chem.MolFromSmiles(s)
        if m is None:
            continue
        Chem.MolToSmiles(m)
        AllChem.GetMorganFingerprintAsBitVect(m, 2, nBits=2048)
        list(props.ComputeProperties(m))
        graph(m)
    print(json.dumps({"molecules": len(smiles), "seconds": time.perf_counter() - t0}))
    sys.exit(0)

import torch  # noqa: E402

torch.set_num_threads(int(sys.argv[5]) if len(sys.argv) > 5 else 2)
torch.manual_seed(1)
epochs = int(sys.argv[4])
tasks = [c for c in rows[0].keys() if c != col and all((r[c] == "" or r[c].replace(".", "", 1).lstrip("-").isdigit()) for r in rows)]
data = []
for r in rows:
    m = Chem.MolFromSmiles(r[col])
    if m is None:
        continue
    y = [float(r[t]) if r[t] != "" else float("nan") for t in tasks]
    data.append((graph(m), y))
n_val = len(data) // 10
val, fit = data[:n_val], data[n_val:]
H = 300


class DMPNN(torch.nn.Module):
    def __init__(s):
        super().__init__()
        s.w_i = torch.nn.Linear(133 + 13, H, bias=False); s.w_h = torch.nn.Linear(H, H, bias=False)
        s.w_o = torch.nn.Linear(133 + H, H); s.f1 = torch.nn.Linear(H, H); s.f2 = torch.nn.Linear(H, len(tasks))

    def forward(s, atoms, bonds, src, dst, mol, n):
        A = atoms.shape[0]
        h0 = torch.relu(s.w_i(torch.cat([atoms[src], bonds], 1)))
        rev = torch.arange(bonds.shape[0]) ^ 1
        h = h0
        for _ in range(2):
            a = torch.zeros(A, H).index_add_(0, dst, h)
            h = torch.relu(h0 + s.w_h(a[src] - h[rev]))
        a = torch.zeros(A, H).index_add_(0, dst, h)
        ah = torch.relu(s.w_o(torch.cat([atoms, a], 1)))
        mv = torch.zeros(n, H).index_add_(0, mol, ah) / torch.bincount(mol, minlength=n).clamp(min=1).unsqueeze(1)
        return s.f2(torch.relu(s.f1(mv)))


def batch(items):
    atoms, bonds, src, dst, mol, ys, off = [], [], [], [], [], [], 0
    for k, ((a, s_, d_, b), y) in enumerate(items):
        atoms += a; bonds += b; src += [off + i for i in s_]; dst += [off + i for i in d_]; mol += [k] * len(a)
        off += len(a); ys.append(y)
    bt = torch.tensor(bonds, dtype=torch.float32) if bonds else torch.zeros(0, 13)
    return (torch.tensor(atoms), bt, torch.tensor(src, dtype=torch.long), torch.tensor(dst, dtype=torch.long),
            torch.tensor(mol, dtype=torch.long), len(items)), torch.tensor(ys)


net = DMPNN()
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
t0 = time.perf_counter()
for ep in range(epochs):
    net.train()
    perm = torch.randperm(len(fit)).tolist()
    for b in range(0, len(fit), 50):
        x, y = batch([fit[i] for i in perm[b:b + 50]])
        out = net(*x)
        mask = ~torch.isnan(y)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(out[mask], y[mask])
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0); opt.step()
    net.eval()
    with torch.no_grad():
        for b in range(0, len(val), 256):
            net(*batch(val[b:b + 256])[0])
print(json.dumps({"molecules": len(fit), "epochs": epochs, "seconds": time.perf_counter() - t0}))
