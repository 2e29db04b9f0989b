#!/usr/bin/python3
"""same_seed_compare.py A B: every number in the CSV and JSON outputs of two same-seed run sets, within 1e-5."""
import csv, json, os, sys, math
IGNORE = ("seconds", "created", "sha256", "version", "elapsed", "out", "path", "date", "time_s", "per_s",
          "duration", "torch", "software", "hash", "fingerprint_time", "run_folder", "threads", "commit")
TOL = 1e-5
stats = {"numbers": 0, "strings": 0, "max_abs": 0.0, "max_rel": 0.0, "bad": [], "schema": []}
def ignored(key): return any(k in key.lower() for k in IGNORE)
def num(x):
    try: return float(x)
    except (TypeError, ValueError): return None
def cmp(key, a, b):
    if ignored(key): return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b: stats["schema"].append(f"{key}.{k}: only in {'B' if k not in a else 'A'}"); continue
            cmp(f"{key}.{k}", a[k], b[k])
        return
    if isinstance(a, (dict, list)) != isinstance(b, (dict, list)) or isinstance(a, dict) != isinstance(b, dict):
        stats["schema"].append(f"{key}: {type(a).__name__} vs {type(b).__name__}"); return
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b): stats["bad"].append(f"{key}: length {len(a)} vs {len(b)}"); return
        for i, (x, y) in enumerate(zip(a, b)): cmp(f"{key}[{i}]", x, y)
        return
    fa, fb = num(a), num(b)
    if isinstance(a, bool) or fa is None or fb is None:
        stats["strings"] += 1
        if a != b: stats["bad"].append(f"{key}: {a!r} vs {b!r}")
        return
    stats["numbers"] += 1
    if math.isnan(fa) and math.isnan(fb): return
    d = abs(fa - fb); r = d / max(abs(fa), abs(fb), 1e-12)
    stats["max_abs"] = max(stats["max_abs"], d); stats["max_rel"] = max(stats["max_rel"], r)
    if d > TOL and r > TOL: stats["bad"].append(f"{key}: {fa} vs {fb}")
def load(p):
    if p.endswith(".json"):
        with open(p) as f: return json.load(f)
    with open(p) as f: return list(csv.DictReader(f))
A, B = sys.argv[1], sys.argv[2]
files = 0
for root, _, names in os.walk(A):
    for n in sorted(names):
        if not (n.endswith(".csv") or n.endswith(".json")) or n == "train_state.json": continue
        pa = os.path.join(root, n); rel = os.path.relpath(pa, A); pb = os.path.join(B, rel)
        if not os.path.exists(pb): stats["bad"].append(f"{rel}: missing in B"); continue
        files += 1; cmp(rel, load(pa), load(pb))
print(f"{files} files, {stats['numbers']} numbers, {stats['strings']} strings compared; "
      f"max |diff| {stats['max_abs']:.3g}, max relative {stats['max_rel']:.3g}; {len(stats['bad'])} beyond 1e-5")
for b in stats["bad"][:40]: print("  ", b)
if stats["schema"]:
    print(f"{len(stats['schema'])} schema differences (fields added, removed or retyped; not compared):")
    for b in stats["schema"][:60]: print("  ", b)
sys.exit(1 if stats["bad"] else 0)
