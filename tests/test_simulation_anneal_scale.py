"""The annealing-at-scale sweep (analysis/simulation_anneal_scale.py): resume, grid refusal,
budget stop, cell order, the N extrapolation, and the ledger claims that read its summary.

The sweep runs here on a tiny grid (N = 64, d = 2, K_max = 2 and 4, two seeds, t_max 4-6:
~1 s on one core); the committed results are read, never recomputed.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

import analysis.simulation_anneal_scale as S

TINY = dict(S.GRID, kernels=["gaussian"], dims=[2], k_maxes=[2, 4], ns=[64], seeds=[0, 1],
            t_max={"2": 4.0, "4": 6.0})


def _files(folder: Path) -> dict[str, bytes]:
    """Every deterministic output (run files, grid, summary tables); timings.csv holds wall times."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in ("timings.csv", ".lock")}


class FakeClock:
    """Seconds that advance by ``step`` on every reading (the sweep reads the clock around each run)."""

    def __init__(self, step: float):
        self.t, self.step = 0.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("scale_full")
    res = S.run_sweep(out, TINY, progress=False)
    S.summarize(out, TINY)
    return out, res


def test_uninterrupted_tiny_sweep_finishes(full_run):
    out, res = full_run
    # 2 cells x 2 seeds x (annealed + best fixed) + coarse fixed where its Euler time at eps = 0.5 is
    # below t_max (K_max = 2 only: 2 seeds)
    n_coarse = sum(S.runs_coarse_fixed(S.Cell("gaussian", 2, 64, k), TINY) for k in (2, 4)) * 2
    assert res["stopped"] is None and res["pending"] == 0 and res["runs_done"] == 8 + n_coarse, res
    assert len(list((out / "runs").glob("*.json"))) == 8 + n_coarse
    payload = json.loads((out / "runs" / "gaussian_d2_n64_K4_s0_best_fixed.json").read_text())
    assert "seconds" not in payload and "elapsed_s" not in payload  # wall times stay out of the run files
    assert payload["t"][-1] == pytest.approx(6.0, abs=0)  # phase A runs to t_max (exact on the 0.5 grid)


def test_interrupted_and_resumed_sweep_is_byte_identical(full_run, tmp_path):
    ref, _ = full_run
    # budget 1 min, the clock advancing 25 s per reading: the budget is spent after the first run
    res = S.run_sweep(tmp_path, TINY, progress=False, budget_minutes=1.0, clock=FakeClock(25.0))
    assert res["stopped"] in ("budget", "next run does not fit") and 0 < res["runs_done"] < 8, res
    assert res["pending"] > 0, res
    partial = _files(tmp_path)
    full = _files(ref)
    for name, data in partial.items():  # whatever was written before the stop is final
        if name.startswith("runs/"):
            assert data == full[name], name
    res2 = S.run_sweep(tmp_path, TINY, progress=False)
    assert res2["pending"] == 0 and res2["runs_done"] == len([n for n in full if n.startswith("runs/")]) - res["runs_done"]
    S.summarize(tmp_path, TINY)
    resumed = _files(tmp_path)
    assert resumed.keys() == full.keys(), sorted(set(resumed) ^ set(full))
    diff = [n for n in full if resumed[n] != full[n]]
    assert not diff, f"files differ after resume: {diff}"


def test_a_mismatched_grid_is_refused(full_run):
    out, _ = full_run
    before = _files(out)
    other = dict(TINY, t_max={"2": 4.0, "4": 8.0})
    with pytest.raises(ValueError, match="different grid.*t_max"):
        S.run_sweep(out, other, progress=False)
    with pytest.raises(ValueError, match="different grid.*amp"):
        S.check_grid(out, dict(TINY, amp=0.1))
    with pytest.raises(ValueError, match="different grid"):
        S.summarize(out, dict(TINY, seeds=[0, 1, 2]))
    assert _files(out) == before  # nothing written


def test_a_folder_in_use_is_refused(tmp_path):
    # a second sweep on a folder whose lock is held (here by this process, as by a live run) must
    # refuse before it simulates anything, then run once the lock is dropped
    from driftlab.io import RunDirectory, RunFolderBusy

    with RunDirectory(tmp_path):
        with pytest.raises(RunFolderBusy, match="in use"):
            S.run_sweep(tmp_path, TINY, progress=False)
        assert not list(tmp_path.glob("runs/*.json"))
    res = S.run_sweep(tmp_path, TINY, progress=False, budget_minutes=5.0, rates={"cpu": 1.0, "cuda": 1.0},
                      clock=FakeClock(0.0))
    assert res["runs_done"] == 1, res
    # the command line reports it in one line, exit status 1
    with RunDirectory(tmp_path):
        with pytest.raises(SystemExit) as exc:
            S.main(["run", "--out", str(tmp_path)])
    assert exc.value.code == 1


def test_budget_stops_before_a_run_that_does_not_fit(tmp_path):
    # a throughput of 1 pair/s makes every estimate ~1e5 s: the first run always starts, the next not
    res = S.run_sweep(tmp_path / "a", TINY, progress=False, budget_minutes=5.0, rates={"cpu": 1.0, "cuda": 1.0},
                      clock=FakeClock(0.0))
    assert res["runs_done"] == 1 and res["stopped"] == "next run does not fit", res
    # the clock advances 20 s per reading (start, check, run start, run end, log line) and the budget
    # is 1 min: the first run starts at 20 s, the next check reads 100 s: stop after that run
    res = S.run_sweep(tmp_path / "b", TINY, progress=False, budget_minutes=1.0, clock=FakeClock(20.0))
    assert res["runs_done"] == 1 and res["stopped"] == "budget", res
    assert len(list((tmp_path / "b" / "runs").glob("*.json"))) == 1
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="budget_minutes"):
            S.run_sweep(tmp_path / "c", TINY, progress=False, budget_minutes=bad)
    with pytest.raises(ValueError, match="device"):
        S.run_sweep(tmp_path / "c", TINY, progress=False, device="tpu")


def test_estimate_counts_both_kernel_sums():
    # phase A at N = M = 64, t_max 6, eta 0.5: 12 steps x N x (M + N) pairs
    est = S.estimate_run(S.Cell("gaussian", 2, 64, 4), "best_fixed", TINY)
    assert est == {"steps": 12, "pairs": 12 * 64 * 128.0}, est


def test_cell_order_puts_the_deciding_cells_first():
    from driftlab.kernels import make_kernel
    from driftlab.spectral.timescales import best_fixed_bandwidth

    cells = S.order_cells(S.GRID)
    assert len(cells) == 2 * 4 * 4 * 4 and len(set(cells)) == len(cells)
    info = [S.cell_info(c) for c in cells]
    tiers = [i["tier"] for i in info]
    assert tiers == sorted(tiers), tiers
    for t in set(tiers):  # N ascending within a tier
        ns = [c.n for c, i in zip(cells, info) if i["tier"] == t]
        assert ns == sorted(ns), (t, ns)
    # the first cell: Gaussian d = 3, K_max = 16 at N = 2^14, n_ball = N x 4/3 pi s^3 (closed form of
    # the 3-ball's volume, s from driftlab.spectral's best_fixed_bandwidth), between 1 and 10
    assert cells[0] == S.Cell("gaussian", 3, 2 ** 14, 16), cells[:3]
    s = best_fixed_bandwidth(make_kernel("gaussian", 1.0), [2 * math.pi * n for n in (1, 2, 4, 8, 16)], 3)[0]
    nb = 2 ** 14 * 4 / 3 * math.pi * s ** 3
    assert info[0]["n_ball_best"] == pytest.approx(nb, rel=1e-12) and 1 <= nb < 10, (info[0]["n_ball_best"], nb)
    # tier 0 = predicted gain >= 1.25 and n_ball >= 1; the Gaussian K_max = 16 prediction is the one the
    # committed d = 2 supplement quotes (Euler-stepped: annealed 26.5, best fixed 54.0)
    i16 = S.cell_info(S.Cell("gaussian", 2, 2 ** 14, 16))
    assert (i16["T_euler_annealed"], i16["T_euler_best"]) == (26.5, 54.0), i16
    for c, i in zip(cells, info):
        if i["tier"] == 0:
            assert i["gain_theory"] >= 1.25 and i["n_ball_best"] >= 1 and c.k_max >= 16, (c, i)
        if c.dim == 8:
            assert i["tier"] in (1, 3), (c, i)  # never mean-field in this grid


def test_filters_and_max_n():
    cells = S.selected_cells(S.GRID, max_n=2 ** 14, only=S.parse_only(["kernel=laplace", "dim=2,3"]))
    assert cells and all(c.kernel == "laplace" and c.dim in (2, 3) and c.n == 2 ** 14 for c in cells)
    assert len(cells) == 2 * 4
    with pytest.raises(ValueError, match="unknown key"):
        S.selected_cells(S.GRID, only={"colour": ["red"]})
    with pytest.raises(ValueError, match="key=value"):
        S.parse_only(["kernel"])


def test_mean_field_extrapolation_on_a_power_law():
    # lag = 10 N^-1/2 exactly: lag = 0.05 at N* = (10 / 0.05)^2 = 40000 (float64 round-off of a
    # log-log least-squares fit on exact points: 1e-9 relative)
    pts = [(n, 10 * n ** -0.5) for n in (1024, 4096, 16384)]
    m = S.mean_field_n(pts, 0.05)
    assert m["status"] == "extrapolated" and m["N_star"] == pytest.approx(40000, rel=1e-9), m
    assert m["alpha"] == pytest.approx(0.5, rel=1e-9) and m["N_lo"] == pytest.approx(40000, rel=1e-9), m
    # the largest N within tolerance: the smallest N from which every lag is within it
    assert S.mean_field_n([(1024, 2.0), (4096, 0.2), (16384, 0.1)], 0.5)["N_star"] == 4096
    # a lag that grows with N cannot be extrapolated; no finite time: nothing to say
    assert S.mean_field_n([(1024, 1.0), (4096, 2.0)], 0.5)["N_star"] is None
    assert S.mean_field_n([(1024, math.inf)], 0.5)["status"] == "no finite times"


def test_mean_field_uncertainty_is_unbounded_when_a_leave_one_out_fit_does_not_decrease():
    # lags 2.5, 2.5, 2.0: the fit on all three decreases, the fit without N = 16384 is flat
    # (its slope is 0 up to float64 round-off), so no finite upper end of the N* range exists:
    # N_hi must be infinite by construction, not by an overflowing exp (no RuntimeWarning)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = S.mean_field_n([(1024, 2.5), (4096, 2.5), (16384, 2.0)], 1.05)
    assert m["status"] == "extrapolated" and math.isfinite(m["N_star"]), m
    assert m["N_hi"] == math.inf and m["N_lo"] is not None and m["N_lo"] <= m["N_star"], m
    # an exactly flat lag is "does not decrease", whatever the round-off of the fit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flat = S.mean_field_n([(1024, 2.5), (4096, 2.5)], 1.0)
    assert flat["N_star"] is None and flat["status"] == "lag does not decrease with N", flat


def test_mean_field_is_not_extrapolated_past_a_larger_n_that_did_not_reach_eps():
    # lags 2.0, 1.5 then a seed that never reached eps at N = 16384: a power law through the
    # first two says N* ~ 2.9e4, but the largest N run contradicts the trend; no N* is claimed
    m = S.mean_field_n([(1024, 2.0), (4096, 1.5), (16384, math.inf)], 1.0)
    assert m["N_star"] is None and "largest N" in m["status"], m
    # an unreached smaller N does not stop a fit on the larger ones (lag = 10 N^-1/2 beyond it)
    pts = [(256, math.inf)] + [(n, 10 * n ** -0.5) for n in (1024, 4096, 16384)]
    assert S.mean_field_n(pts, 0.05)["N_star"] == pytest.approx(40000, rel=1e-9)


def test_tables_call_an_infinite_upper_end_of_the_n_star_range_unbounded():
    # summary.json spells infinity "inf" (JSON has none); the human table must not call an
    # unbounded range "not reached", which is what the schedule columns say of a missed eps
    m = {"kernel": "gaussian", "dim": 8, "K_max": 8, "schedule": "annealed", "lags": "1024:2.5 4096:2.5 16384:2.0",
         "tol": 1.05, "status": "extrapolated", "N_star": 7.8e7, "N_lo": 9.0e5, "N_hi": "inf", "alpha": 0.08}
    text = S.tables_markdown({"cells": [], "verdicts": [], "mean_field": [m], "status": []})
    row = [ln for ln in text.splitlines() if ln.startswith("| gaussian | 8 | 8 | annealed")]
    assert row and "9e+05 - unbounded" in row[0], (row, text)


# ----- the ledger claims read the committed summary ------------------------------------------
def test_claims_read_the_committed_summary_and_turn_on_changed_verdicts():
    from driftlab.repro import repo_root
    from driftlab.theory._claims import annealing_scale as A

    summary = json.loads((repo_root() / "analysis/results/simulation_anneal_scale/summary.json").read_text())
    for c in A.CLAIMS:
        assert c.check(True).verdict == c.expected, (c.id, c.check(True).display)
    deciding = [v for v in summary["verdicts"] if v["tier"] == 0 and v["complete"]]
    if deciding:  # a changed verdict in one deciding cell refutes the win claims
        bad = json.loads(json.dumps(summary))
        for v in bad["verdicts"]:
            if v["tier"] == 0 and v["complete"]:
                v["verdict"] = "loss"
                break
        assert A.check_mean_field_win(True, summary=bad, min_dim=2).verdict == "refuted"
        assert A.check_win_every_dim(True, summary=bad).verdict == "refuted"
    empty = dict(summary, verdicts=[])  # no deciding cell run: inconclusive, never verified
    assert A.check_mean_field_win(True, summary=empty).verdict == "inconclusive"
    assert A.check_annealed_follows_theory(True, summary=empty).verdict == "inconclusive"
    assert A.check_win_every_dim(True, summary=empty).verdict == "inconclusive"


def test_claims_refuse_a_changed_evidence_hash(monkeypatch):
    from driftlab.theory import ledger as L
    from driftlab.theory._claims import annealing_scale as A

    claim = A.CLAIMS[0]
    (res,) = L.run_claims([claim.id])  # the recorded hash matches the committed file
    assert res.evidence_status == "hash ok" and res.outcome.verdict == claim.expected, res.outcome.display
    ev = dataclasses.replace(claim.evidence[0], sha256="0" * 64)
    monkeypatch.setattr(L, "CLAIMS", [dataclasses.replace(claim, evidence=(ev,))])
    (res,) = L.run_claims([claim.id])
    assert res.outcome.verdict == "inconclusive" and "changed" in res.outcome.display, res.outcome.display


def test_thread_count_does_not_change_the_run_files(tmp_path):
    # N = 1024: 2^21 pairs per step, above the engine's threshold for splitting rows between
    # threads (numba backend; the torch fallback splits its tiles the same way per row)
    from driftlab.engine._numba import PARALLEL_MIN_PAIRS

    grid = dict(TINY, k_maxes=[2], ns=[1024], seeds=[0])
    assert 1024 * 2048 >= PARALLEL_MIN_PAIRS
    outs = {}
    for threads in (1, 2):
        res = S.run_sweep(tmp_path / str(threads), grid, progress=False, threads=threads)
        assert res["pending"] == 0 and res["runs_done"] >= 2, res
        outs[threads] = {k: v for k, v in _files(tmp_path / str(threads)).items() if k.startswith("runs/")}
    assert outs[1].keys() == outs[2].keys() and outs[1]
    diff = [k for k in outs[1] if outs[1][k] != outs[2][k]]
    assert not diff, f"run files differ between 1 and 2 threads: {diff}"
