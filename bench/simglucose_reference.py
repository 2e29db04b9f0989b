#!/usr/bin/python3
"""Reference side of the glucose benchmarks: the UVA/Padova patient as simglucose (MIT,
Jinyu Xie) implements it, transcribed for this benchmark because simglucose itself is not a
Debian package: the same 13 equations, the same 5 g/min meal announcement, and, as simglucose
does, scipy's `ode(...).set_integrator("dopri5")` advanced one minute per step.

  simglucose_reference.py speed PARAMS_CSV DAYS [pandas]
      patient-days per second of the patient model alone (every patient of the table, 24 h
      each, the same meals and boluses as bench/glucose_bench.cpp); prints JSON. With `pandas`
      the parameters are a pandas Series, as simglucose passes them (its real per-call cost).
  simglucose_reference.py trajectory PARAMS_CSV NAME SCHEDULE_CSV MINUTES [RTOL]
      BG per minute (rows minute,bg_mgdl) for a schedule minute,carbs_g,insulin_u_per_min.
"""
import csv
import json
import math
import sys
import time

import numpy as np
from scipy.integrate import ode


def read_params(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    table = {}
    for r in rows:
        p = {k.replace(" ", ""): v for k, v in r.items()}
        name = p.pop("Name")
        vals = {k: float(v) for k, v in p.items() if k != "i"}
        vals["x0"] = [vals["x0_%d" % i] for i in range(1, 14)]
        table[name] = vals
    return table


def derivative(t, x, cho, insulin_u, p, last_qsto, last_foodtaken):
    dx = np.zeros(13)
    d = cho * 1000.0
    insulin = insulin_u * 6000.0 / p["BW"]
    qsto = x[0] + x[1]
    dbar = last_qsto + last_foodtaken * 1000.0  # simglucose issue #41: food taken in g -> mg
    dx[0] = -p["kmax"] * x[0] + d
    if dbar > 0:
        aa = 5.0 / (2.0 * dbar * (1.0 - p["b"]))
        cc = 5.0 / (2.0 * dbar * p["d"])
        kgut = p["kmin"] + (p["kmax"] - p["kmin"]) / 2.0 * (
            math.tanh(aa * (qsto - p["b"] * dbar)) - math.tanh(cc * (qsto - p["d"] * dbar)) + 2.0)
    else:
        kgut = p["kmax"]
    dx[1] = p["kmax"] * x[0] - x[1] * kgut
    dx[2] = kgut * x[1] - p["kabs"] * x[2]
    ra = p["f"] * p["kabs"] * x[2] / p["BW"]
    egp = p["kp1"] - p["kp2"] * x[3] - p["kp3"] * x[8]
    et = p["ke1"] * (x[3] - p["ke2"]) if x[3] > p["ke2"] else 0.0
    dx[3] = max(egp, 0.0) + ra - p["Fsnc"] - et - p["k1"] * x[3] + p["k2"] * x[4]
    dx[3] = dx[3] if x[3] >= 0 else 0.0
    uid = (p["Vm0"] + p["Vmx"] * x[6]) * x[4] / (p["Km0"] + x[4])
    dx[4] = -uid + p["k1"] * x[3] - p["k2"] * x[4]
    dx[4] = dx[4] if x[4] >= 0 else 0.0
    dx[5] = -(p["m2"] + p["m4"]) * x[5] + p["m1"] * x[9] + p["ka1"] * x[10] + p["ka2"] * x[11]
    it = x[5] / p["Vi"]
    dx[5] = dx[5] if x[5] >= 0 else 0.0
    dx[6] = -p["p2u"] * x[6] + p["p2u"] * (it - p["Ib"])
    dx[7] = -p["ki"] * (x[7] - it)
    dx[8] = -p["ki"] * (x[8] - x[7])
    dx[9] = -(p["m1"] + p["m30"]) * x[9] + p["m2"] * x[5]
    dx[9] = dx[9] if x[9] >= 0 else 0.0
    dx[10] = insulin - (p["ka1"] + p["kd"]) * x[10]
    dx[10] = dx[10] if x[10] >= 0 else 0.0
    dx[11] = p["kd"] * x[10] - p["ka2"] * x[11]
    dx[11] = dx[11] if x[11] >= 0 else 0.0
    dx[12] = -p["ksc"] * x[12] + p["ksc"] * x[3]
    dx[12] = dx[12] if x[12] >= 0 else 0.0
    return dx


class Patient:
    EAT_RATE = 5.0

    def __init__(self, p, rtol=None, as_series=False):
        self.p = p
        if as_series:
            import pandas as pd
            self.p = pd.Series({k: v for k, v in p.items() if k != "x0"})
        self.solver = ode(derivative).set_integrator("dopri5", **({} if rtol is None else {"rtol": rtol, "atol": rtol}))
        self.solver.set_initial_value(np.array(p["x0"]), 0.0)
        self.planned = 0.0
        self.last_cho = 0.0
        self.last_qsto = p["x0"][0] + p["x0"][1]
        self.last_foodtaken = 0.0

    def step(self, announced, insulin):
        self.planned += announced
        cho = min(self.EAT_RATE, self.planned) if self.planned > 0 else 0.0
        self.planned = max(0.0, self.planned - cho)
        if cho > 0 and self.last_cho <= 0:
            self.last_qsto = self.solver.y[0] + self.solver.y[1]
            self.last_foodtaken = 0.0
        if cho > 0:
            self.last_foodtaken += cho
        self.last_cho = cho
        self.solver.set_f_params(cho, insulin, self.p, self.last_qsto, self.last_foodtaken)
        self.solver.integrate(self.solver.t + 1)

    def bg(self):
        return self.solver.y[12] / self.p["Vg"]


def speed(params_csv, days, as_series=False):
    table = read_params(params_csv)
    t0 = time.perf_counter()
    total = 0.0
    for name, p in table.items():
        pt = Patient(p, None, as_series)
        basal = p["u2ss"] * p["BW"] / 6000.0
        for minute in range(days * 1440):
            tod = minute % 1440
            carbs = 45 if tod == 420 else 70 if tod == 720 else 80 if tod == 1140 else 0
            pt.step(carbs, basal + (carbs / 15.0 if carbs else 0.0))
            total += pt.bg()
    s = time.perf_counter() - t0
    pd = len(table) * days
    print(json.dumps({"pandas_params": as_series, "patient_days": pd, "seconds": s, "patient_days_per_s": pd / s, "ms_per_patient_day": 1000 * s / pd,
                      "mean_bg": total / (pd * 1440)}))


def trajectory(params_csv, name, schedule_csv, minutes, rtol):
    p = read_params(params_csv)[name]
    sched = {}
    with open(schedule_csv, newline="") as f:
        for r in csv.DictReader(f):
            sched[int(float(r["minute"]))] = (float(r["carbs_g"]), float(r["insulin_u_per_min"]))
    pt = Patient(p, rtol)
    out = ["minute,bg_mgdl", "0,%.9f" % pt.bg()]
    for m in range(minutes):
        c, i = sched.get(m, (0.0, 0.0))
        pt.step(c, i)
        out.append("%d,%.9f" % (m + 1, pt.bg()))
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "speed":
        speed(sys.argv[2], int(sys.argv[3]), len(sys.argv) > 4 and sys.argv[4] == "pandas")
    elif len(sys.argv) >= 6 and sys.argv[1] == "trajectory":
        trajectory(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6]) if len(sys.argv) > 6 else None)
    else:
        sys.exit(__doc__)
