r"""The annealing verdict at scale: d in {2, 3, 4, 8}, K_max in {4, 8, 16, 32}, N = M in {2^14 ... 2^20}.

Same protocol as the d-dimensional part of :mod:`analysis.simulation_anneal_sweep` (iid
uniform particles, iid target pushed by the displacement map, amplitude 0.3 per mode,
minimum-image kernel, float32, eta = 0.5; targets, Euler-stepped theory, noise floor and eps
choice from :mod:`analysis.simulation_anneal`; particles and target of a (d, N, K_max, seed)
from :func:`analysis.simulation_anneal_sweep._problem`, so both kernels see the same points),
at the K_max and N where the linear theory says annealing should win.

Cells and runs
--------------
A *cell* is (kernel, d, N, K_max); its runs are, for every seed in {0, 1, 2}:

1. *phase A*: the best fixed bandwidth for that K_max (re-tuned per K_max,
   :func:`driftlab.spectral.timescales.best_fixed_bandwidth`), run to ``t_max(K_max)`` without
   stopping; its late plateau is the finite-N noise floor
   (:func:`analysis.simulation_anneal_sweep._floor_of`: median over the last third, modes whose
   Euler-stepped decay is complete there);
2. eps of the cell = :func:`analysis.simulation_anneal.choose_eps` of the median floor over the
   seeds (smallest of 0.1 ... 0.5 above 2 x floor; ``floor_limited`` when even 0.5 is not);
3. *phase B*: exponential annealing s0 exp(-r t) (r = 0.5 x the admissible rate of the lowest
   mode) and the coarse fixed s0 (only where its Euler-stepped time at eps = 0.5 is below t_max),
   each stopped once every mode is below eps_base = 0.1 x its initial error (at or after the
   crossing of any eps the floor can choose), so no run depends on another and the runs of a
   cell go seed by seed; every time is read off the traces at the cell's eps.

The floor is measured per cell and summarised per (kernel, d, N) (max over the cells run):
the floor depends on the bandwidth and the modes (it grows with K_max at fixed N), and a
group-wide eps would make a cell's tolerance depend on which other cells happened to run
first, i.e. on the order of an interrupted sweep. Per cell, eps is a function of that cell's
own runs only, so a resumed sweep writes byte-identical files whatever the order.

``t_max(K_max)`` = 24, 32, 48, 64 for K_max = 4, 8, 16, 32: about 1.8-2.7 x the
Euler-stepped annealed time at eps = 0.1 (9.5, 18, 26.5, 35 for the Gaussian), so annealing
has room to lag; a best fixed bandwidth that does not reach eps by then (Gaussian K_max = 32:
predicted 170) is recorded as "not reached" and the annealing gain as a lower bound.

Order (the cells that decide the verdict first)
-----------------------------------------------
The 1-D sweep and the d = 2 K_max = 16 supplement show annealing winning from K_max ~ 8-16
(Gaussian) and 16-32 (Laplace), and the committed d-dim sweep shows finite N breaking the
comparison once fewer than ~1 particle sits within one best-fixed bandwidth (n_ball < 1). So
the cells are ranked by

* tier 0: the Euler-stepped theory predicts an annealing gain >= 1.25 (T_best / T_annealed at
  eps = 0.1: K_max >= 16, Laplace from 16 only in d >= 3) *and* n_ball(best s) >= 1 at this
  N (mean-field regime): these decide whether the theory's O(log K) win survives in d > 1;
* tier 1: predicted gain >= 1.25 but n_ball < 1: where finite N decides instead;
* tier 2: no predicted gain (K_max = 4, 8; Laplace d = 2, K_max = 16), n_ball >= 1: the
  predicted tie or loss, already measured at N <= 4096 for K_max <= 8;
* tier 3: the rest (no predicted gain and n_ball < 1; all of d = 8, where N x s^8 << 1 at any N
  here).

Within a tier: N ascending (cheapest first, and the N trend is what the extrapolation needs),
then |log10 n_ball| ascending (the cell closest to the mean-field threshold first: at N = 2^14
that is Gaussian d = 3, K_max = 16, n_ball = 2.5), then kernel, d, K_max.

Command line::

    OMP_NUM_THREADS=1 python -m analysis.simulation_anneal_scale plan [--max-n 16384]
    OMP_NUM_THREADS=1 python -m analysis.simulation_anneal_scale run --budget-minutes 45 --max-n 16384
    python -m analysis.simulation_anneal_scale run --device cuda --budget-minutes 8     # `make gpu-sweep`
    python -m analysis.simulation_anneal_scale summarize

``run`` is resumable (one JSON per finished run, written atomically; finished files are
skipped), refuses a results folder whose ``grid.json`` differs from the grid, prints every
pending run's pair evaluations and estimated time before it starts, and stops cleanly before
a run when the budget is spent (or when that run's estimate would end past it); it ends with
``summarize``. Wall-clock times go to ``timings.csv`` only (never into the run files).
"""

from __future__ import annotations

import functools
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.simulation_anneal import EPS_GRID, choose_eps, convergence_time_measured, euler_time, ladder
from analysis.simulation_anneal_sweep import _floor_of, _problem, _schedules, schedule_cells

__all__ = ["GRID", "RESULTS", "Cell", "cell_info", "check_grid", "estimate_run", "mean_field_n", "order_cells",
           "pending_runs", "run_sweep", "summarize", "main"]

RESULTS = Path(__file__).resolve().parent / "results" / "simulation_anneal_scale"
#: the committed 1024 / 4096 d-dim sweep (same protocol and points), used by the N extrapolation
SMALL_N_CELLS = Path(__file__).resolve().parent / "results" / "simulation_anneal_sweep" / "cells_dd.csv"

GRID = {
    "kernels": ["gaussian", "laplace"],
    "dims": [2, 3, 4, 8],
    "k_maxes": [4, 8, 16, 32],
    "ns": [2 ** 14, 2 ** 16, 2 ** 18, 2 ** 20],
    "seeds": [0, 1, 2],
    "t_max": {"4": 24.0, "8": 32.0, "16": 48.0, "32": 64.0},
    "eta": 0.5,
    "amp": 0.3,
    "r_frac": 0.5,
    "eps_base": 0.1,
    "margin": 2.0,
    "eps_grid": list(EPS_GRID),
    "dtype": "float32",
    "wrap": "minimum_image",
    "gain_threshold": 1.25,
}

PHASE_B = ("annealed", "fixed_s0")
#: starting guesses of the pair-evaluation throughput (pairs / s) before a run of this call is
#: measured: CPU one thread, minimum image, float32, N = 2^13: the numba backend 3.6-9e8 for
#: d = 2..8 (the torch backend, without numba: 0.9-1.6e8); CUDA: the Triton fma kernel with the
#: minimum image (d <= 8), a guess below its R^d rates on an H100 (1.4-2.4e12 at d = 2)
DEFAULT_RATE = {"cpu": 4e8, "cuda": 5e11}


@dataclass(frozen=True, order=True)
class Cell:
    kernel: str
    dim: int
    n: int
    k_max: int

    @property
    def label(self) -> str:
        return f"{self.kernel} d={self.dim} N={self.n} K_max={self.k_max}"


def _t_max(grid: dict, k: int) -> float:
    return float(grid["t_max"][str(k)])


def _sub_grid(grid: dict, k: int) -> dict:
    """The keys :mod:`analysis.simulation_anneal_sweep`'s helpers read, for one K_max."""
    return {"amp": grid["amp"], "r_frac": grid["r_frac"], "eta": grid["eta"], "t_max": _t_max(grid, k),
            "eps_base": grid["eps_base"], "margin": grid["margin"], "dtype": grid["dtype"]}


def _n_ball(n: int, d: int, s: float) -> float:
    """N x volume of the d-ball of radius s: particles within one bandwidth."""
    return n * math.pi ** (d / 2) / math.gamma(d / 2 + 1) * s ** d


def _key(grid: dict) -> tuple:
    """The grid values the theory depends on (hashable, for the caches below)."""
    return (grid["eta"], grid["r_frac"], grid["amp"], grid["eps_base"], grid["margin"], grid["dtype"],
            tuple(sorted((str(k), float(v)) for k, v in grid["t_max"].items())))


def _unkey(key: tuple) -> dict:
    eta, r_frac, amp, eps_base, margin, dtype, t_max = key
    return {"eta": eta, "r_frac": r_frac, "amp": amp, "eps_base": eps_base, "margin": margin, "dtype": dtype,
            "t_max": dict(t_max)}


@functools.lru_cache(maxsize=4096)
def _schedules_cached(kernel: str, d: int, k: int, eps: float, key: tuple) -> dict:
    return _schedules(kernel, d, k, eps, _sub_grid(_unkey(key), k))


@functools.lru_cache(maxsize=4096)
def _euler_cached(kernel: str, d: int, k: int, eps: float, name: str, key: tuple, t_max: float) -> float:
    from driftlab.kernels import make_kernel

    grid = _unkey(key)
    sch = _schedules_cached(kernel, d, k, eps, key)[name][1]
    kmods = 2 * np.pi * np.asarray(ladder(k), dtype=float)
    return euler_time(make_kernel(kernel, 1.0), kmods, eps, sch, grid["eta"], d, t_max)


def _euler(kernel: str, d: int, k: int, eps: float, name: str, grid: dict, t_max: float | None = None) -> float:
    """Euler-stepped linear prediction of the time to ``eps`` (inf beyond ``t_max``, default t_max(K_max))."""
    return _euler_cached(kernel, int(d), int(k), float(eps), name, _key(grid),
                         float(_t_max(grid, k) if t_max is None else t_max))


def _continuous(kernel: str, d: int, k: int, eps: float, name: str, grid: dict) -> float:
    from driftlab.kernels import make_kernel
    from driftlab.spectral.timescales import convergence_time

    sch = _schedules_cached(kernel, int(d), int(k), float(eps), _key(grid))[name][1]
    kmods = 2 * np.pi * np.asarray(ladder(k), dtype=float)
    return float(convergence_time(make_kernel(kernel, 1.0), kmods, eps, sch, d))


def cell_info(cell: Cell, grid: dict = GRID) -> dict:
    """Theory-side facts of a cell at eps_base: bandwidths, n_ball, Euler-stepped times, gain, tier."""
    eps = grid["eps_base"]
    sch = _schedules_cached(cell.kernel, cell.dim, cell.k_max, float(eps), _key(grid))
    s_best, s0 = sch["best_fixed"][0]["scale"], sch["annealed"][0]["scale"]
    # the uncapped predictions, for the gain
    ta = _euler(cell.kernel, cell.dim, cell.k_max, eps, "annealed", grid, t_max=1e4)
    tb = _euler(cell.kernel, cell.dim, cell.k_max, eps, "best_fixed", grid, t_max=1e4)
    gain = tb / ta
    nb = _n_ball(cell.n, cell.dim, s_best)
    wins = gain >= grid["gain_threshold"]
    tier = (0 if nb >= 1 else 1) if wins else (2 if nb >= 1 else 3)
    return {"s_best": s_best, "s0": s0, "rate": sch["annealed"][2], "n_ball_best": nb,
            "n_ball_s0": _n_ball(cell.n, cell.dim, s0), "T_euler_annealed": ta, "T_euler_best": tb,
            "gain_theory": gain, "tier": tier, "t_max": _t_max(grid, cell.k_max)}


def order_cells(grid: dict = GRID) -> list[Cell]:
    """Every cell of the grid, verdict-deciding cells first (the module docstring says why)."""
    cells = [Cell(k, d, n, K) for k in grid["kernels"] for d in grid["dims"] for n in grid["ns"]
             for K in grid["k_maxes"]]
    info = {c: cell_info(c, grid) for c in cells}
    kern_rank = {k: i for i, k in enumerate(grid["kernels"])}
    return sorted(cells, key=lambda c: (info[c]["tier"], c.n, round(abs(math.log10(info[c]["n_ball_best"])), 6),
                                        kern_rank[c.kernel], c.dim, c.k_max))


# ----------------------------------------------------------------------------------------------
# files


def run_path(out: Path, cell: Cell, seed: int, schedule: str) -> Path:
    return Path(out) / "runs" / f"{cell.kernel}_d{cell.dim}_n{cell.n}_K{cell.k_max}_s{seed}_{schedule}.json"


def _load(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def check_grid(out: Path, grid: dict = GRID, create: bool = True) -> None:
    """Refuse a results folder whose ``grid.json`` differs from ``grid`` (write it when absent)."""
    from driftlab.io import write_json

    path = Path(out) / "grid.json"
    want = json.loads(json.dumps(grid))
    if path.exists():
        have = _load(path)
        if have != want:
            diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
            raise ValueError(f"{path} holds a different grid (keys {', '.join(diff)} differ): these run files "
                             "belong to another sweep; pass another out folder or remove it")
    elif create:
        write_json(path, want)


def cell_eps(out: Path, cell: Cell, grid: dict = GRID) -> dict | None:
    """Noise floor (median over the seeds' phase-A floors) and eps of a cell; None before any phase-A
    run. ``seeds`` = phase-A runs used (a cell is complete when it is every seed of the grid)."""
    floors = [_floor_of(_load(p)) for seed in grid["seeds"]
              if (p := run_path(out, cell, seed, "best_fixed")).exists()]
    if not floors:
        return None
    counted = [f for f in floors if f["counted"]]
    if counted:
        rel = float(np.median([f["rel"] for f in counted]))
        fabs = float(np.median([f["abs"] for f in counted]))
        eps, limited = choose_eps(rel, grid["eps_base"], grid["margin"], tuple(grid["eps_grid"]))
    else:  # no mode finished its decay in the late window: no floor measured
        rel = fabs = math.nan
        eps, limited = choose_eps(0.0, grid["eps_base"], grid["margin"], tuple(grid["eps_grid"]))
    modes = ladder(cell.k_max)
    return {"floor_rel": rel, "floor_abs": fabs, "eps": eps, "floor_limited": limited, "floor_measured": bool(counted),
            "seeds": len(floors),
            "floor_modes": " ".join(str(modes[j]) for j in counted[0]["counted"]) if counted else "",
            "reference_sqrt_2_over_n": math.sqrt(2.0 / cell.n)}


# ----------------------------------------------------------------------------------------------
# one run


def _simulate(cell: Cell, seed: int, schedule: str, grid: dict, device: str, threads: int = 1):
    """One run of the particle simulator; returns the run file's payload and the run's info.

    Best fixed runs to t_max (phase A: the floor needs the late plateau); the other schedules
    stop once every mode is below eps_base x its initial error.
    """
    eps = None if schedule == "best_fixed" else float(grid["eps_base"])
    from driftlab.simulation import SimulationConfig, run_simulation

    sub = _sub_grid(grid, cell.k_max)
    x, y, kv_int, _ = _problem(cell.kernel, cell.dim, cell.n, cell.k_max, seed, sub)
    # (only the annealing rate depends on eps, through the admissible rate at eps_base)
    kw, _, r = _schedules_cached(cell.kernel, cell.dim, cell.k_max, float(grid["eps_base"]), _key(grid))[schedule]
    cfg = SimulationConfig(kernel=cell.kernel, step=grid["eta"], n_steps=int(round(sub["t_max"] / grid["eta"])),
                           period=1.0, wrap=grid["wrap"], modes=[list(map(int, v)) for v in kv_int], obs_points=16,
                           backend="auto", device=device, num_threads=int(threads) if device == "cpu" else None,
                           dtype=grid["dtype"], seed=seed, checkpoint_every=0, **kw)
    n_modes = len(kv_int)
    init: dict = {}

    def converged(rec) -> bool:
        if eps is None:
            return False
        amps = np.array([rec[f"mode{j}_abs"] for j in range(n_modes)])
        if not init:
            init["a0"] = amps
        return bool(np.all(amps <= eps * init["a0"]))

    res = run_simulation(cfg, x, y, progress=False, stop_when=converged)
    payload = {"kernel": cell.kernel, "dim": cell.dim, "n": cell.n, "K_max": cell.k_max, "seed": seed,
               "schedule": schedule, "s0": kw["scale"], "r": r, "eta": grid["eta"], "t_max": sub["t_max"],
               "dtype": grid["dtype"], "amp": grid["amp"], "early_stop_eps": eps,
               "t": [float(v) for v in res.column("t")],
               "mode_abs": [[float(rec[f"mode{j}_abs"]) for j in range(n_modes)] for rec in res.records]}
    return payload, {"backend": res.info.get("backend"), "steps": len(res.records) - 1}


def estimate_run(cell: Cell, schedule: str, grid: dict = GRID) -> dict:
    """Steps and pair evaluations of one run (N x (M + N) per step: the p-sum and the q-sum).

    Phase A runs to t_max; an early-stopped run is estimated at its Euler-stepped time at
    eps_base plus two steps, capped at t_max.
    """
    t_max = _t_max(grid, cell.k_max)
    if schedule == "best_fixed":
        t = t_max
    else:
        te = _euler(cell.kernel, cell.dim, cell.k_max, grid["eps_base"], schedule, grid)
        t = min(t_max, te + 2 * grid["eta"]) if math.isfinite(te) else t_max
    steps = int(round(t / grid["eta"]))
    return {"steps": steps, "pairs": float(steps) * cell.n * (2.0 * cell.n)}


def pending_runs(out: Path, cell: Cell, grid: dict = GRID) -> list[tuple[int, str]]:
    """The runs of ``cell`` still to do, in order, as (seed, schedule): seed by seed (annealed,
    best fixed, coarse fixed where it can reach eps), so that a budget stop leaves whole seeds.

    Every run is independent of the cell's eps (phase A runs to t_max; annealed and coarse-fixed
    runs stop when every mode is below eps_base = the smallest tolerance, at or after the
    crossing of any eps the floor can choose), so they can run in any order and eps is applied
    when the traces are read (:func:`summarize`).
    """
    todo = []
    for s in grid["seeds"]:
        for name in ("annealed", "best_fixed", "fixed_s0"):
            if name == "fixed_s0" and not runs_coarse_fixed(cell, grid):
                continue
            if not run_path(out, cell, s, name).exists():
                todo.append((s, name))
    return todo


def runs_coarse_fixed(cell: Cell, grid: dict = GRID) -> bool:
    """The coarse fixed s0 is simulated only where its Euler-stepped time at the largest
    tolerance is below t_max (otherwise it is recorded as predicted beyond the cap)."""
    return _euler(cell.kernel, cell.dim, cell.k_max, max(grid["eps_grid"]), "fixed_s0", grid) < _t_max(grid, cell.k_max)


def _matches(cell: Cell, only: dict | None) -> bool:
    if not only:
        return True
    vals = {"kernel": cell.kernel, "dim": cell.dim, "d": cell.dim, "n": cell.n, "N": cell.n, "K": cell.k_max,
            "K_max": cell.k_max, "k_max": cell.k_max}
    for key, allowed in only.items():
        if key not in vals:
            raise ValueError(f"--only: unknown key {key!r}; use kernel, dim, n, K_max")
        if str(vals[key]) not in {str(a) for a in allowed}:
            return False
    return True


def parse_only(items: list[str] | None) -> dict:
    """``["kernel=gaussian", "dim=2,3"]`` -> ``{"kernel": ["gaussian"], "dim": ["2", "3"]}``."""
    out: dict = {}
    for it in items or []:
        if "=" not in it:
            raise ValueError(f"--only expects key=value[,value...], got {it!r}")
        k, v = it.split("=", 1)
        out.setdefault(k.strip(), []).extend(x.strip() for x in v.split(",") if x.strip())
    return out


def selected_cells(grid: dict = GRID, max_n: int | None = None, only: dict | None = None) -> list[Cell]:
    return [c for c in order_cells(grid) if (max_n is None or c.n <= max_n) and _matches(c, only)]


def run_sweep(out: Path = RESULTS, grid: dict = GRID, *, device: str = "cpu", max_n: int | None = None,
              only: dict | None = None, budget_minutes: float | None = None, progress: bool = True,
              clock=time.monotonic, rates: dict | None = None, log=None, threads: int = 1) -> dict:
    """Run the pending runs of the selected cells in priority order; stop cleanly on the budget.

    Parameters
    ----------
    out : Path
        Results folder (``grid.json``, ``runs/``, ``timings.csv``).
    grid : dict
        The grid (default :data:`GRID`); a folder holding another grid is refused (ValueError).
    device : {"cpu", "cuda"}
        Torch device of the simulator (float32; on CUDA the engine's automatic backend).
    max_n : int, optional
        Skip cells with N above this.
    only : dict, optional
        Filters, e.g. ``{"kernel": ["gaussian"], "dim": ["3"]}`` (:func:`parse_only`).
    budget_minutes : float, optional
        No run starts once this much wall time has passed, nor one whose estimate would end
        past it (except the first run of the call, which always starts).
    clock : callable
        Seconds (monotonic); tests pass a fake clock.
    rates : dict, optional
        Starting pair throughput per device (default :data:`DEFAULT_RATE`); replaced by the
        measured rate of this call's runs once one has finished.
    threads : int
        CPU threads of the kernel sums (default 1). The engine splits the query rows between
        them and each row is summed by one thread in one order, so the run files are the same,
        bit for bit, for any count.

    Returns
    -------
    dict
        ``runs_done``, ``stopped`` (None, ``"budget"`` or ``"next run does not fit"``),
        ``pending`` (runs left in the selected cells), ``seconds``.

    Raises
    ------
    driftlab.io.RunFolderBusy
        When another live process (or another :class:`driftlab.io.RunDirectory` of this one)
        holds ``out/.lock``: two sweeps on one folder would compute the same runs twice.
    ValueError
        On a folder holding another grid, an unknown device or a budget that is not finite and > 0.
    """
    from driftlab.io import RunDirectory, write_json

    if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ValueError(f"device must be 'cpu' or 'cuda[:i]', got {device!r}")
    if budget_minutes is not None and not (budget_minutes > 0 and math.isfinite(budget_minutes)):
        raise ValueError(f"budget_minutes must be finite and > 0, got {budget_minutes!r}")
    out = Path(out)
    if log is None:
        log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if progress else (lambda msg: None)
    with RunDirectory(out):  # one writer at a time: a second sweep on a folder in use is refused
        check_grid(out, grid)
        (out / "runs").mkdir(parents=True, exist_ok=True)
        dev = "cuda" if str(device).startswith("cuda") else "cpu"
        rate = float((rates or DEFAULT_RATE)[dev])
        measured = {"pairs": 0.0, "seconds": 0.0}
        budget = None if budget_minutes is None else 60.0 * budget_minutes
        t0 = clock()
        cells = selected_cells(grid, max_n, only)
        plan = [(c, pending_runs(out, c, grid)) for c in cells]
        total_pairs = sum(estimate_run(c, name, grid)["pairs"] for c, runs in plan for _, name in runs)
        n_pending = sum(len(r) for _, r in plan)
        log(f"[scale] {len(cells)} cells selected, {n_pending} runs pending, ~{total_pairs:.3g} pair evaluations "
            f"(~{total_pairs / rate / 60:.1f} min at {rate:.2g} pairs/s on {dev}); budget "
            f"{'none' if budget is None else f'{budget_minutes:g} min'}")
        done, stopped = 0, None
        for cell in cells:
            while True:
                runs = pending_runs(out, cell, grid)
                if not runs:
                    break
                seed, name = runs[0]
                est = estimate_run(cell, name, grid)
                est_s = est["pairs"] / rate
                elapsed = clock() - t0
                if budget is not None and elapsed >= budget:
                    stopped = "budget"
                    break
                if budget is not None and done and elapsed + est_s > budget:
                    stopped = "next run does not fit"
                    break
                log(f"[scale] {cell.label} seed {seed} {name}: {est['steps']} steps, {est['pairs']:.3g} pairs, ~{est_s:.0f} s")
                t_run = clock()
                payload, info = _simulate(cell, seed, name, grid, device, threads)
                secs = clock() - t_run
                path = run_path(out, cell, seed, name)
                write_json(path, payload)
                with open(out / "timings.csv", "a") as fh:  # diagnostics only (not deterministic)
                    fh.write(f"{path.name},{dev},{info['backend']},{info['steps']},"
                             f"{info['steps'] * cell.n * 2.0 * cell.n:.6g},{secs:.3f}\n")
                done += 1
                if secs > 0:
                    measured["pairs"] += info["steps"] * cell.n * 2.0 * cell.n
                    measured["seconds"] += secs
                    rate = measured["pairs"] / measured["seconds"]
                log(f"[scale]   done in {secs:.1f} s ({info['backend']}; now {rate:.3g} pairs/s); "
                    f"{(clock() - t0) / 60:.1f} min used")
            if stopped:
                break
        left = sum(len(pending_runs(out, c, grid)) for c in cells)
        if stopped:
            log(f"[scale] stopped ({stopped}) after {done} runs; {left} runs left in the selected cells: rerun to resume")
        return {"runs_done": done, "stopped": stopped, "pending": left, "seconds": clock() - t0}


# ----------------------------------------------------------------------------------------------
# summary


def _time_of(payload: dict, eps: float) -> float:
    from analysis.simulation_anneal_sweep import _Rec

    return convergence_time_measured(_Rec(payload), len(payload["mode_abs"][0]), eps)


def _cell_rows(out: Path, cell: Cell, grid: dict) -> tuple[dict | None, list[dict]]:
    ce = cell_eps(out, cell, grid)
    if ce is None:
        return None, []
    info = cell_info(cell, grid)
    rows = []
    for name in ("best_fixed", "annealed", "fixed_s0"):
        te = _euler(cell.kernel, cell.dim, cell.k_max, ce["eps"], name, grid)
        times = []
        for s in grid["seeds"]:
            p = run_path(out, cell, s, name)
            if p.exists():  # (early-stopped runs stop at eps_base <= eps: read at the cell's eps)
                times.append(_time_of(_load(p), ce["eps"]))
        if name == "fixed_s0" and not runs_coarse_fixed(cell, grid):
            simulated = False
        elif not times:
            continue  # not run yet
        else:
            simulated = True
        tt = np.array(times if simulated else [math.inf], dtype=float)
        reached = np.isfinite(tt)
        s = info["s_best"] if name == "best_fixed" else info["s0"]
        rows.append({"kernel": cell.kernel, "dim": cell.dim, "n": cell.n, "K_max": cell.k_max, "schedule": name,
                     "s": s, "n_ball": _n_ball(cell.n, cell.dim, s), "eps": ce["eps"],
                     "floor_rel": ce["floor_rel"], "floor_limited": ce["floor_limited"], "simulated": simulated,
                     "seeds": len(times), "complete": (not simulated or len(times) == len(grid["seeds"]))
                     and ce["seeds"] == len(grid["seeds"]), "frac_reached": float(reached.mean()) if simulated else 0.0,
                     "T_median": float(np.median(tt)), "T_min": float(tt.min()), "T_max_seed": float(tt.max()),
                     "T_theory_euler": te,
                     "T_theory": _continuous(cell.kernel, cell.dim, cell.k_max, ce["eps"], name, grid),
                     "t_max": _t_max(grid, cell.k_max)})
    return ce, rows


def _follows(row: dict, eta: float) -> bool | None:
    """Median within one Euler step + 10 % of the Euler-stepped time (None: no finite prediction)."""
    te = row["T_theory_euler"]
    if not math.isfinite(te):
        return None
    if row["frac_reached"] < 1.0:
        return False
    return abs(row["T_median"] - te) <= eta + 0.1 * te


def cell_verdict(rows: list[dict], info: dict, ce: dict, eta: float) -> dict | None:
    """Annealed vs best fixed in one cell, from the seed ranges, and what decides it.

    ``win`` (``loss``): every annealed (best-fixed) seed reached eps and its slowest seed beat the
    other's fastest, or the other never reached eps; ``tie``: overlapping ranges; ``neither``:
    no seed of either reached eps by t_max. ``gain`` = median best / median annealed time (a
    lower bound ``t_max / T_annealed`` when best fixed did not reach). ``decided_by``:
    ``linear theory`` when both medians follow the Euler-stepped times (one step + 10 %);
    ``floor`` when the cell is floor-limited; ``finite N`` when n_ball(best s) < 1;
    ``lag`` otherwise (a schedule lags its prediction: finite amplitude or finite N, not separated).
    """
    by = {r["schedule"]: r for r in rows}
    a, b = by.get("annealed"), by.get("best_fixed")
    if a is None or b is None:
        return None
    a_all, b_all = a["frac_reached"] == 1.0, b["frac_reached"] == 1.0
    if not a["frac_reached"] and not b["frac_reached"]:
        v = "neither"
    elif a_all and (not b["frac_reached"] or a["T_max_seed"] < b["T_min"]):
        v = "win"
    elif b_all and (not a["frac_reached"] or b["T_max_seed"] < a["T_min"]):
        v = "loss"
    else:
        v = "tie"
    ta, tb = a["T_median"], b["T_median"]
    if math.isfinite(ta) and math.isfinite(tb):
        gain, bound = tb / ta, "="
    elif math.isfinite(ta):
        gain, bound = a["t_max"] / ta, ">"
    elif math.isfinite(tb):
        gain, bound = tb / a["t_max"], "<"
    else:
        gain, bound = math.nan, ""
    fa, fb = _follows(a, eta), _follows(b, eta)
    if ce["floor_limited"]:
        why = "floor"
    elif info["n_ball_best"] < 1:
        why = "finite N"
    elif fa is not False and fb is not False:
        why = "linear theory"
    else:
        why = "lag"
    return {"verdict": v, "complete": bool(a["complete"] and b["complete"]), "seeds": min(a["seeds"], b["seeds"]),
            "gain": gain, "gain_bound": bound, "gain_theory": info["gain_theory"],
            "annealed_follows_euler": fa, "best_follows_euler": fb, "decided_by": why}


def mean_field_n(points: list[tuple[int, float]], tol: float) -> dict:
    """The N at which a lag reaches ``tol``, from (N, lag) points (lag = |T_measured - T_Euler|).

    ``reached``: the smallest N whose lag <= tol (when the largest N run is within tol).
    Otherwise a power law lag = c N^-alpha fitted by least squares in log-log on the points with
    a positive finite lag (>= 2 N values) is solved for lag = tol; the uncertainty is the range
    of N* over the leave-one-out fits (with only 2 points: the fit itself, flagged ``n_points``).
    A leave-one-out fit whose lag does not decrease has no N*: the range is then unbounded above
    (``N_hi`` = inf). An infinite lag (a seed that never reached eps) at the largest N run
    contradicts any decreasing trend: no N* is claimed; at a smaller N it only restricts the fit
    to the larger ones. ``N_star`` is None when the lag does not decrease with N (alpha <= 0,
    judged at float64 round-off of the fit) or too few points.
    """
    pts = sorted((int(n), float(g)) for n, g in points)
    if not any(math.isfinite(g) for _, g in pts):
        return {"status": "no finite times", "N_star": None, "N_lo": None, "N_hi": None, "alpha": None,
                "n_points": 0}
    if not math.isfinite(pts[-1][1]):
        return {"status": f"largest N ({pts[-1][0]}) does not reach eps in every seed: cannot extrapolate",
                "N_star": None, "N_lo": None, "N_hi": None, "alpha": None, "n_points": len(pts)}
    last_inf = max((i for i, (_, g) in enumerate(pts) if not math.isfinite(g)), default=-1)
    pts = pts[last_inf + 1:]
    ok = [n for n, g in pts if g <= tol]
    if ok and pts[-1][1] <= tol:
        first = min(n for n in ok if all(g <= tol for m, g in pts if m >= n))
        return {"status": "reached", "N_star": first, "N_lo": None, "N_hi": first, "alpha": None,
                "n_points": len(pts)}
    fit_pts = [(n, g) for n, g in pts if g > 0]
    if len({n for n, _ in fit_pts}) < 2:
        return {"status": "one N with a finite lag: cannot extrapolate", "N_star": None, "N_lo": None, "N_hi": None,
                "alpha": None, "n_points": len(fit_pts)}

    def solve(ps):
        """(N*, alpha) of one fit; N* None when the lag does not decrease (or N* overflows float64)."""
        if len({n for n, _ in ps}) < 2:
            return None, None
        lx, ly = np.log([p[0] for p in ps]), np.log([p[1] for p in ps])
        slope, icpt = (float(v) for v in np.polyfit(lx, ly, 1))
        # a flat lag fits a slope of 0 up to round-off (~1e-16 of the log spread): not a decrease
        if slope >= -1e-12 * max(1.0, float(np.ptp(ly))):
            return None, -slope
        log_n = (math.log(tol) - icpt) / slope
        return (math.exp(log_n) if log_n < 700.0 else math.inf), -slope

    nstar, alpha = solve(fit_pts)
    if nstar is None:
        return {"status": "lag does not decrease with N", "N_star": None, "N_lo": None, "N_hi": None,
                "alpha": alpha, "n_points": len(fit_pts)}
    loo = [solve(fit_pts[:i] + fit_pts[i + 1:])[0] for i in range(len(fit_pts))] if len(fit_pts) > 2 else []
    loo = [math.inf if v is None else v for v in loo]
    lo = min([nstar] + loo) if loo else None
    hi = max([nstar] + loo) if loo else None
    return {"status": "extrapolated", "N_star": nstar, "N_lo": lo, "N_hi": hi, "alpha": alpha,
            "n_points": len(fit_pts)}


def _small_n_rows() -> list[dict]:
    """Best-fixed and annealed cells of the committed N = 1024 / 4096 sweep (same protocol)."""
    import csv

    if not SMALL_N_CELLS.exists():
        return []
    out = []
    for r in csv.DictReader(SMALL_N_CELLS.open()):
        if r["schedule"] not in ("best_fixed", "annealed") or r["simulated"] != "True":
            continue
        out.append({"kernel": r["kernel"], "dim": int(r["dim"]), "n": int(r["n"]), "K_max": int(r["K_max"]),
                    "schedule": r["schedule"], "T_median": float(r["T_median"]),
                    "T_theory_euler": float(r["T_theory_euler"]), "frac_reached": float(r["frac_reached"]),
                    "eps": float(r["eps"]), "source": "simulation_anneal_sweep"})
    return out


def summarize(out: Path = RESULTS, grid: dict = GRID, with_small_n: bool | None = None) -> dict:
    """cells.csv, verdicts.csv, floors.csv, mean_field.csv, status.csv, summary.json and tables.md.

    ``with_small_n`` (default: when ``grid`` is :data:`GRID`): add the committed N = 1024 / 4096
    cells of :mod:`analysis.simulation_anneal_sweep` (same protocol and points) to the
    mean-field extrapolation.
    """
    if with_small_n is None:
        with_small_n = grid == GRID
    from driftlab.io import atomic_write_text, write_csv, write_json

    out = Path(out)
    check_grid(out, grid, create=False)
    rows, verdicts, floors, status = [], [], [], []
    for cell in order_cells(grid):
        info = cell_info(cell, grid)
        ce, crow = _cell_rows(out, cell, grid)
        n_pend = len(pending_runs(out, cell, grid)) if (out / "runs").exists() else None
        st = {"kernel": cell.kernel, "dim": cell.dim, "n": cell.n, "K_max": cell.k_max, "tier": info["tier"],
              "gain_theory": info["gain_theory"], "n_ball_best": info["n_ball_best"],
              "T_euler_annealed": info["T_euler_annealed"], "T_euler_best": info["T_euler_best"],
              "pending_runs": n_pend, "done": n_pend == 0}
        status.append(st)
        if ce is None:
            continue
        floors.append({"kernel": cell.kernel, "dim": cell.dim, "n": cell.n, "K_max": cell.k_max, **ce})
        rows += crow
        v = cell_verdict(crow, info, ce, grid["eta"])
        if v is not None:
            verdicts.append({"kernel": cell.kernel, "dim": cell.dim, "n": cell.n, "K_max": cell.k_max,
                             "tier": info["tier"], "eps": ce["eps"], "n_ball_best": info["n_ball_best"], **v})
    # mean-field N per (kernel, d, K_max, schedule): lag of the measured median behind Euler
    small = _small_n_rows() if with_small_n else []
    mf = []
    keys = sorted({(r["kernel"], r["dim"], r["K_max"], r["schedule"]) for r in rows if r["schedule"] != "fixed_s0"})
    for kern, d, K, name in keys:
        pts, srcs = [], []
        for r in small + rows:
            if (r["kernel"], r["dim"], r["K_max"], r["schedule"]) != (kern, d, K, name):
                continue
            te = r["T_theory_euler"]
            if not math.isfinite(te):
                continue
            lag = abs(r["T_median"] - te) if r["frac_reached"] == 1.0 else math.inf
            pts.append((r["n"], lag))
            srcs.append(f"{r['n']}:{'-' if not math.isfinite(lag) else round(lag, 2)}")
        if not pts:
            continue
        te_ref = [r["T_theory_euler"] for r in rows if (r["kernel"], r["dim"], r["K_max"], r["schedule"])
                  == (kern, d, K, name) and math.isfinite(r["T_theory_euler"])]
        if not te_ref:
            continue  # no finite prediction at the N run (beyond t_max): no lag to follow
        tol = grid["eta"] + 0.1 * te_ref[-1]
        m = mean_field_n(pts, tol)
        mf.append({"kernel": kern, "dim": d, "K_max": K, "schedule": name, "tol": tol, "lags": " ".join(srcs), **m})
    payload = _sanitize({"grid": grid, "cells": rows, "verdicts": verdicts, "floors": floors, "mean_field": mf,
                         "status": status})
    write_json(out / "summary.json", payload)
    for name, data in (("cells", rows), ("verdicts", verdicts), ("floors", floors), ("mean_field", mf),
                       ("status", status)):
        if data:
            write_csv(out / f"{name}.csv", payload[name])
    atomic_write_text(out / "tables.md", tables_markdown(payload))
    return payload


def _sanitize(obj):
    if isinstance(obj, dict):
        return {k: _sanitize(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_sanitize(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        if not math.isfinite(v):
            return "inf" if v > 0 else ("-inf" if v < 0 else "nan")
        return round(v, 10)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _f(v) -> float:
    return float(v) if v is not None else math.nan


def _fmt(v, nd=1) -> str:
    if v is None:
        return "-"
    if isinstance(v, str) and v not in ("inf", "nan", "-inf"):
        return v
    v = float(v)
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "not reached"
    if abs(v) >= 1e4 or (abs(v) < 1e-2 and v != 0):
        return f"{v:.2g}"
    return f"{v:.{nd}f}"


def tables_markdown(payload: dict) -> str:
    """Human tables of summary.json."""
    L = ["# Annealing at scale: tables (generated by `python -m analysis.simulation_anneal_scale summarize`)", "",
         "## Cells run: median [min, max] over seeds (fraction reached) | Euler-stepped", "",
         "| kernel | d | N | K_max | eps | best fixed | annealed | fixed s0 | n_ball(best s) | floor rel |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    by = {(r["kernel"], r["dim"], r["n"], r["K_max"], r["schedule"]): r for r in payload["cells"]}
    for kern, d, n, K in sorted({(r["kernel"], r["dim"], r["n"], r["K_max"]) for r in payload["cells"]}):
        cells = schedule_cells(by, (kern, d, n, K), "pending", _fmt)
        b = by.get((kern, d, n, K, "best_fixed"))
        L.append(f"| {kern} | {d} | {n} | {K} | {b['eps']} | " + " | ".join(cells)
                 + f" | {_fmt(b['n_ball'], 2)} | {_fmt(b['floor_rel'], 3)} |")
    L += ["", "## Verdicts (annealed vs best fixed; gain = T_best / T_annealed, medians)", "",
          "| kernel | d | N | K_max | tier | eps | verdict | gain measured | gain theory | decided by |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for v in payload["verdicts"]:
        L.append(f"| {v['kernel']} | {v['dim']} | {v['n']} | {v['K_max']} | {v['tier']} | {v['eps']} | {v['verdict']} | "
                 f"{v['gain_bound'] if v['gain_bound'] != '=' else ''}{_fmt(v['gain'], 2)} | "
                 f"{_fmt(v['gain_theory'], 2)} | {v['decided_by']} |")
    L += ["", "## Mean-field N: lag |T_measured - T_Euler| per N (N:lag; '-' = median not reached) and the N where "
          "it falls to one step + 10 %", "",
          "| kernel | d | K_max | schedule | lags | tol | status | N* | range | alpha |", "|---|---|---|---|---|---|---|---|---|---|"]
    for m in payload["mean_field"]:
        hi = "unbounded" if m.get("N_hi") == "inf" else _fmt(m["N_hi"])  # a leave-one-out fit without decrease
        rng = (f"{_fmt(m['N_lo'])} - {hi}" if m.get("N_lo") not in (None, "nan") else "-")
        L.append(f"| {m['kernel']} | {m['dim']} | {m['K_max']} | {m['schedule']} | {m['lags']} | {_fmt(m['tol'], 2)} | "
                 f"{m['status']} | {_fmt(m['N_star'])} | {rng} | {_fmt(m['alpha'], 2)} |")
    L += ["", "## Open cells (verdict-deciding first)", "",
          "| tier | kernel | d | N | K_max | gain theory | n_ball(best s) | pending runs |", "|---|---|---|---|---|---|---|---|"]
    for s in payload["status"]:
        if not s["done"]:
            L.append(f"| {s['tier']} | {s['kernel']} | {s['dim']} | {s['n']} | {s['K_max']} | {_fmt(s['gain_theory'], 2)} | "
                     f"{_fmt(s['n_ball_best'], 2)} | {s['pending_runs']} |")
    return "\n".join(L) + "\n"


def print_plan(out: Path = RESULTS, grid: dict = GRID, max_n=None, only=None, device: str = "cpu") -> list[dict]:
    """The selected cells in run order with their pending runs, pair evaluations and estimated time."""
    rate = DEFAULT_RATE["cuda" if str(device).startswith("cuda") else "cpu"]
    rows = []
    for c in selected_cells(grid, max_n, only):
        info = cell_info(c, grid)
        runs = pending_runs(Path(out), c, grid)
        pairs = sum(estimate_run(c, name, grid)["pairs"] for _, name in runs)
        rows.append({"cell": c.label, "tier": info["tier"], "gain_theory": round(info["gain_theory"], 2),
                     "n_ball_best": float(f"{info['n_ball_best']:.3g}"), "pending": len(runs), "pairs": pairs,
                     "minutes": pairs / rate / 60})
        print(f"tier {info['tier']}  {c.label:34s} gain(theory) {info['gain_theory']:5.2f}  n_ball {info['n_ball_best']:9.3g}"
              f"  pending {len(runs):2d}  {pairs:9.3g} pairs  ~{pairs / rate / 60:8.1f} min on {device}")
    return rows


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["plan", "run", "summarize"])
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--device", default="cpu", help="cpu or cuda (float32 either way)")
    ap.add_argument("--max-n", type=int, default=None, help="skip cells with N above this")
    ap.add_argument("--only", nargs="*", default=None, help="filters key=v1,v2 (keys: kernel, dim, n, K_max)")
    ap.add_argument("--budget-minutes", type=float, default=None, help="stop cleanly once this much time is spent")
    ap.add_argument("--threads", type=int, default=1,
                    help="CPU threads for the kernel sums (default 1; the results do not depend on it)")
    args = ap.parse_args(argv)
    if args.threads < 1:
        ap.error(f"--threads must be >= 1, got {args.threads}")
    import torch

    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    only = parse_only(args.only)
    if args.command == "plan":
        print_plan(out, GRID, args.max_n, only, args.device)
        return 0
    try:
        if args.command == "run":
            res = run_sweep(out, GRID, device=args.device, max_n=args.max_n, only=only,
                            budget_minutes=args.budget_minutes, threads=args.threads)
            print(json.dumps(res))
        summarize(out)
    except ValueError as exc:  # a folder in use or holding another grid: one line, exit status 1
        ap.exit(1, f"simulation_anneal_scale: error: {exc}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
