r"""Experiments 3b/3c: annealed vs fixed bandwidth as the finest scale K_max grows.

Target: a multi-scale density on the torus ``[0, 1)^d``,
:math:`p(x) = 1 + a\sum_{j} \cos(2\pi n_j\, e_{(j)}\cdot x)` with the geometric ladder
:math:`n_j = 1, 2, 4, \dots, K_{\max}` (mode j along axis ``j mod d``). Particles start
uniform. Convergence time = first time every ladder mode's coefficient error
:math:`|\hat q_t(k_j) - \hat p_M(k_j)|` has fallen below ``eps`` times its initial value.

Compared, per K_max: the coarse fixed bandwidth s0 (tuned to the lowest mode), the best
fixed bandwidth for that ladder (:func:`driftlab.spectral.timescales.best_fixed_bandwidth`)
and exponential annealing :math:`s_0e^{-rt}` with one rate r for all K
(``r = r_frac * admissible_rate``). Predictions: the continuous-time
:func:`~driftlab.spectral.timescales.convergence_time` and the same linear theory stepped
with the simulator's explicit Euler map (per step a mode is multiplied by
:math:`1 - \eta\lambda(k; s(t_i))`), which is the exact linear prediction for the discrete run.

* 1-D (3b): target = stratified quantiles of p (M points), particles on a grid: no Monte
  Carlo noise, lattice-sum periodic kernel.
* d = 2..8 (3c): iid particles; target = iid uniform points pushed by the displacement map
  :math:`x - a\sum_j k_j\sin(k_j\cdot x)/|k_j|^2` (density p to first order); minimum-image
  kernel. Finite N puts a noise floor ~ N^{-1/2} under every mode, so ``eps`` must sit
  above it.
"""

from __future__ import annotations

import math

import numpy as np

from driftlab.kernels import make_kernel
from driftlab.simulation import SimulationConfig, run_simulation
from driftlab.spectral.schedules import ConstantSchedule, ExponentialSchedule
from driftlab.spectral.timescales import admissible_rate, best_fixed_bandwidth, convergence_time

__all__ = [
    "EPS_GRID",
    "choose_eps",
    "compare_schedules",
    "convergence_time_measured",
    "default_s0",
    "displaced_target",
    "euler_time",
    "ladder",
    "noise_floor",
    "quantile_target_1d",
]

#: Tolerances the finite-N sweep may choose from (smallest one above the noise-floor margin).
EPS_GRID = (0.1, 0.15, 0.2, 0.3, 0.4, 0.5)


def ladder(k_max: int) -> list[int]:
    """1, 2, 4, ..., k_max (k_max a power of two)."""
    out, n = [], 1
    while n <= k_max:
        out.append(n)
        n *= 2
    return out


def quantile_target_1d(m: int, modes, amp: float) -> np.ndarray:
    """M stratified quantiles of p(x) = 1 + amp sum cos(2 pi n x) on [0, 1) (Newton on the CDF)."""
    u = (np.arange(m) + 0.5) / m
    x = u.copy()
    for _ in range(50):
        F = x + sum(amp * np.sin(2 * np.pi * n * x) / (2 * np.pi * n) for n in modes)
        f = 1 + sum(amp * np.cos(2 * np.pi * n * x) for n in modes)
        step = (F - u) / f
        x = x - step
        if np.abs(step).max() < 1e-15:
            break
    return x[:, None]


def displaced_target(m: int, dim: int, kvecs: np.ndarray, amp: float, rng) -> np.ndarray:
    base = rng.uniform(0, 1, size=(m, dim))
    disp = np.zeros_like(base)
    for k in kvecs:
        disp -= amp * np.outer(np.sin(base @ k), k) / float(k @ k)
    return np.mod(base + disp, 1.0)


def _kvecs(modes, dim):
    out = np.zeros((len(modes), dim))
    for j, n in enumerate(modes):
        out[j, j % dim] = n
    return out


def convergence_time_measured(res, n_modes: int, eps: float) -> float:
    t = res.column("t")
    rel = np.zeros((len(t), n_modes))
    for j in range(n_modes):
        rel[:, j] = res.column(f"mode{j}_abs")
    rel = rel / rel[0]
    ok = np.nonzero(rel.max(axis=1) <= eps)[0]
    return float(t[ok[0]]) if len(ok) else math.inf


def euler_time(kernel, kmods, eps, schedule, eta, dim, t_max) -> float:
    """Linear theory stepped with the Euler map (the discrete run's exact linear prediction)."""
    from driftlab.spectral import rate_at_scale

    target = math.log(1 / eps)
    acc = np.zeros(len(kmods))
    for i in range(int(t_max / eta) + 1):
        if np.all(acc >= target):
            return i * eta
        lam = rate_at_scale(kernel, np.asarray(kmods), float(schedule.bandwidth(i * eta)), dim)
        acc += -np.log(np.abs(1 - eta * lam))
    return math.inf


def default_s0(kernel: str, dim: int, k1: float = 2 * math.pi, wrap: str = "lattice",
               trunc: float = 0.005) -> float:
    """Coarse initial/fixed bandwidth: the rate peak of the lowest mode ``k1`` (Gaussian: sqrt(2)/k1).

    With ``wrap="minimum_image"`` it is also capped where the kernel's value at the box face
    (distance 1/2 on the unit torus) equals ``trunc`` (Gaussian s = 0.153, Laplace tau = 0.094), so
    the minimum-image truncation changes the spectrum by <~ trunc.
    """
    kern = make_kernel(kernel, 1.0)
    s = math.sqrt(2.0) / k1 if kernel == "gaussian" else best_fixed_bandwidth(kern, [k1], dim)[0]
    if wrap == "minimum_image":
        cap = {"gaussian": 0.5 / math.sqrt(2 * math.log(1 / trunc)), "laplace": 0.5 / math.log(1 / trunc)}
        s = min(s, cap.get(kernel, s))
    return float(s)


def noise_floor(res, n_modes: int, late_frac: float = 1 / 3, predicted_rel=None, done_below: float = 0.05) -> dict:
    """Plateau of the mode errors late in a run (median over the last ``late_frac`` of the records).

    ``predicted_rel`` (optional, shape (n_modes,)): the linear theory's relative amplitude of
    each mode at the start of the late window. Only modes predicted to have decayed below
    ``done_below`` count towards the floor (a mode still decaying there says nothing about the
    floor: its late value would overstate it); without it every mode counts.

    Returns ``abs`` (max over counted modes of the late median |q_hat - p_hat|), ``rel`` (max over
    counted modes of late median / initial amplitude), ``counted`` (mode indices used),
    ``rel_all`` (per mode) and ``n_late`` (records used).
    """
    amps = np.stack([res.column(f"mode{j}_abs") for j in range(n_modes)], axis=1)
    n_late = max(1, math.ceil(late_frac * len(amps)))
    late = np.median(amps[-n_late:], axis=0)
    rel = late / amps[0]
    counted = list(range(n_modes)) if predicted_rel is None else [
        j for j in range(n_modes) if predicted_rel[j] <= done_below]
    if not counted:
        return {"abs": math.nan, "rel": math.nan, "counted": [], "rel_all": rel.tolist(), "n_late": n_late}
    return {"abs": float(late[counted].max()), "rel": float(rel[counted].max()), "counted": counted,
            "rel_all": [float(v) for v in rel], "n_late": n_late}


def choose_eps(floor_rel: float, base: float = 0.1, margin: float = 2.0, grid=EPS_GRID) -> tuple[float, bool]:
    """Smallest tolerance on ``grid`` that is >= ``base`` and >= ``margin`` x the relative noise floor.

    Returns ``(eps, floor_limited)``; ``floor_limited`` is True when even the largest grid value
    is below ``margin * floor_rel`` (then the largest is returned: times there are floor-dominated).
    """
    need = max(base, margin * floor_rel)
    for e in sorted(grid):
        if e >= need - 1e-12:
            return float(e), False
    return float(max(grid)), True


def _run(kernel, schedule_kw, x, y, modes_int, dim, eta, t_max, wrap, backend, eps, *, dtype: str = "float64",
         early_stop: bool = True, seed: int = 0):
    cfg = SimulationConfig(kernel=kernel, step=eta, n_steps=int(round(t_max / eta)), period=1.0, wrap=wrap,
                           modes=[list(v) for v in modes_int], obs_points=16, backend=backend, num_threads=1,
                           dtype=dtype, seed=seed, checkpoint_every=0, **schedule_kw)
    init = {}

    def converged(rec):
        if not early_stop:
            return False
        amps = np.array([rec[f"mode{j}_abs"] for j in range(len(modes_int))])
        if not init:
            init["a0"] = amps
        return bool(np.all(amps <= eps * init["a0"]))

    res = run_simulation(cfg, x, y, progress=False, stop_when=converged)
    return convergence_time_measured(res, len(modes_int), eps), res


def compare_schedules(k_maxes, *, dim: int = 1, kernel: str = "gaussian", n: int = 2048, m: int | None = None,
                      eps: float = 0.1, amp: float | None = None, eta: float = 0.5, r_frac: float = 0.5,
                      s0: float | None = None, t_max: float = 150.0, seed: int = 0, s_min: float = 0.0) -> list[dict]:
    """Measured and predicted convergence times for coarse-fixed, best-fixed and annealed bandwidths."""
    m = m or n
    rng = np.random.default_rng(seed)
    kern = make_kernel(kernel, 1.0)
    k1 = 2 * np.pi
    # the lowest mode at its rate peak (Gaussian: sqrt(2)/k1, as before; other kernels: numerically)
    s0 = s0 or default_s0(kernel, dim, k1)
    rows = []
    all_modes = ladder(max(k_maxes))
    r = r_frac * admissible_rate(kern, [k1], eps, s0, dim)
    for K in k_maxes:
        modes = ladder(K)
        a = amp if amp is not None else 0.5 / len(all_modes)
        kv_int = _kvecs(modes, dim)
        kmods = 2 * np.pi * np.asarray(modes, dtype=float)
        if dim == 1:
            y = quantile_target_1d(m, modes, a)
            x = (np.arange(n)[:, None] + 0.5) / n
            wrap, backend = "lattice", ("sdpa" if kernel == "gaussian" else "torch")
        else:
            y = displaced_target(m, dim, 2 * np.pi * kv_int, a, rng)
            x = rng.uniform(0, 1, size=(n, dim))
            wrap, backend = "minimum_image", "torch"
        s_best, _ = best_fixed_bandwidth(kern, kmods, dim)
        schedules = {
            "fixed_s0": ({"scale": s0}, ConstantSchedule(s0)),
            "best_fixed": ({"scale": s_best}, ConstantSchedule(s_best)),
            "annealed": ({"scale": s0, "schedule": "exponential", "rate": r, "s_min": s_min},
                         ExponentialSchedule(s0, r, s_min)),
        }
        for name, (kw, sch) in schedules.items():
            theory = convergence_time(kern, kmods, eps, sch, dim)
            theory_euler = euler_time(kern, kmods, eps, sch, eta, dim, t_max)
            if name == "fixed_s0" and not (theory < t_max):
                measured, secs = math.inf, 0.0  # predicted beyond the cap: not simulated
                simulated = False
            else:
                measured, res = _run(kernel, kw, x, y, kv_int.astype(int), dim, eta, t_max, wrap, backend, eps)
                secs, simulated = res.info["elapsed_s"], True
            rows.append({"dim": dim, "kernel": kernel, "K_max": K, "schedule": name, "s0": kw["scale"],
                         "r": r if name == "annealed" else 0.0, "eps": eps, "n": n, "m": m, "eta": eta,
                         "T_theory": theory, "T_theory_euler": theory_euler, "T_measured": measured,
                         "simulated": simulated, "t_max": t_max, "seconds": secs})
    return rows


