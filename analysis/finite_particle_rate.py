r"""Finite-particle rate of the conservative (KDE-gradient) drifting flow of [FP].

[FP] K. Balasubramanian, "Finite-Particle Convergence Rates for Conservative and
Non-Conservative Drifting Models", arXiv:2605.22795 (2026).

Set-up (one run per (d, N, seed)):

* target :math:`p = \mathcal N(0, I_d)`; its Gaussian-smoothed score is exact,
  :math:`\nabla \log (K_h * p)(x) = -x / (1 + h^2)` (no data-sample noise: the measured residual is
  the finite-particle part alone);
* particles :math:`X_1, \dots, X_N` start as exact iid samples of :math:`p`, so the initial joint
  relative entropy :math:`H_N(0)` of [FP]'s entropy identity is 0 and the bound on the time-averaged
  squared velocity is its finite-particle term alone, independent of the horizon :math:`T`;
* velocity :math:`v_t(x) = \nabla \log (K_h * p)(x) - \nabla \log \hat q_{t,h}(x)`, with
  :math:`\hat q_{t,h}` the Gaussian KDE of the particles (self-pairs kept, as in [FP]), computed by
  :func:`driftlab.fields.kde_score` (streamed engine sums, no kernel matrix);
* bandwidth :math:`h = N^{-1/(d+4)}` ([FP], Section 4.3, constant 1); explicit Euler steps of the
  particle ODE :math:`\dot X_i = v_t(X_i)` with :math:`\Delta t \le` ``DT_FACTOR`` :math:`h^2` up to
  ``T_END`` (the continuous-time flow of [FP] discretised; the Euler bias is checked by
  :func:`euler_check`);
* measured: the squared *center velocity* (the velocity at the particles, the centres of the model
  KDE) :math:`\bar v^2(t) = N^{-1} \sum_i |v_t(X_i(t))|^2`, at :math:`t = 0`, at :math:`T` and its
  trapezoid time average over :math:`[0, T]`; the residual velocity is
  :math:`R_N = (T^{-1} \int_0^T \bar v^2\,dt)^{1/2}`, which [FP] bounds by
  :math:`O(N^{-1/(d+4)})` under its h-uniform quadrature condition.

``summarize`` fits :math:`\log R_N` against :math:`\log N` per seed (least squares), reports the mean
slope and its standard error over seeds per d, and the verdict against :math:`-1/(d+4)` (an upper
bound: decay at least as fast is consistent; slower by more than 2 standard errors refutes it;
within 2 standard errors of the exponent says the bound is attained on this example).

Command line::

    OMP_NUM_THREADS=1 python -m analysis.finite_particle_rate run        # resumable
    OMP_NUM_THREADS=1 python -m analysis.finite_particle_rate euler      # Euler-step check
    python -m analysis.finite_particle_rate summarize                    # summary.json
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from driftlab.io import write_json
from driftlab.fields import kde_score

RESULTS = Path(__file__).resolve().parent / "results" / "finite_particle_rate"

T_END = 0.5
DT_FACTOR = 0.5
GRID = {
    1: (256, 512, 1024, 2048, 4096, 8192),
    2: (256, 512, 1024, 2048, 4096),
    3: (256, 512, 1024, 2048, 4096),
    5: (256, 512, 1024, 2048, 4096),
}
SEEDS = (0, 1, 2, 3)
QUICK_GRID = {1: (64, 128, 256, 512, 1024)}
QUICK_SEEDS = (0, 1, 2, 3)

__all__ = ["bandwidth", "target_smoothed_score", "run_one", "sweep", "summarize_runs", "euler_check",
           "rate_exponent", "summary", "load_runs", "QUANTITIES", "GRID", "SEEDS", "QUICK_GRID", "QUICK_SEEDS", "T_END", "DT_FACTOR", "RESULTS"]


def rate_exponent(d: int) -> float:
    """The exponent of [FP]'s bound on the root residual velocity, ``-1 / (d + 4)``."""
    return -1.0 / (d + 4)


def bandwidth(n: int, d: int) -> float:
    """[FP]'s bandwidth choice ``h = N^(-1/(d+4))`` (constant 1)."""
    return float(n) ** (-1.0 / (d + 4))


def target_smoothed_score(x: np.ndarray, h: float) -> np.ndarray:
    r"""Exact :math:`\nabla \log (K_h * \mathcal N(0, I))(x) = -x / (1 + h^2)`."""
    return -x / (1.0 + h * h)


def _center_v2(x: np.ndarray, h: float) -> tuple[float, np.ndarray]:
    v = target_smoothed_score(x, h) - kde_score(x, x, h)
    return float(np.mean(np.sum(v * v, axis=1))), v


def run_one(d: int, n: int, seed: int, *, t_end: float = T_END, dt_factor: float = DT_FACTOR) -> dict:
    """One Euler-stepped conservative flow from exact samples; returns the record (no timings)."""
    h = bandwidth(n, d)
    steps = max(1, math.ceil(t_end / (dt_factor * h * h)))
    dt = t_end / steps
    rng = np.random.default_rng([int(seed), int(d), int(n)])
    x = rng.standard_normal((n, d))
    v2 = []
    for k in range(steps + 1):
        s, v = _center_v2(x, h)
        v2.append(s)
        if k < steps:
            x = x + dt * v
    v2 = np.asarray(v2)
    avg = float((0.5 * (v2[0] + v2[-1]) + v2[1:-1].sum()) / steps)
    return {
        "d": int(d), "n": int(n), "seed": int(seed), "bandwidth": h, "t_end": float(t_end),
        "dt": dt, "steps": int(steps), "dt_factor": float(dt_factor),
        "v2_initial": float(v2[0]), "v2_final": float(v2[-1]), "v2_time_average": avg,
        "residual_velocity": math.sqrt(avg),
        "final_mean_norm": float(np.linalg.norm(x.mean(axis=0))),
        "final_var_mean": float(x.var(axis=0).mean()),
    }


def _run_path(folder: Path, d: int, n: int, seed: int) -> Path:
    return folder / "runs" / f"d{d}_n{n}_s{seed}.json"


def sweep(grid=None, seeds=SEEDS, folder: Path | None = RESULTS) -> list[dict]:
    """All runs of ``grid`` x ``seeds``; with a folder, resumable (finished run files are read back)
    and held by one writer at a time (``driftlab.io.RunFolderBusy`` while another run holds it)."""
    grid = GRID if grid is None else grid
    if folder is None:
        return _sweep(grid, seeds, None)
    from driftlab.io import RunDirectory

    with RunDirectory(folder):
        return _sweep(grid, seeds, Path(folder))


def _sweep(grid, seeds, folder: Path | None) -> list[dict]:
    import json

    out = []
    for d, ns in grid.items():
        for n in ns:
            for seed in seeds:
                path = None if folder is None else _run_path(Path(folder), d, n, seed)
                if path is not None and path.exists():
                    rec = json.loads(path.read_text())
                    if rec.get("t_end") == T_END and rec.get("dt_factor") == DT_FACTOR:
                        out.append(rec)
                        continue
                rec = run_one(d, n, seed)
                if path is not None:
                    write_json(path, rec)
                out.append(rec)
    return out


def _fit(ns, values):
    a = np.polyfit(np.log(np.asarray(ns, float)), np.log(np.asarray(values, float)), 1)
    return float(a[0]), float(math.exp(a[1]))


def summarize_runs(records: list[dict], quantity: str = "residual_velocity") -> dict:
    """Per-d slope of log(quantity) vs log N: per-seed fits, mean, standard error, verdict."""
    dims = sorted({r["d"] for r in records})
    out = {}
    for d in dims:
        rows = [r for r in records if r["d"] == d]
        seeds = sorted({r["seed"] for r in rows})
        ns = sorted({r["n"] for r in rows})
        per_seed = []
        for s in seeds:
            rs = sorted((r for r in rows if r["seed"] == s), key=lambda r: r["n"])
            per_seed.append(_fit([r["n"] for r in rs], [_value(r, quantity) for r in rs])[0])
        slopes = np.asarray(per_seed)
        mean = float(slopes.mean())
        se = float(slopes.std(ddof=1) / math.sqrt(len(slopes))) if len(slopes) > 1 else float("nan")
        bound = rate_exponent(d)
        if mean > bound + 2 * se:
            verdict = "refuted"
        elif abs(mean - bound) <= 2 * se:
            verdict = "consistent, attained"
        else:
            verdict = "consistent, faster than the bound"
        medians = [float(np.median([_value(r, quantity) for r in rows if r["n"] == n])) for n in ns]
        out[str(d)] = {"d": d, "ns": ns, "median": medians, "slopes": per_seed, "slope": mean,
                       "slope_se": se, "bound_exponent": bound, "verdict": verdict}
    return out


def _value(rec: dict, quantity: str) -> float:
    if quantity in ("v2_initial", "v2_final", "v2_time_average"):
        return math.sqrt(rec[quantity])
    return float(rec[quantity])


QUANTITIES = ("residual_velocity", "v2_initial", "v2_final")


def summary(records: list[dict]) -> dict:
    return {"source": "Balasubramanian 2026, arXiv:2605.22795", "t_end": T_END, "dt_factor": DT_FACTOR,
            "target": "N(0, I_d), exact smoothed score", "init": "exact iid samples of the target",
            "bandwidth": "h = N^(-1/(d+4))",
            "fits": {q: summarize_runs(records, q) for q in QUANTITIES}}


def euler_check(folder: Path | None = RESULTS, cases=((1, 1024), (2, 1024))) -> dict:
    """Residual velocity at dt = 0.5 h^2 (the sweep) vs 0.25 h^2 and 0.125 h^2, seed 0."""
    out = []
    for d, n in cases:
        vals = {f: run_one(d, n, 0, dt_factor=f)["residual_velocity"] for f in (0.5, 0.25, 0.125)}
        out.append({"d": d, "n": n, "residual_velocity": vals,
                    "relative_change_0.5_vs_0.125": abs(vals[0.5] - vals[0.125]) / vals[0.125]})
    res = {"cases": out}
    if folder is not None:
        write_json(Path(folder) / "euler_check.json", res)
    return res


def load_runs(folder: Path = RESULTS) -> list[dict]:
    """The finished run files of ``folder`` (read only; raises if there are none)."""
    import json

    paths = sorted((Path(folder) / "runs").glob("*.json"))
    if not paths:
        raise FileNotFoundError(f"no run files in {Path(folder) / 'runs'}: run "
                                "`OMP_NUM_THREADS=1 python -m analysis.finite_particle_rate run` first")
    return [json.loads(p.read_text()) for p in paths]


def main(argv=None) -> None:
    import json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("run", "summarize", "euler"))
    a = ap.parse_args(argv)
    if a.action == "euler":
        print(json.dumps(euler_check(), indent=1))
        return
    recs = sweep() if a.action == "run" else load_runs()
    s = summary(recs)
    write_json(RESULTS / "summary.json", s)
    for q, fits in s["fits"].items():
        for d, f in fits.items():
            print(f"{q:18s} d={d}: slope {f['slope']:+.4f} +- {f['slope_se']:.4f}  "
                  f"bound {f['bound_exponent']:+.4f}  {f['verdict']}")


if __name__ == "__main__":
    main()
