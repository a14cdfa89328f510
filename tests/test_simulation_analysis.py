"""Building blocks of the simulation experiments, against closed forms."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from conftest import assert_close
from driftlab.kernels import Gaussian, Laplace
from driftlab.simulation import mode_amplitudes, torus_mode_problem
from driftlab.spectral import euler_rate, rate
from driftlab.spectral.schedules import ConstantSchedule, ExponentialSchedule

pytest.importorskip("torch")


def test_quantile_target_has_the_prescribed_fourier_coefficients():
    from analysis.simulation_anneal import quantile_target_1d

    modes, amp, m = [1, 2, 4, 8], 0.1, 2000
    y = quantile_target_1d(m, modes, amp)
    k = 2 * np.pi * np.array([[1.0], [2.0], [4.0], [8.0], [3.0]])
    coef = np.exp(1j * (y @ k.T)).mean(axis=0)
    # p = 1 + amp sum cos(2 pi n x) has E_p[cos 2 pi n x] = amp / 2 (n in modes), 0 otherwise;
    # stratified quantiles integrate smooth periodic functions with error O((n / m)^2) ~ 2e-5
    assert_close(coef.real, [amp / 2] * 4 + [0.0], atol=1e-4, what="quantile target coefficients")
    assert_close(coef.imag, np.zeros(5), atol=1e-4, what="imaginary parts")


def test_mode_problem_initial_amplitude():
    eps = 0.05
    for dim, mode in ((1, (3,)), (2, (2, 1))):
        x, y, k = torus_mode_problem(1024 if dim == 1 else 32**2, 64, dim, mode=mode, eps=eps)
        a = mode_amplitudes(x, y, k[None, :])[0]
        # displacement construction: density 1 + eps cos(k.x) + O(eps^2) -> coefficient eps/2 + O(eps^2)
        assert abs(a.real - eps / 2) < 2 * eps**2 and abs(a.imag) < 1e-12


def test_euler_time_matches_closed_form_for_fixed_bandwidth():
    from analysis.simulation_anneal import euler_time

    kern, eta, eps = Laplace(0.05), 0.5, 0.1
    k = 2 * np.pi * 3
    lam = float(rate(kern, k, 1))
    expected = eta * math.ceil(math.log(1 / eps) / (eta * float(euler_rate(lam, eta))) - 1e-12)
    got = euler_time(kern, [k], eps, ConstantSchedule(0.05), eta, 1, 100.0)
    assert got == pytest.approx(expected, abs=1e-12)
    # annealing from a coarse s0: the stepped damping must reach at least the continuous one's
    # target no later than the cap, and an inadmissible rate must never converge
    assert math.isinf(euler_time(Gaussian(1.0), [2 * np.pi * 8], 1e-3, ExponentialSchedule(0.2, 2.0), 0.5, 1, 60.0))


def test_ladder_and_fit():
    from analysis.simulation_anneal import ladder
    from analysis.simulation_modes import _fit

    assert ladder(16) == [1, 2, 4, 8, 16]
    t = np.arange(10.0)
    assert _fit(t, 0.3 * np.exp(-0.25 * t)) == pytest.approx(0.25, rel=1e-12)  # exact exponential


# ---------------------------------------------------------------------------------------------
# 3b/3c sweep: Laplace 1-D, noise floor / eps choice, resumable sweep


def test_default_s0_is_the_lowest_mode_rate_peak():
    from analysis.simulation_anneal import default_s0

    k1 = 2 * np.pi
    # closed forms: Gaussian lambda = x^2 e^{-x^2/2} peaks at x = s k = sqrt(2); Laplace
    # lambda = (d+1) x^2 (1+x^2)^{-(d+3)/2} peaks at x^2 = 2/(d+1) (d = 1: x = 1). The Laplace
    # value comes from a bounded numerical maximisation (xatol 1e-12 in log s): rtol 1e-6.
    assert default_s0("gaussian", 1, k1) == math.sqrt(2) / k1
    for d in (1, 2, 8):
        assert_close(default_s0("laplace", d, k1), math.sqrt(2 / (d + 1)) / k1, rtol=1e-6, what=f"Laplace peak d={d}")
    # minimum-image cap: kernel value at distance 1/2 equals 0.005 (exact algebra, float64 round-off)
    assert_close(default_s0("gaussian", 2, k1, wrap="minimum_image"), 0.5 / math.sqrt(2 * math.log(200)), rtol=1e-14)
    assert_close(default_s0("laplace", 2, k1, wrap="minimum_image"), 0.5 / math.log(200), rtol=1e-14)
    # in d = 8 the Laplace peak (0.075) is below the cap (0.094): the peak wins
    assert_close(default_s0("laplace", 8, k1, wrap="minimum_image"), math.sqrt(2 / 9) / k1, rtol=1e-6)


def test_choose_eps_sits_above_the_noise_floor():
    from analysis.simulation_anneal import choose_eps

    assert choose_eps(0.0) == (0.1, False)  # no floor: the base tolerance
    assert choose_eps(0.04) == (0.1, False)  # 2 x 0.04 = 0.08 < 0.1
    assert choose_eps(0.06) == (0.15, False)  # 0.12 -> next grid value
    assert choose_eps(0.1) == (0.2, False)  # boundary is inclusive
    assert choose_eps(0.16) == (0.4, False)
    assert choose_eps(0.3) == (0.5, True)  # floor too high for every grid value: flagged
    for f in np.linspace(0, 0.25, 26):
        e, lim = choose_eps(float(f))
        assert e >= 2 * f - 1e-12 and not lim


class _FakeRes:
    def __init__(self, t, amps):
        self.records = [{"t": float(ti), **{f"mode{j}_abs": float(a) for j, a in enumerate(row)}}
                        for ti, row in zip(t, amps)]

    def column(self, name):
        return np.array([r[name] for r in self.records])


def test_noise_floor_and_measured_time_on_a_synthetic_trace():
    from analysis.simulation_anneal import convergence_time_measured, noise_floor

    t = np.arange(0, 30.5, 0.5)
    # mode 0 decays like e^{-t/2} onto a floor 0.01; mode 1 like e^{-t/4} onto 0.03 (initial 0.2 / 0.15)
    a = np.stack([0.19 * np.exp(-t / 2) + 0.01, 0.12 * np.exp(-t / 4) + 0.03], axis=1)
    res = _FakeRes(t, a)
    fl = noise_floor(res, 2)
    # late third starts at t = 20: medians 0.01 + 0.19 e^{-12.5} and 0.03 + 0.12 e^{-6.25} (exact)
    late_t = t[-fl["n_late"]:]
    assert fl["n_late"] == 21 and late_t[0] == 20.0
    med = np.median(a[-21:], axis=0)
    assert_close(fl["abs"], med.max(), rtol=1e-15)
    assert_close(fl["rel"], (med / a[0]).max(), rtol=1e-15)
    assert 0.2 < fl["rel"] < 0.21  # mode 1: (0.03 + 0.12 e^{-6.25}) / 0.15
    # first time both modes are <= eps x initial (mode 1 is the slow one):
    # 0.12 e^{-t/4} + 0.03 <= 0.5 * 0.15  <=>  t >= 4 log(0.12 / 0.045) = 3.92 -> grid time 4.0
    assert convergence_time_measured(res, 2, 0.5) == 4.0
    assert math.isinf(convergence_time_measured(res, 2, 0.15))  # below mode 1's floor 0.2: never


def test_laplace_1d_particles_follow_the_euler_stepped_theory(single_torch_thread):
    from analysis.simulation_anneal import compare_schedules

    rows = compare_schedules([1, 2, 4], dim=1, kernel="laplace", n=256, eps=0.1, t_max=25.0, amp=0.5 / 3)
    for r in rows:
        # Stratified particles/target (no Monte Carlo noise): the Euler-stepped linear theory is
        # the exact linear prediction of the discrete run; what remains is O(amp^2) mode
        # coupling, O((K/N)^2) quadrature error of 256 quantiles and the lattice truncation
        # (~e^{-1.5/tau} ~ 1e-4). These move each mode by well under 1 %, which can shift the
        # first crossing of eps by at most one step of the time grid: tolerance = eta = 0.5.
        assert math.isfinite(r["T_measured"]), r
        assert abs(r["T_measured"] - r["T_theory_euler"]) <= r["eta"] + 1e-12, r
    by = {(r["K_max"], r["schedule"]): r["T_measured"] for r in rows}
    # the coarse fixed tau0 = 1/(2 pi) pays a polynomial penalty at K = 4 ((tau k)^2/2 ~ 8x for
    # the top mode vs the best tau); best fixed and annealing are within a few steps of each other
    assert by[(4, "fixed_s0")] > 2.5 * by[(4, "best_fixed")]
    assert by[(4, "annealed")] < 0.6 * by[(4, "fixed_s0")]


def _tiny_grid():
    from analysis.simulation_anneal_sweep import DD_GRID

    return dict(DD_GRID, kernels=("gaussian", "laplace"), dims=(2,), ns=(128,), k_maxes=(2,), seeds=(0, 1),
                t_max=8.0)


def test_sweep_refuses_a_folder_in_use(tmp_path, monkeypatch):
    import analysis.simulation_anneal_sweep as S
    from driftlab.io import RunDirectory, RunFolderBusy

    monkeypatch.setattr(S, "_run_dd", lambda *a, **k: pytest.fail("simulated in a folder held by another run"))
    monkeypatch.setattr(S, "compare_schedules", lambda *a, **k: pytest.fail("simulated in a folder held by another run"))
    with RunDirectory(tmp_path):  # held as by a live run
        with pytest.raises(RunFolderBusy, match="in use"):
            S.run_dd(tmp_path, _tiny_grid(), progress=False)
        with pytest.raises(RunFolderBusy, match="in use"):
            S.run_1d(tmp_path, dict(S.ONED_GRID, kernels=("gaussian",), k_maxes=(2,)), progress=False)


def test_sweep_resume_skips_finished_runs_and_is_deterministic(tmp_path, single_torch_thread, monkeypatch):
    import analysis.simulation_anneal_sweep as S

    grid = _tiny_grid()
    a, b = tmp_path / "a", tmp_path / "b"
    S.run_dd(a, grid, progress=False)
    S.summarize(a, grid)
    files_a = {p.name: p.read_bytes() for p in sorted((a / "runs_dd").glob("*.json"))}
    # 2 kernels x 2 seeds x (best_fixed + annealed + fixed_s0 (K = 2 is predicted < t_max))
    assert len(files_a) == 12

    # an "interrupted" sweep: only some run files exist; the restart must compute exactly the rest
    (b / "runs_dd").mkdir(parents=True)
    keep = sorted(files_a)[::2]
    for name in keep:
        (b / "runs_dd" / name).write_bytes(files_a[name])
    calls = []
    real = S._run_dd

    def counting(*args, **kw):
        calls.append(args[:6])
        return real(*args, **kw)

    monkeypatch.setattr(S, "_run_dd", counting)
    S.run_dd(b, grid, progress=False)
    assert len(calls) == len(files_a) - len(keep)
    files_b = {p.name: p.read_bytes() for p in sorted((b / "runs_dd").glob("*.json"))}
    assert files_b == files_a  # byte-identical run files (fixed seeds, one thread)
    S.summarize(b, grid)
    for name in ("summary.json", "cells_dd.csv", "verdicts.csv", "floors.csv"):
        assert (b / name).read_bytes() == (a / name).read_bytes(), name
    # a finished sweep restarts without running anything
    calls.clear()
    S.run_dd(b, grid, progress=False)
    assert calls == []
    # the floor is measured (t_max = 8 lets the K = 2 modes finish their linear decay) and eps
    # sits at or above 2x the relative floor
    for f in json.loads((b / "summary.json").read_text())["floors"]:
        assert f["floor_measured"] and f["eps"] >= 2 * f["floor_rel"] - 1e-12, f


def test_floor_ignores_modes_whose_linear_decay_is_unfinished():
    from analysis.simulation_anneal_sweep import _floor_of

    # Gaussian, s = 0.35: lambda(2 pi) = x^2 e^{-x^2/2} at x = 2.2 is 0.43 (mode 1 long done by
    # the late window t >= 16), lambda(4 pi) at x = 4.4 is 1.2e-3 (mode 2 still at ~98 %).
    t = np.arange(0, 24.5, 0.5)
    a0 = 0.15 * np.exp(-0.43 * t) + 0.002
    a1 = np.full_like(t, 0.15)  # counted, this would claim a floor of 100 %
    payload = {"kernel": "gaussian", "dim": 2, "K_max": 2, "s0": 0.35, "eta": 0.5, "t": t.tolist(),
               "mode_abs": np.stack([a0, a1], axis=1).tolist()}
    f = _floor_of(payload)
    assert f["counted"] == [0]
    # late window = last 17 of 49 records (t in [16, 24], median t = 20): late median of mode 1 =
    # 0.002 + 0.15 e^{-8.6} = 0.002 + 2.7e-5, i.e. 1.4 % above 0.002 -> rtol 0.02
    assert_close(f["rel"], 0.002 / 0.152, rtol=0.02, what="relative floor of the finished mode")


def test_committed_sweep_summary_is_reproduced_from_its_run_files(tmp_path):
    """The committed tables are exactly what `summarize` makes of the committed run files."""
    import shutil

    from analysis.simulation_anneal_sweep import RESULTS, summarize

    if not (RESULTS / "summary.json").exists():
        pytest.skip("no committed sweep results")
    for sub in ("runs_1d", "runs_1d_extra", "runs_dd"):
        if (RESULTS / sub).exists():
            shutil.copytree(RESULTS / sub, tmp_path / sub)
    summarize(tmp_path)
    for name in ("summary.json", "tables.md", "verdicts.csv", "cells_dd.csv", "cells_1d.csv", "floors.csv"):
        assert (tmp_path / name).read_bytes() == (RESULTS / name).read_bytes(), name


@pytest.mark.slow
def test_annealed_runs_follow_euler_theory_in_2d_at_finite_n(tmp_path, single_torch_thread):
    """d = 2, N = 1024 (about 30 particles per kernel disc): annealed times vs the Euler-stepped theory."""
    import analysis.simulation_anneal_sweep as S

    grid = dict(S.DD_GRID, kernels=("gaussian",), dims=(2,), ns=(1024,), k_maxes=(2, 4), seeds=(0, 1, 2))
    S.run_dd(tmp_path, grid, progress=False)
    cells = [c for c in S.summarize(tmp_path, grid)["cells_dd"] if c["schedule"] == "annealed"]
    assert len(cells) == 2
    for c in cells:
        # every seed reaches eps; the median lies within one Euler step (0.5) of the prediction:
        # the time grid resolves 0.5, and the seed spread of annealed runs at this N was <= 0.5
        # in the committed sweep (analysis/results/simulation_anneal_sweep/tables.md)
        assert c["frac_reached"] == 1.0, c
        assert abs(c["T_median"] - c["T_theory_euler"]) <= 0.5 + 1e-12, c
