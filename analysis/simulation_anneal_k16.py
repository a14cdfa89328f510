"""Supplement to the 3(c) sweep: K_max = 16 in d = 2 (Gaussian), where the linear theory
predicts a clear annealing win (Euler-stepped: annealed 26.5 vs best fixed 54.0).

Same protocol as :func:`analysis.simulation_anneal.compare_schedules` (iid particles, displaced
iid target, amplitude 0.3 per mode, minimum-image kernel, s0 = 0.154, eps = 0.1, t_max = 60),
seeds 0, 1, 2, at N = M in {1024, 4096}. Usage::

    OMP_NUM_THREADS=1 python -m analysis.simulation_anneal_k16     # ~8 min on one core

Writes ``analysis/results/simulation_anneal_sweep/k16_d2.json`` (atomically; no wall-clock times).
"""

from __future__ import annotations

from pathlib import Path

from analysis.simulation_anneal import compare_schedules
from driftlab.io import without_timings, write_json

OUT = Path(__file__).resolve().parent / "results" / "simulation_anneal_sweep" / "k16_d2.json"


def run(ns=(1024, 4096), seeds=(0, 1, 2)) -> list[dict]:
    rows = []
    for n in ns:
        for seed in seeds:
            for r in compare_schedules([16], dim=2, kernel="gaussian", n=n, eps=0.1, amp=0.3, t_max=60.0, s0=0.154,
                                       seed=seed):
                rows.append(dict(without_timings(r), seed=seed))
    return rows


if __name__ == "__main__":
    rows = run()
    write_json(OUT, {"rows": rows})
    for r in rows:
        print(r["n"], r["seed"], f"{r['schedule']:10s}", "measured", r["T_measured"], "euler", r["T_theory_euler"])
