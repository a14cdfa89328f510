r"""[T]'s annealing gain at scale: d = 2..8, K_max = 4..32, N = M = 2^14 ... 2^20 particles.

The checks read the committed summary of ``analysis/simulation_anneal_scale.py``
(``analysis/results/simulation_anneal_scale/summary.json``: one verdict per (kernel, d, N,
K_max) cell from three seeds, and the cells still open); nothing is simulated here, so every
check takes milliseconds. A cell is *mean-field* when at least one particle sits within one
best-fixed bandwidth (n_ball >= 1) and *predicted to gain* when the Euler-stepped linear
theory puts the re-tuned best fixed bandwidth at >= 1.25 x the annealed time at eps = 0.1 (its
``tier`` 0: K_max >= 16, Laplace only in d >= 3 at K_max = 16).

A claim whose deciding cells have not run yet is ``inconclusive``: that is the verdict the
evidence supports, and its note says which cells would decide it (``make gpu-sweep``).
"""

from __future__ import annotations

import json

from driftlab.theory._claims._record import Claim, Evidence, Outcome

_PATH = "analysis/results/simulation_anneal_scale/summary.json"
#: the evidence is the summary of the committed run files; ``summarize`` regenerates it from them
#: byte for byte (the runs themselves: ``python -m analysis.simulation_anneal_scale run``, see the README)
_CMD = "python -m analysis.simulation_anneal_scale summarize"
_SHA = "ffffc326eb1e05617bf97ee8e20c06c08d47be2ec3ac78731f4c8c6d41b44905"


def _summary(summary: dict | None) -> dict:
    if summary is not None:
        return summary
    from driftlab.repro import repo_root

    return json.loads((repo_root() / _PATH).read_text())


def _deciding(s: dict, min_dim: int = 2) -> list[dict]:
    """Complete tier-0 cells (every seed run); a partial cell is reported, never judged."""
    return [v for v in s["verdicts"] if v["tier"] == 0 and v["dim"] >= min_dim and v["complete"]]


def _partial(s: dict, min_dim: int = 2) -> str:
    cells = [v for v in s["verdicts"] if v["tier"] == 0 and v["dim"] >= min_dim and not v["complete"]]
    return "; ".join(f"partial {_cell(v)} ({v['seeds']} seeds): {v['verdict']}, gain "
                     f"{v['gain_bound'] if v['gain_bound'] != '=' else ''}{float(v['gain']):.2f}" for v in cells)


def _open_deciding(s: dict, min_dim: int = 2) -> list[dict]:
    return [c for c in s["status"] if c["tier"] == 0 and c["dim"] >= min_dim and not c["done"]]


def _cell(v: dict) -> str:
    return f"{v['kernel']} d={v['dim']} N={v['n']} K_max={v['K_max']}"


def check_mean_field_win(quick: bool, summary: dict | None = None, min_dim: int = 3) -> Outcome:
    """Every run cell of tier 0 with d >= ``min_dim`` is an annealing win (verified), any loss or
    tie refutes, no such cell run: inconclusive."""
    s = _summary(summary)
    cells = _deciding(s, min_dim)
    detail = {"cells": [{"cell": _cell(v), "verdict": v["verdict"], "gain": v["gain"], "bound": v["gain_bound"],
                         "gain_theory": v["gain_theory"]} for v in cells],
              "open": [_cell(c) for c in _open_deciding(s, min_dim)]}
    if not cells:
        part = _partial(s, min_dim)
        return Outcome(float("nan"), f"no complete mean-field cell with predicted gain in d >= {min_dim} yet "
                       f"({len(detail['open'])} open" + (f"; {part}" if part else "") + ")", "inconclusive", detail)
    bad = [v for v in cells if v["verdict"] != "win"]
    gains = [float(v["gain"]) for v in cells]
    shown = "; ".join(f"{_cell(v)}: {v['verdict']}, gain {v['gain_bound'] if v['gain_bound'] != '=' else ''}"
                      f"{float(v['gain']):.2f} (theory {float(v['gain_theory']):.2f})" for v in cells)
    return Outcome(min(gains), shown, "refuted" if bad else "verified", detail)


def check_annealed_follows_theory(quick: bool, summary: dict | None = None, slack: float = 1.0) -> Outcome:
    """In the tier-0 cells run, the annealed median time is the Euler-stepped prediction within
    ``slack`` x (one step + 10 %) (the summary's ``annealed_follows_euler``, recomputed here)."""
    s = _summary(summary)
    eta = float(s["grid"]["eta"])
    cells = [v for v in _deciding(s, 2)]
    rows = {(r["kernel"], r["dim"], r["n"], r["K_max"]): r for r in s["cells"] if r["schedule"] == "annealed"}
    devs, out = [], []
    for v in cells:
        r = rows[(v["kernel"], v["dim"], v["n"], v["K_max"])]
        t, te = float(r["T_median"]), float(r["T_theory_euler"])
        tol = slack * (eta + 0.1 * te)
        dev = abs(t - te) if (r["frac_reached"] == 1.0) else float("inf")
        devs.append(dev / tol)
        out.append({"cell": _cell(v), "T_median": t, "T_euler": te, "tol": tol, "dev": dev})
    if not devs:
        part = _partial(s, 2)
        return Outcome(float("nan"), "no complete tier-0 cell yet" + (f" ({part})" if part else ""), "inconclusive",
                       {"cells": out})
    worst = max(devs)
    shown = "; ".join(f"{o['cell']}: {o['T_median']:.1f} vs Euler {o['T_euler']:.1f}" for o in out)
    return Outcome(worst, f"max |T - T_Euler| / tol = {worst:.2f} ({shown})", "verified" if worst <= 1 else "refuted",
                   {"cells": out})


def check_win_every_dim(quick: bool, summary: dict | None = None, dims: tuple[int, ...] = (2, 3, 4)) -> Outcome:
    """The annealing win holds in every d of ``dims`` at a mean-field N (tier 0): verified when
    each d has a tier-0 win and no tier-0 loss/tie; refuted on any tier-0 loss/tie; otherwise
    inconclusive (the deciding cells are open)."""
    s = _summary(summary)
    cells = [v for v in _deciding(s, 2) if v["dim"] in dims]
    by_d = {d: [v for v in cells if v["dim"] == d] for d in dims}
    open_d = {d: [_cell(c) for c in _open_deciding(s, 2) if c["dim"] == d] for d in dims}
    bad = [v for v in cells if v["verdict"] != "win"]
    missing = [d for d in dims if not any(v["verdict"] == "win" for v in by_d[d])]
    detail = {"run": {str(d): [f"{_cell(v)}: {v['verdict']}" for v in by_d[d]] for d in dims},
              "open": {str(d): open_d[d] for d in dims}}
    if bad:
        return Outcome(float(len(bad)), "not a win: " + "; ".join(f"{_cell(v)} {v['verdict']}" for v in bad),
                       "refuted", detail)
    if missing:
        return Outcome(float(len(missing)), f"wins in d = {', '.join(str(d) for d in dims if d not in missing) or 'none'}; "
                       f"d = {', '.join(map(str, missing))} not decided (open mean-field cells: "
                       f"{', '.join(open_d[missing[0]][:2]) or 'none in the grid'} ...)", "inconclusive", detail)
    return Outcome(0.0, f"wins in every d = {', '.join(map(str, dims))}", "verified", detail)


_EV = Evidence(_PATH, _SHA, _CMD)

CLAIMS: list[Claim] = [
    Claim("annealing-scale.mean-field-win-d3", "annealing-scale", "[T]",
          "Beyond d = 2: where the particles are mean-field (>= 1 particle per best-fixed kernel ball) and the "
          "linear theory predicts an annealing gain (K_max >= 16), exponential annealing reaches eps before the "
          "re-tuned best fixed bandwidth in every seed (d >= 3, N = M >= 2^14, float32 particles, 3 seeds)",
          "every such cell a win: slowest annealed seed faster than the fastest best-fixed seed, or best fixed "
          "not reaching eps by t_max", "seed ranges on the eta = 0.5 grid, no distributional assumption: a win "
          "needs separated ranges; the tolerance eps of a cell sits above twice its measured noise floor",
          check_mean_field_win, tier="default", expected="verified", figures=("simulation-anneal-scale",),
          evidence=_EV, note="rests on the two d >= 3 mean-field cells run so far (Gaussian d = 3, K_max = 16 at N = 2^14 "
                             "and 2^16, 3 seeds each, CPU): annealing wins in every seed of both. At 2^14 best fixed "
                             "does not reach eps = 0.4 by t = 48 (gain > 1.78, theory 2.04); at 2^16 the finite-N "
                             "floor is lower (eps = 0.15), annealing reaches it at t = 20 (Euler 22) and best fixed "
                             "in no seed by t = 48 (gain > 2.40). The other d = 3 cells (Laplace K_max = 16 and "
                             "Gaussian K_max = 32 at 2^16, everything at 2^18 and 2^20) are open and each can "
                             "overturn it (`make gpu-sweep`)"),
    Claim("annealing-scale.annealed-follows-theory", "annealing-scale", "[T]",
          "In those mean-field cells the annealed particles reach eps at the time the Euler-stepped linear theory "
          "predicts (d = 2..8, K_max = 16, 32)",
          "|median - Euler| <= one step + 10 % of the prediction",
          "the run is discrete (eta = 0.5): one step of quantisation plus 10 % for the seed spread and the "
          "finite-N floor; the committed 1-D and d = 2 runs follow within one step",
          check_annealed_follows_theory, tier="default", expected="refuted", figures=("simulation-anneal-scale",),
          evidence=_EV, note="refuted at N = 2^14 in three of the four cells run there (Gaussian d = 3 K_max = 16: 27.0 vs "
                             "Euler 11.0; Gaussian d = 2 K_max = 32: 32.5 vs 11.0; Laplace d = 2 K_max = 32: 29.5 vs "
                             "13.5), followed exactly in the fourth (Gaussian d = 2 K_max = 16 at eps = 0.1: 26.5 vs "
                             "26.5): where eps sits close to the finite-N floor, the floor, not the linear decay, "
                             "sets the time. The first cell at N = 2^16 follows the theory (Gaussian d = 3 K_max = 16: "
                             "the floor falls from 0.15 to 0.06, eps from 0.4 to 0.15, and the annealed median is 20.0 "
                             "vs Euler 22.0, within one step + 10 %), which points at finite N, not the theory, as "
                             "what refutes; the claim stays refuted while any complete cell misses"),
    Claim("annealing-scale.win-every-dim", "annealing-scale", "[T]",
          "The O(log K) annealing gain holds in every dimension d = 2, 3, 4 at a mean-field N (K_max >= 16)",
          "each d has a mean-field predicted-gain cell that is a win, and none is a loss or tie",
          "as annealing-scale.mean-field-win-d3; d = 4 is mean-field at K_max = 16 only from N ~ 2^18 "
          "(n_ball = 0.1 at 2^14), so this is decided by the GPU cells", check_win_every_dim, tier="default",
          expected="inconclusive", figures=("simulation-anneal-scale",), evidence=_EV,
          note="open until the mean-field K_max = 16 cells at d = 4 (N = 2^18, 2^20) have run: "
               "`make gpu-sweep` runs them first among the open cells. Below the mean field (N = 2^14, "
               "n_ball 0.002-0.1) every d = 4 cell at K_max = 16, 32 is already a win in every seed (gain > 2.2, "
               "both kernels), but there the finite-N floor, not the linear decay, decides"),
]
