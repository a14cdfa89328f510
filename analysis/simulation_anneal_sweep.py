r"""Experiment 3b/3c sweep: annealing vs the best fixed bandwidth, 1-D (both kernels) and d = 2..8 at finite N.

Two parts, both resumable (every finished run is one JSON file written atomically; a restart
skips the files already there) and deterministic (fixed seeds, one torch thread; the run
files carry no wall-clock time, which goes to ``timings.csv`` only):

* ``1d`` (experiment 3b): :func:`analysis.simulation_anneal.compare_schedules` on the 1-D
  torus, stratified particles/target (no Monte Carlo noise), Gaussian and Laplace, geometric
  ladder K_max = 1..32, eps = 0.1, N = M = 2048, float64. One file per (kernel, K_max).
* ``dd`` (experiment 3c): d in {2, 3, 4, 8}, K_max in {2, 4, 8} (ladder 1, 2, ..., K_max, mode
  j along axis j mod d), N = M in {1024, 4096} (4096 not at d = 3: ``DD_GRID['skip']``, time
  budget), Gaussian and Laplace, seeds {0, 1, 2}; iid
  uniform particles, displaced iid target (amplitude 0.3 per mode), minimum-image kernel,
  float32, eta = 0.5, t_max = 24. Per group (kernel, d, N):

  1. *phase A*: best-fixed-bandwidth runs for every (K_max, seed), run to t_max without
     early stopping; the late plateau of the mode errors (median over the last third of the
     records, :func:`~analysis.simulation_anneal.noise_floor`) is the finite-N noise floor.
  2. eps for the group = smallest value of
     :data:`~analysis.simulation_anneal.EPS_GRID` >= max(0.1, 2 x the relative floor)
     (max over K_max of the median over seeds): the factor 2 keeps the first crossing decided
     by the decay rather than by the floor's fluctuations.
  3. *phase B*: annealed runs (s0 exp(-r t), r = 0.5 x admissible rate) and the coarse fixed
     s0 (only where its Euler-stepped prediction is below t_max), stopped at eps. The
     best-fixed time is read off the phase A records with the same criterion.

Diagnostics (each writes a JSON next to the results): :func:`amplitude_check_1d`,
:func:`amplitude_check_dd` (finite amplitude vs finite N), :func:`collapse_check` (particles
snapping onto target samples). Results, commands and the verdict table:
``analysis/results/simulation_anneal_sweep/README.md``.

``summarize`` aggregates the run files into ``cells_1d.csv``, ``cells_dd.csv`` (one row per
(kernel, d, N, K_max, schedule): median / min / max time over seeds, fraction of seeds that
reached eps by t_max, Euler-stepped and continuous predictions, floor) and ``verdicts.csv``
(one row per (kernel, d, N)).

Command line::

    OMP_NUM_THREADS=1 python -m analysis.simulation_anneal_sweep run [--part 1d|dd|all] [--only-n 1024]
    python -m analysis.simulation_anneal_sweep summarize
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from analysis.simulation_anneal import (
    EPS_GRID,
    _kvecs,
    _run,
    choose_eps,
    compare_schedules,
    convergence_time_measured,
    default_s0,
    displaced_target,
    euler_time,
    ladder,
    noise_floor,
)

RESULTS = Path(__file__).resolve().parent / "results" / "simulation_anneal_sweep"

#: The 3(c) grid, in priority order (a pruned run finishes the earlier groups first).
DD_GRID = {
    "kernels": ("gaussian", "laplace"),
    "dims": (2, 8, 4, 3),
    "ns": (1024, 4096),
    "k_maxes": (2, 4, 8),
    "seeds": (0, 1, 2),
    "eta": 0.5,
    "t_max": 24.0,
    "amp": 0.3,
    "r_frac": 0.5,
    "eps_base": 0.1,
    "margin": 2.0,
    "dtype": "float32",
    # pruned to keep the sweep under ~45 min on one core (measured: ~4 min per (kernel, d = 2)
    # group and ~8 min per (kernel, d = 8) group at N = 4096; N = 16384 would be 16x that)
    "skip": ((3, 4096),),
}
ONED_GRID = {"kernels": ("gaussian", "laplace"), "k_maxes": (1, 2, 4, 8, 16, 32), "n": 2048, "eps": 0.1,
             "t_max": 60.0, "eta": 0.5, "r_frac": 0.5,
             # (kernel, K_max, t_max): longer runs so that the coarse fixed bandwidth's polynomial
             # (Laplace) penalty is measured one octave further (predicted 75.5 > 60)
             "extra": (("laplace", 8, 100.0),)}

SCHEDULES = ("fixed_s0", "best_fixed", "annealed")


def _write_run(path: Path, payload: dict, timing: float, timings_file: Path | None) -> None:
    from driftlab.io import write_json

    write_json(path, payload)
    if timings_file is not None:
        with open(timings_file, "a") as fh:  # diagnostics only (not part of the deterministic outputs)
            fh.write(f"{path.name},{timing:.3f}\n")


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


# ----------------------------------------------------------------------------------------------
# 1-D (3b)


def run_1d(out: Path = RESULTS, grid: dict = ONED_GRID, progress: bool = True) -> list[Path]:
    """One file per (kernel, K_max) with compare_schedules' three rows; skips existing files.
    The folder has one writer at a time (``driftlab.io.RunFolderBusy`` while another run holds it)."""
    from driftlab.io import RunDirectory

    with RunDirectory(out):
        return _run_1d(Path(out), grid, progress)


def _run_1d(out: Path, grid: dict, progress: bool) -> list[Path]:
    (out / "runs_1d").mkdir(parents=True, exist_ok=True)
    amp = 0.5 / len(ladder(max(grid["k_maxes"])))
    todo = [(k, K) for k in grid["kernels"] for K in grid["k_maxes"]]
    from tqdm.auto import tqdm

    paths = []
    for kern, K in tqdm(todo, desc="1-D cells", disable=not progress):
        path = out / "runs_1d" / f"{kern}_K{K}.json"
        paths.append(path)
        if path.exists():
            continue
        t0 = time.perf_counter()
        rows = compare_schedules([K], dim=1, kernel=kern, n=grid["n"], eps=grid["eps"], amp=amp, eta=grid["eta"],
                                 r_frac=grid["r_frac"], t_max=grid["t_max"])
        for r in rows:
            r.pop("seconds", None)
        _write_run(path, {"kernel": kern, "K_max": K, "amp": amp, "rows": rows}, time.perf_counter() - t0,
                   out / "timings.csv")
    for kern, K, t_max in grid.get("extra", ()):
        path = out / "runs_1d_extra" / f"{kern}_K{K}_tmax{t_max:g}.json"
        paths.append(path)
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        rows = compare_schedules([K], dim=1, kernel=kern, n=grid["n"], eps=grid["eps"], amp=amp, eta=grid["eta"],
                                 r_frac=grid["r_frac"], t_max=t_max)
        for r in rows:
            r.pop("seconds", None)
        _write_run(path, {"kernel": kern, "K_max": K, "amp": amp, "rows": rows}, time.perf_counter() - t0,
                   out / "timings.csv")
    return paths


# ----------------------------------------------------------------------------------------------
# d-dimensional, finite N (3c)


def _problem(kernel: str, dim: int, n: int, K: int, seed: int, grid: dict):
    modes = ladder(K)
    kv_int = _kvecs(modes, dim).astype(int)
    rng = np.random.default_rng([seed, dim, n, K])  # same particles/target for both kernels
    y = displaced_target(n, dim, 2 * np.pi * kv_int, grid["amp"], rng)
    x = rng.uniform(0, 1, size=(n, dim))
    kmods = 2 * np.pi * np.asarray(modes, dtype=float)
    return x, y, kv_int, kmods


def _schedules(kernel: str, dim: int, K: int, eps: float, grid: dict) -> dict:
    from driftlab.kernels import make_kernel
    from driftlab.spectral.schedules import ConstantSchedule, ExponentialSchedule
    from driftlab.spectral.timescales import admissible_rate, best_fixed_bandwidth

    kern = make_kernel(kernel, 1.0)
    s0 = default_s0(kernel, dim, 2 * math.pi, wrap="minimum_image")
    kmods = 2 * np.pi * np.asarray(ladder(K), dtype=float)
    s_best, _ = best_fixed_bandwidth(kern, kmods, dim)
    r = grid["r_frac"] * admissible_rate(kern, [2 * math.pi], eps, s0, dim)
    return {
        "fixed_s0": ({"scale": s0}, ConstantSchedule(s0), 0.0),
        "best_fixed": ({"scale": s_best}, ConstantSchedule(s_best), 0.0),
        "annealed": ({"scale": s0, "schedule": "exponential", "rate": r, "s_min": 0.0}, ExponentialSchedule(s0, r), r),
    }


def _predictions(kernel: str, dim: int, kmods, eps: float, sched, grid: dict) -> tuple[float, float]:
    from driftlab.kernels import make_kernel
    from driftlab.spectral.timescales import convergence_time

    kern = make_kernel(kernel, 1.0)
    return (convergence_time(kern, kmods, eps, sched, dim),
            euler_time(kern, kmods, eps, sched, grid["eta"], dim, grid["t_max"]))


def _run_dd(kernel, dim, n, K, seed, schedule, eps, grid, early_stop):
    x, y, kv_int, _ = _problem(kernel, dim, n, K, seed, grid)
    eps_s = grid["eps_base"] if eps is None else eps  # (the best-fixed schedule does not depend on eps)
    kw, _, r = _schedules(kernel, dim, K, eps_s, grid)[schedule]
    _, res = _run(kernel, kw, x, y, kv_int, dim, grid["eta"], grid["t_max"], "minimum_image", "torch", eps_s,
                  dtype=grid["dtype"], early_stop=early_stop, seed=seed)
    amps = [[float(rec[f"mode{j}_abs"]) for j in range(len(kv_int))] for rec in res.records]
    payload = {"kernel": kernel, "dim": dim, "n": n, "K_max": K, "seed": seed, "schedule": schedule,
               "s0": kw["scale"], "r": r, "eta": grid["eta"], "t_max": grid["t_max"], "dtype": grid["dtype"],
               "amp": grid["amp"], "early_stop_eps": eps if early_stop else None,
               "t": [float(v) for v in res.column("t")], "mode_abs": amps}
    return payload, res.info["elapsed_s"]


def _run_path(out: Path, kernel, dim, n, K, seed, schedule) -> Path:
    return out / "runs_dd" / f"{kernel}_d{dim}_n{n}_K{K}_s{seed}_{schedule}.json"


def group_eps(out: Path, kernel: str, dim: int, n: int, grid: dict = DD_GRID) -> dict:
    """Noise floor of a (kernel, d, N) group from its phase-A files, and the eps chosen from it."""
    floors, any_run = {}, False
    for K in grid["k_maxes"]:
        per_seed = []
        for seed in grid["seeds"]:
            p = _run_path(out, kernel, dim, n, K, seed, "best_fixed")
            if p.exists():
                any_run = True
                f = _floor_of(_load(p))
                if f["counted"]:
                    per_seed.append(f)
        if per_seed:
            floors[K] = {"rel": float(np.median([f["rel"] for f in per_seed])),
                         "abs": float(np.median([f["abs"] for f in per_seed])),
                         "counted": " ".join(str(ladder(K)[j]) for j in per_seed[0]["counted"])}
    if not any_run:
        raise FileNotFoundError(f"no phase-A runs for {kernel} d={dim} N={n}")
    if not floors:  # no mode finished its linear decay in the late window (t_max too short): no floor
        rel, fabs = math.nan, math.nan
        eps, limited = choose_eps(0.0, grid["eps_base"], grid["margin"], EPS_GRID)
    else:
        rel, fabs = max(f["rel"] for f in floors.values()), max(f["abs"] for f in floors.values())
        eps, limited = choose_eps(rel, grid["eps_base"], grid["margin"], EPS_GRID)
    return {"floor_rel": rel, "floor_abs": fabs, "floors": floors, "eps": eps, "floor_measured": bool(floors),
            "floor_limited": limited, "reference_sqrt_2_over_n": math.sqrt(2.0 / n)}


class _Rec:
    """Adapter so the stored traces go through the same helpers as a SimulationResult."""

    def __init__(self, payload):
        self.records = [{"t": t, **{f"mode{j}_abs": a for j, a in enumerate(amps)}}
                        for t, amps in zip(payload["t"], payload["mode_abs"])]

    def column(self, name):
        return np.array([r[name] for r in self.records], dtype=np.float64)


def _floor_of(payload) -> dict:
    """Noise floor of one best-fixed run, counting only modes whose Euler-stepped linear decay
    is complete (relative amplitude <= 0.05) at the start of the late window."""
    from driftlab.kernels import make_kernel
    from driftlab.spectral import rate_at_scale

    rec = _Rec(payload)
    n_modes = len(payload["mode_abs"][0])
    n_late = max(1, (math.ceil(len(rec.records) / 3)))
    t_start = rec.records[-n_late]["t"]
    kmods = 2 * np.pi * np.asarray(ladder(payload["K_max"]), dtype=float)
    lam = rate_at_scale(make_kernel(payload["kernel"], 1.0), kmods, payload["s0"], payload["dim"])
    steps = round(t_start / payload["eta"])
    pred = np.abs(1 - payload["eta"] * lam) ** steps
    return noise_floor(rec, n_modes, predicted_rel=pred)


def _time_of(payload, eps) -> float:
    return convergence_time_measured(_Rec(payload), len(payload["mode_abs"][0]), eps)


def dd_tasks(grid: dict = DD_GRID, only_n=None, only_dims=None, only_kernels=None):
    """(kernel, d, N) groups in priority order: all N = 1024 groups first, then the larger N."""
    out = []
    for n in grid["ns"]:
        if only_n and n not in only_n:
            continue
        for d in grid["dims"]:
            if only_dims and d not in only_dims:
                continue
            if (d, n) in tuple(tuple(v) for v in grid.get("skip", ())):
                continue
            for kern in grid["kernels"]:
                if only_kernels and kern not in only_kernels:
                    continue
                out.append((kern, d, n))
    return out


def run_dd(out: Path = RESULTS, grid: dict = DD_GRID, groups=None, progress: bool = True) -> None:
    """Phase A then phase B for every group; existing run files are skipped. The folder has one
    writer at a time (``driftlab.io.RunFolderBusy`` while another run holds it)."""
    from driftlab.io import RunDirectory

    with RunDirectory(out):
        _run_dd_groups(Path(out), grid, groups, progress)


def _run_dd_groups(out: Path, grid: dict, groups, progress: bool) -> None:
    (out / "runs_dd").mkdir(parents=True, exist_ok=True)
    from tqdm.auto import tqdm

    groups = dd_tasks(grid) if groups is None else groups
    timings = out / "timings.csv"
    for kern, d, n in tqdm(groups, desc="groups (kernel, d, N)", disable=not progress):
        todo = [(K, s) for K in grid["k_maxes"] for s in grid["seeds"]]
        for K, seed in tqdm(todo, desc=f"{kern} d={d} N={n} phase A", leave=False, disable=not progress):
            p = _run_path(out, kern, d, n, K, seed, "best_fixed")
            if not p.exists():
                payload, secs = _run_dd(kern, d, n, K, seed, "best_fixed", None, grid, early_stop=False)
                _write_run(p, payload, secs, timings)
        ge = group_eps(out, kern, d, n, grid)
        for K, seed in tqdm(todo, desc=f"{kern} d={d} N={n} phase B (eps={ge['eps']})", leave=False,
                            disable=not progress):
            kmods = 2 * np.pi * np.asarray(ladder(K), dtype=float)
            for name in ("annealed", "fixed_s0"):
                p = _run_path(out, kern, d, n, K, seed, name)
                if p.exists() and _load(p).get("early_stop_eps") == ge["eps"]:
                    continue
                sch = _schedules(kern, d, K, ge["eps"], grid)[name][1]
                if name == "fixed_s0" and not (_predictions(kern, d, kmods, ge["eps"], sch, grid)[1] < grid["t_max"]):
                    if p.exists():  # left over from an earlier eps choice
                        p.unlink()
                    continue  # predicted beyond the cap: not simulated (recorded as such in the summary)
                payload, secs = _run_dd(kern, d, n, K, seed, name, ge["eps"], grid, early_stop=True)
                _write_run(p, payload, secs, timings)


# ----------------------------------------------------------------------------------------------
# summary


def summarize(out: Path = RESULTS, grid: dict = DD_GRID) -> dict:
    """Aggregate the run files into cells_1d.csv, cells_dd.csv, verdicts.csv and summary.json."""
    from driftlab.io import write_csv, write_json

    out = Path(out)
    rows1 = []
    for p in sorted((out / "runs_1d").glob("*.json")) if (out / "runs_1d").exists() else []:
        rows1 += _load(p)["rows"]
    rows1.sort(key=lambda r: (r["kernel"], r["K_max"], SCHEDULES.index(r["schedule"])))
    extra = []
    for p in sorted((out / "runs_1d_extra").glob("*.json")) if (out / "runs_1d_extra").exists() else []:
        extra += _load(p)["rows"]
    cells, verdicts, floors = [], [], []
    for kern, d, n in dd_tasks(grid):
        try:
            ge = group_eps(out, kern, d, n, grid)
        except FileNotFoundError:
            continue
        eps = ge["eps"]
        floors.append({"kernel": kern, "dim": d, "n": n, **{k: v for k, v in ge.items() if k != "floors"},
                       **{f"floor_rel_K{K}": f["rel"] for K, f in ge["floors"].items()},
                       **{f"floor_abs_K{K}": f["abs"] for K, f in ge["floors"].items()},
                       **{f"floor_modes_K{K}": f["counted"] for K, f in ge["floors"].items()}})
        group_cells = {}
        for K in grid["k_maxes"]:
            kmods = 2 * np.pi * np.asarray(ladder(K), dtype=float)
            for name in SCHEDULES:
                kw, sch, r = _schedules(kern, d, K, eps, grid)[name]
                th, th_e = _predictions(kern, d, kmods, eps, sch, grid)
                times, missing = [], 0
                for seed in grid["seeds"]:
                    p = _run_path(out, kern, d, n, K, seed, name)
                    pl = _load(p) if p.exists() else None
                    if pl is not None and pl.get("early_stop_eps") in (None, eps):
                        times.append(_time_of(pl, eps))
                    else:
                        missing += 1
                if not times and not (name == "fixed_s0" and not th_e < grid["t_max"]):
                    continue  # not run yet
                simulated = bool(times)
                tt = np.array(times, dtype=float) if times else np.array([math.inf])
                reached = np.isfinite(tt)
                row = {"kernel": kern, "dim": d, "n": n, "K_max": K, "schedule": name, "s": kw["scale"], "r": r,
                       "n_ball": n * math.pi ** (d / 2) / math.gamma(d / 2 + 1) * kw["scale"] ** d,
                       "eps": eps, "seeds": len(times), "simulated": simulated,
                       "frac_reached": float(reached.mean()) if simulated else 0.0,
                       "T_median": float(np.median(tt)) if simulated else math.inf,
                       "T_min": float(tt.min()) if simulated else math.inf,
                       "T_max_seed": float(tt.max()) if simulated else math.inf,
                       "T_theory": th, "T_theory_euler": th_e, "t_max": grid["t_max"],
                       "floor_rel": ge["floors"].get(K, {}).get("rel", math.nan) if name == "best_fixed" else math.nan}
                cells.append(row)
                group_cells[(K, name)] = row
        verdicts.append(_verdict(kern, d, n, eps, ge, group_cells, grid))
    fits = _fits_1d(rows1)
    payload = {"fits_1d": fits, "cells_1d_extra": extra, "grid_dd": {k: (list(v) if isinstance(v, tuple) else v) for k, v in grid.items()},
               "grid_1d": {k: (list(v) if isinstance(v, tuple) else v) for k, v in ONED_GRID.items()},
               "eps_grid": list(EPS_GRID), "cells_1d": rows1, "cells_dd": cells, "floors": floors,
               "verdicts": verdicts}
    payload = _sanitize(payload)
    write_json(out / "summary.json", payload)
    if rows1:
        write_csv(out / "cells_1d.csv", payload["cells_1d"])
        write_csv(out / "fits_1d.csv", payload["fits_1d"])
    if cells:
        write_csv(out / "cells_dd.csv", payload["cells_dd"])
        write_csv(out / "verdicts.csv", payload["verdicts"])
        write_csv(out / "floors.csv", payload["floors"])
    from driftlab.io import atomic_write_text

    atomic_write_text(out / "tables.md", tables_markdown(payload))
    return payload


def schedule_cells(by: dict, key: tuple, missing: str, fmt) -> list[str]:
    """Table cells "median [min, max] (fraction reached) | Euler-stepped" of the best fixed,
    annealed and fixed-s0 rows of one (kernel, d, N, K_max) ``key`` (``by``: key + schedule ->
    summary row; ``missing`` where a schedule has no row, ``fmt`` formats one number)."""
    cells = []
    for name in ("best_fixed", "annealed", "fixed_s0"):
        r = by.get((*key, name))
        if r is None:
            cells.append(missing)
        elif not r["simulated"]:
            cells.append(f"not run (Euler {fmt(r['T_theory_euler'])})")
        else:
            cells.append(f"{fmt(r['T_median'])} [{fmt(r['T_min'])}, {fmt(r['T_max_seed'])}] "
                         f"({r['frac_reached']:.2f}) \\| {fmt(r['T_theory_euler'])}")
    return cells


def _fmt(v, nd=1) -> str:
    if isinstance(v, str):
        return v
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float) and abs(v) >= 1e5:
        return f"{v:.1e}"
    return f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def tables_markdown(payload: dict) -> str:
    """Human tables of summary.json (1-D cells, d-dim cells, floors, verdicts)."""
    L = ["# Annealing sweep tables (generated by `python -m analysis.simulation_anneal_sweep summarize`)", ""]
    if payload["cells_1d"]:
        L += ["## 1-D (3b): time to eps = 0.1, N = M = 2048, stratified; meas / Euler-stepped / continuous", "",
              "| kernel | K_max | fixed s0 | best fixed (s) | annealed |", "|---|---|---|---|---|"]
        by = {(r["kernel"], r["K_max"], r["schedule"]): r for r in payload["cells_1d"]}
        for kern, K in sorted({(r["kernel"], r["K_max"]) for r in payload["cells_1d"]}):
            cells = []
            for name in SCHEDULES:
                r = by[(kern, K, name)]
                c = f"{_fmt(r['T_measured'])} / {_fmt(r['T_theory_euler'])} / {_fmt(r['T_theory'])}"
                if name == "best_fixed":
                    c += f" ({r['s0']:.3f})"
                cells.append(c)
            L.append(f"| {kern} | {K} | " + " | ".join(cells) + " |")
        for r in payload.get("cells_1d_extra", []):
            L.append(f"| {r['kernel']} (t_max {r['t_max']:g}) | {r['K_max']} | {r['schedule']}: "
                     f"{_fmt(r['T_measured'])} / {_fmt(r['T_theory_euler'])} / {_fmt(r['T_theory'])} | | |")
        L += ["", "Fits (driftlab.spectral.timescales.fit_law, K_max >= 2, finite times only):", "",
              "| kernel | schedule | times | law | slope | r2 | K range |", "|---|---|---|---|---|---|---|"]
        for f in payload["fits_1d"]:
            L.append(f"| {f['kernel']} | {f['schedule']} | {f['times']} | {f['law']} | {f['slope']:.3f} | "
                     f"{f['r2']:.4f} | {f['K_range']} |")
    if payload["cells_dd"]:
        L += ["", "## d-dim (3c): measured median [min, max] over seeds (fraction reached) | Euler-stepped", "",
              "| kernel | d | N | eps | K_max | best fixed | annealed | fixed s0 | n_ball(best s) |",
              "|---|---|---|---|---|---|---|---|---|"]
        by = {(r["kernel"], r["dim"], r["n"], r["K_max"], r["schedule"]): r for r in payload["cells_dd"]}
        for kern, d, n, K in sorted({(r["kernel"], r["dim"], r["n"], r["K_max"]) for r in payload["cells_dd"]}):
            cells = schedule_cells(by, (kern, d, n, K), "-", _fmt)
            b = by.get((kern, d, n, K, "best_fixed"))
            L.append(f"| {kern} | {d} | {n} | {b['eps'] if b else '-'} | {K} | " + " | ".join(cells)
                     + f" | {_fmt(b['n_ball'], 3) if b else '-'} |")
        L += ["", "## Noise floor and eps per (kernel, d, N)", "",
              "| kernel | d | N | floor rel (max K) | floor abs | sqrt(2/N) | floor/sqrt(2/N) | eps | floor-limited |",
              "|---|---|---|---|---|---|---|---|---|"]
        for f in payload["floors"]:
            L.append(f"| {f['kernel']} | {f['dim']} | {f['n']} | {f['floor_rel']:.4f} | {f['floor_abs']:.5f} | "
                     f"{f['reference_sqrt_2_over_n']:.4f} | {f['floor_abs'] / f['reference_sqrt_2_over_n']:.2f} | "
                     f"{f['eps']} | {f['floor_limited']} |")
        L += ["", "## Verdicts (annealed vs best fixed per K_max; Euler agreement = cells within eta + 25 %)", "",
              "| kernel | d | N | eps | per K_max | measured ~ Euler | n_ball(s0) | n_ball(best s, K=8) |",
              "|---|---|---|---|---|---|---|---|"]
        for v in payload["verdicts"]:
            L.append(f"| {v['kernel']} | {v['dim']} | {v['n']} | {v['eps']} | {v['per_K']} | {v['euler_agreement']} | "
                     f"{_fmt(v['n_ball_s0'], 3)} | {_fmt(v['n_ball_best_fixed_Kmax'], 3)} |")
    return "\n".join(L) + "\n"


def _fits_1d(rows1) -> list[dict]:
    """Asymptotic-law fits (driftlab.spectral.timescales.fit_law) of the 1-D times, K_max >= 2:
    fixed s0 -> 'exp-k2' (Gaussian) / 'power' (Laplace); best fixed -> 'power'; annealed -> 'log'."""
    from driftlab.spectral.timescales import fit_law

    laws = {("gaussian", "fixed_s0"): "exp-k2", ("laplace", "fixed_s0"): "power", ("gaussian", "best_fixed"): "power",
            ("laplace", "best_fixed"): "power", ("gaussian", "annealed"): "log", ("laplace", "annealed"): "log"}
    out = []
    for (kern, name), law in laws.items():
        rs = [r for r in rows1 if r["kernel"] == kern and r["schedule"] == name and r["K_max"] >= 2]
        for col in ("T_measured", "T_theory_euler", "T_theory"):
            pts = [(r["K_max"], float(r[col])) for r in rs if math.isfinite(float(r[col])) and float(r[col]) < 1e300]
            if len(pts) < 3:
                continue
            f = fit_law([p[0] for p in pts], [p[1] for p in pts], law)
            out.append({"kernel": kern, "schedule": name, "times": col, "law": law, "slope": f["slope"],
                        "r2": f["r2"], "K_range": f"{pts[0][0]}-{pts[-1][0]}", "n": f["n"]})
    return out


def _sanitize(obj):
    if isinstance(obj, dict):
        return {k: _sanitize(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_sanitize(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return "inf" if obj > 0 else ("-inf" if obj < 0 else "nan")
    if isinstance(obj, (float, np.floating)):
        return round(float(obj), 10)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _verdict(kern, d, n, eps, ge, cells, grid) -> dict:
    """Annealing vs best fixed per K_max, from the seed spreads.

    Per K_max: ``win`` if every annealed seed reached eps and the annealed worst seed beats the
    best-fixed best seed (or best fixed never reached eps); ``loss`` symmetrically;
    ``tie`` if both reached and the ranges overlap; ``neither`` if neither reached eps by t_max.
    Measured vs Euler: the median time within one Euler step + 25 % of the prediction.
    """
    per_k, follows = [], []
    for K in grid["k_maxes"]:
        a, b = cells.get((K, "annealed")), cells.get((K, "best_fixed"))
        if a is None or b is None:
            per_k.append(f"K{K}:missing")
            continue
        a_ok, b_ok = a["frac_reached"] == 1.0, b["frac_reached"] == 1.0
        if not a["frac_reached"] and not b["frac_reached"]:
            v = "neither"
        elif a_ok and (not b["frac_reached"] or a["T_max_seed"] < b["T_min"]):
            v = "win"
        elif b_ok and (not a["frac_reached"] or b["T_max_seed"] < a["T_min"]):
            v = "loss"
        else:
            v = "tie"
        per_k.append(f"K{K}:{v}")
        for c in (a, b):
            if c["frac_reached"] == 1.0 and math.isfinite(c["T_theory_euler"]):
                follows.append(abs(c["T_median"] - c["T_theory_euler"]) <= grid["eta"] + 0.25 * c["T_theory_euler"])
            elif math.isfinite(c["T_theory_euler"]):
                follows.append(False)
    kb = [cells[(K, "best_fixed")]["n_ball"] for K in grid["k_maxes"] if (K, "best_fixed") in cells]
    ka = [cells[(K, "annealed")]["n_ball"] for K in grid["k_maxes"] if (K, "annealed") in cells]
    return {"kernel": kern, "dim": d, "n": n, "eps": eps, "floor_rel": ge["floor_rel"],
            "n_ball_s0": ka[0] if ka else math.nan, "n_ball_best_fixed_Kmax": kb[-1] if kb else math.nan,
            "floor_abs_x_sqrt_n_over_2": ge["floor_abs"] / math.sqrt(2.0 / n), "floor_limited": ge["floor_limited"],
            "per_K": " ".join(per_k),
            "euler_agreement": f"{sum(follows)}/{len(follows)}"}


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["run", "summarize"])
    ap.add_argument("--part", choices=["1d", "dd", "all"], default="all")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--only-n", type=int, nargs="*")
    ap.add_argument("--only-dims", type=int, nargs="*")
    ap.add_argument("--only-kernels", nargs="*")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    out = Path(args.out)
    if args.command == "run":
        if args.part in ("1d", "all"):
            run_1d(out)
        if args.part in ("dd", "all"):
            run_dd(out, groups=dd_tasks(DD_GRID, args.only_n, args.only_dims, args.only_kernels))
    summarize(out)


if __name__ == "__main__":
    main()


def amplitude_check_1d(kernel: str = "laplace", K: int = 32, amps=(1 / 12, 1 / 48), n: int = 2048,
                       eps: float = 0.1, t_max: float = 60.0, out: Path | None = RESULTS) -> list[dict]:
    """Diagnostic: is a 1-D best-fixed deviation from the Euler-stepped theory nonlinear (shrinks
    with the target amplitude) or not? Per amplitude: measured vs Euler-stepped time and, per
    mode, the measured vs predicted relative amplitude at the predicted convergence time."""
    from analysis.simulation_anneal import quantile_target_1d
    from driftlab.kernels import make_kernel
    from driftlab.spectral import rate_at_scale
    from driftlab.spectral.timescales import best_fixed_bandwidth

    kern = make_kernel(kernel, 1.0)
    modes = ladder(K)
    kmods = 2 * np.pi * np.asarray(modes, dtype=float)
    s_best, _ = best_fixed_bandwidth(kern, kmods, 1)
    lam = rate_at_scale(kern, kmods, s_best, 1)
    rows = []
    for a in amps:
        y = quantile_target_1d(n, modes, a)
        x = (np.arange(n)[:, None] + 0.5) / n
        backend = "sdpa" if kernel == "gaussian" else "torch"
        t_meas, res = _run(kernel, {"scale": s_best}, x, y, _kvecs(modes, 1).astype(int), 1, 0.5, t_max, "lattice",
                           backend, eps, early_stop=False)
        t_eul = euler_time(kern, kmods, eps, __import__("driftlab.spectral.schedules", fromlist=["x"]).ConstantSchedule(s_best),
                           0.5, 1, t_max)
        i = round(t_eul / 0.5) if math.isfinite(t_eul) else len(res.records) - 1
        meas = [res.records[i][f"mode{j}_abs"] / res.records[0][f"mode{j}_abs"] for j in range(len(modes))]
        pred = (np.abs(1 - 0.5 * lam) ** i).tolist()
        rows.append({"kernel": kernel, "K_max": K, "amp": a, "s_best": s_best, "T_measured": t_meas,
                     "T_theory_euler": t_eul, "modes": modes, "rel_measured_at_T_euler": meas,
                     "rel_predicted_at_T_euler": pred})
    if out is not None:
        from driftlab.io import write_json

        write_json(Path(out) / f"amplitude_check_{kernel}_K{K}.json", {"rows": rows})
    return rows


def amplitude_check_dd(kernel: str = "gaussian", dim: int = 2, K: int = 4, ns=(1024, 4096), amps=(0.3, 0.1),
                       seeds=(0, 1, 2), eps: float = 0.1, out: Path | None = RESULTS) -> list[dict]:
    """Diagnostic for the d-dim best-fixed runs: does the gap to the Euler-stepped theory shrink
    with the target amplitude (finite-amplitude nonlinearity) or with N (finite-N noise)?"""
    rows = []
    for n in ns:
        for a in amps:
            g = dict(DD_GRID, amp=a)
            kmods = 2 * np.pi * np.asarray(ladder(K), dtype=float)
            sch = _schedules(kernel, dim, K, eps, g)["best_fixed"][1]
            t_eul = _predictions(kernel, dim, kmods, eps, sch, g)[1]
            times = [_time_of(_run_dd(kernel, dim, n, K, s, "best_fixed", None, g, early_stop=False)[0], eps)
                     for s in seeds]
            rows.append({"kernel": kernel, "dim": dim, "K_max": K, "n": n, "amp": a, "eps": eps, "T_measured": times,
                         "T_theory_euler": t_eul})
    if out is not None:
        from driftlab.io import write_json

        write_json(Path(out) / f"amplitude_check_{kernel}_d{dim}_K{K}.json", {"rows": rows})
    return rows


def collapse_check(kernel: str = "gaussian", dims=(2, 4, 8), n: int = 1024, K: int = 4, seed: int = 0,
                   t_end: float = 12.0, eps: float = 0.5, out: Path | None = RESULTS) -> list[dict]:
    """Diagnostic: where do the particles end up? Median nearest-target distance at the start and
    at ``t_end`` and the fraction of particles within 0.01 of a target sample (collapse onto the
    target set = memorisation), for the best-fixed and the (unfloored) annealed schedule, with the
    particle-particle nearest-neighbour distance in units of the bandwidth."""
    rows = []
    for d in dims:
        for sched in ("best_fixed", "annealed"):
            x, y, kv, _ = _problem(kernel, d, n, K, seed, DD_GRID)
            kw, _, r = _schedules(kernel, d, K, eps, DD_GRID)[sched]
            _, res = _run(kernel, kw, x, y, kv, d, DD_GRID["eta"], t_end, "minimum_image", "torch", eps,
                          dtype=DD_GRID["dtype"], early_stop=False)

            def nn(a, b, same=False):
                diff = a[:, None, :] - b[None, :, :]
                diff -= np.round(diff)
                dist = np.sqrt((diff ** 2).sum(-1))
                if same:
                    np.fill_diagonal(dist, np.inf)
                return dist.min(axis=1)

            d1 = nn(res.particles, y)
            rows.append({"kernel": kernel, "dim": d, "n": n, "K_max": K, "schedule": sched, "s0": kw["scale"], "r": r,
                         "t_end": t_end, "s_end": float(res.records[-1]["bandwidth"]),
                         "median_nn_target_start": float(np.median(nn(x, y))), "median_nn_target_end": float(np.median(d1)),
                         "frac_within_0.01": float((d1 < 0.01).mean()),
                         "median_nn_particle_over_s0": float(np.median(nn(x, x, True)) / kw["scale"])})
    if out is not None:
        from driftlab.io import write_json

        write_json(Path(out) / f"collapse_check_{kernel}_n{n}_K{K}_t{t_end:g}.json", {"rows": rows})
    return rows
