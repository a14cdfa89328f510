"""The conservative (KDE-gradient) velocity of [FP] (Balasubramanian 2026, arXiv:2605.22795) and
its finite-particle rate measurement."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftlab.fields import batch_drift, conservative_velocity, kde_score
from driftlab.kernels import Gaussian, Laplace


# ----- independent dense references ------------------------------------------------------
def _log_kde(x: np.ndarray, y: np.ndarray, h: float) -> np.ndarray:
    """log of the Gaussian KDE of y at x, up to the additive constant: a dense logsumexp."""
    e = -((x[:, None, :] - y[None, :, :]) ** 2).sum(-1) / (2 * h * h)
    m = e.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(e - m).sum(axis=1, keepdims=True)))[:, 0]


def _fd_grad(f, x: np.ndarray, eps: float) -> np.ndarray:
    g = np.zeros_like(x)
    for a in range(x.shape[1]):
        dx = np.zeros_like(x)
        dx[:, a] = eps
        g[:, a] = (f(x + dx) - f(x - dx)) / (2 * eps)
    return g


def _fd_jacobian(field, x: np.ndarray, eps: float) -> np.ndarray:
    """J[i, a, b] = d field_a / d x_b at x_i (central differences)."""
    n, d = x.shape
    J = np.zeros((n, d, d))
    for b in range(d):
        dx = np.zeros_like(x)
        dx[:, b] = eps
        J[:, :, b] = (field(x + dx) - field(x - dx)) / (2 * eps)
    return J


def _points(seed: int, n: int, d: int, scale: float = 1.0, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)) * scale + shift


# ----- the identity grad log KDE = mean shift / h^2 --------------------------------------
@given(seed=st.integers(0, 2**31 - 1), d=st.integers(1, 3), m=st.integers(1, 12),
       h=st.floats(0.3, 3.0), spread=st.floats(0.1, 3.0))
def test_kde_score_is_the_gradient_of_the_log_kde(seed, d, m, h, spread):
    x, y = _points(seed, 4, d, spread), _points(seed + 1, m, d, spread, 0.5)
    got = kde_score(x, y, h)
    eps = 1e-5 * h
    want = _fd_grad(lambda z: _log_kde(z, y, h), x, eps)
    # central differences: truncation O(eps^2 |f'''|) ~ 1e-10 / h, round-off ~ 1e-16 |log kde| / eps
    # ~ 1e-11 * (1 + spread^2 / h^2) / h; 1e-6 relative to the gradient's scale (1 + |x - y| / h) / h
    scale = (1.0 + np.abs(x).max() + np.abs(y).max()) / h ** 2
    err = np.abs(got - want).max()
    assert err <= 1e-6 * scale, f"x={x}, y={y}, h={h}: got {got}, FD {want}, diff {err}, scale {scale}"


def test_conservative_velocity_is_the_gradient_of_the_log_kde_ratio():
    x, p, q = _points(0, 5, 2), _points(1, 30, 2, 1.0, 0.7), _points(2, 20, 2, 0.6)
    h = 0.6
    got = conservative_velocity(x, p, q, h)
    want = _fd_grad(lambda z: _log_kde(z, p, h) - _log_kde(z, q, h), x, 1e-5)
    # same floor as above: central differences of a smooth log-ratio, |v| ~ 10
    assert np.abs(got - want).max() <= 1e-6 * 10, f"got {got}\nwant {want}\ndiff {np.abs(got - want).max()}"
    # ... and it is the "separate" drift estimator divided by h^2 (the same streamed sums)
    sep = batch_drift(x, p, q, Gaussian(h), method="separate", mask_self=False) / h ** 2
    assert np.abs(got - sep).max() <= 1e-12 * np.abs(sep).max(), f"{got} vs {sep}"


def test_kde_score_single_point_closed_form():
    # one Gaussian centred at y: grad log = -(x - y) / h^2 exactly (float64 round-off only)
    x, y, h = np.array([[0.3, -1.2]]), np.array([[1.0, 2.0]]), 0.7
    got = kde_score(x, y, h)
    want = -(x - y) / h ** 2
    assert np.allclose(got, want, rtol=1e-14, atol=0), f"got {got}, want {want}"


# ----- conservative: a symmetric Jacobian ------------------------------------------------
@given(seed=st.integers(0, 2**31 - 1), d=st.integers(2, 3), h=st.floats(0.4, 2.0))
def test_conservative_velocity_has_a_symmetric_jacobian(seed, d, h):
    p, q = _points(seed, 15, d, 1.0, 0.5), _points(seed + 1, 12, d, 0.8)
    x = _points(seed + 2, 3, d, 0.8)
    eps = 1e-5 * h
    J = _fd_jacobian(lambda z: conservative_velocity(z, p, q, h), x, eps)
    asym = np.abs(J - np.swapaxes(J, 1, 2)).max()
    scale = np.abs(J).max() + 1.0 / h ** 2
    # FD Jacobian error ~ eps^2 |v'''| + 1e-16 |v| / eps: ~1e-9 relative to the Jacobian's scale 1/h^2
    assert asym <= 1e-6 * scale, f"seed={seed}, d={d}, h={h}: asymmetry {asym}, scale {scale}, J={J}"


def test_symmetry_check_discriminates_a_non_conservative_field():
    # the same finite-difference test sees the curl of the normalised Laplace drift [F]
    rng = np.random.default_rng(3)
    p, q, x = rng.normal(size=(15, 2)) + 0.5, rng.normal(size=(12, 2)) * 0.8, rng.normal(size=(3, 2)) * 0.8
    J = _fd_jacobian(lambda z: batch_drift(z, p, q, Laplace(0.7), method="separate", mask_self=False), x, 1e-5)
    asym = np.abs(J - np.swapaxes(J, 1, 2)).max()
    assert asym > 1e-3, f"Laplace asymmetry {asym} should be O(1e-2), far above the 1e-6 FD floor"


def test_conservative_velocity_autograd_jacobian_is_symmetric():
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)
    p = torch.randn(20, 3, generator=g, dtype=torch.float64) + 0.4
    q = torch.randn(15, 3, generator=g, dtype=torch.float64) * 0.7
    x = torch.randn(2, 3, generator=g, dtype=torch.float64)
    for i in range(x.shape[0]):
        J = torch.autograd.functional.jacobian(lambda z: conservative_velocity(z[None], p, q, 0.8)[0], x[i])
        asym = float((J - J.T).abs().max())
        # exact derivatives in float64: round-off ~1e-13 of |J| ~ 10
        assert asym <= 1e-10, f"x={x[i]}: autograd Jacobian {J} asymmetry {asym}"


# ----- equilibrium and limits -------------------------------------------------------------
def test_velocity_vanishes_when_model_equals_data():
    y = _points(4, 40, 2)
    x = _points(5, 10, 2, 2.0)
    v = conservative_velocity(x, y, y.copy(), 0.5)
    # the two kernel means are the same sums in the same order: exactly 0
    assert np.abs(v).max() == 0.0, f"max |v| = {np.abs(v).max()}"
    v = conservative_velocity(y, y, y, 0.5)
    assert np.abs(v).max() == 0.0


def test_far_data_and_extreme_bandwidths_give_the_nearest_point_limit():
    # x far from both sets: each kernel mean tends to the nearest sample; in log space no 0/0
    p, q = np.array([[0.0], [1.0]]), np.array([[-1.0], [-2.0]])
    x = np.array([[1e4]])
    v = conservative_velocity(x, p, q, 0.1)
    want = (1.0 - (-1.0)) / 0.01
    assert abs(v[0, 0] - want) <= 1e-9 * want, f"got {v}, want {want}"
    # tiny bandwidth, finite answer: 1 / h^2 = 1e16
    v = kde_score(np.array([[1.0]]), np.array([[0.0]]), 1e-8)
    assert abs(v[0, 0] + 1e16) <= 1e-16 * 1e16 * 8, f"got {v}"


def test_unrepresentable_inputs_are_refused_and_extreme_float32_is_right():
    # |log k| beyond float64: the engine's clear ValueError (never a silent 0 or NaN)
    with pytest.raises(ValueError, match="too far"):
        kde_score(np.array([[1e100]]), np.array([[0.0]]), 1e-120)
    with pytest.raises(ValueError, match="too far"):
        conservative_velocity(np.array([[1e100]]), np.array([[0.0]]), np.array([[1.0]]), 1e-120)
    torch = pytest.importorskip("torch")
    # float32 near the edge of its length-scale range: nearest point 0.5, (0.5 - 10) / 1e-36
    v = kde_score(torch.tensor([[10.0]]), torch.tensor([[0.0], [0.5]]), 1e-18)
    assert abs(float(v[0, 0]) / -9.5e36 - 1) <= 1e-6, f"got {v}, want -9.5e36 (float32 round-off 1e-7)"


@pytest.mark.parametrize("bad,exc", [(0.0, ValueError), (-1.0, ValueError), (float("nan"), ValueError),
                                     (float("inf"), ValueError), (1e-200, ValueError), (True, TypeError),
                                     ("1", TypeError)])
def test_bandwidth_is_validated(bad, exc):
    x = np.zeros((2, 1))
    with pytest.raises(exc, match="bandwidth"):
        conservative_velocity(x, x, x, bad)
    with pytest.raises(exc, match="bandwidth"):
        kde_score(x, x, bad)


def test_point_sets_are_validated():
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match="data"):
        conservative_velocity(x, np.zeros((4, 3)), x, 1.0)
    with pytest.raises(ValueError, match="model"):
        conservative_velocity(x, x, np.zeros((4, 3)), 1.0)
    with pytest.raises(TypeError, match="mask_self"):
        conservative_velocity(x, x, x, 1.0, mask_self="yes")
    with pytest.raises(ValueError, match="x"):
        conservative_velocity(np.array([[np.nan, 0.0]]), x, x, 1.0)


def test_mask_self_gives_the_leave_one_out_score():
    y = _points(7, 6, 2)
    got = kde_score(y, y, 0.8, mask_self=True)
    for i in range(len(y)):
        rest = np.delete(y, i, axis=0)
        want = kde_score(y[i:i + 1], rest, 0.8)
        assert np.allclose(got[i], want[0], rtol=1e-12, atol=1e-14), f"i={i}: {got[i]} vs {want[0]}"


# ----- the measurement --------------------------------------------------------------------
def test_target_smoothed_score_matches_quadrature():
    from analysis.finite_particle_rate import target_smoothed_score

    # d/dx log int phi_h(x - y) phi(y) dy by a fine trapezoid on [-12, 12] (error << 1e-10)
    h, x0 = 0.4, 0.9
    y = np.linspace(-12, 12, 200001)
    f = lambda x: np.log(np.trapezoid(np.exp(-(x - y) ** 2 / (2 * h * h) - y ** 2 / 2), y))
    want = (f(x0 + 1e-5) - f(x0 - 1e-5)) / 2e-5
    got = target_smoothed_score(np.array([[x0]]), h)[0, 0]
    assert abs(got - want) <= 1e-8, f"got {got}, quadrature {want}"


def test_run_is_deterministic_and_resumable(tmp_path):
    from analysis.finite_particle_rate import sweep

    grid = {1: (32, 64)}
    a = sweep(grid, (0, 1), folder=tmp_path)
    files = sorted(tmp_path.rglob("*.json"))
    assert len(files) == 4
    before = {f.name: f.read_bytes() for f in files}
    files[0].unlink()  # an interrupted sweep: the rest is read back, the missing run recomputed
    b = sweep(grid, (0, 1), folder=tmp_path)
    assert {f.name: f.read_bytes() for f in sorted(tmp_path.rglob("*.json"))} == before
    assert a == b


def test_a_folder_in_use_is_refused(tmp_path):
    from analysis.finite_particle_rate import sweep
    from driftlab.io import RunDirectory, RunFolderBusy

    with RunDirectory(tmp_path):  # held as by a live run: a second writer must not start
        with pytest.raises(RunFolderBusy, match="in use"):
            sweep({1: (32,)}, (0,), folder=tmp_path)
    assert not list(tmp_path.rglob("*.json"))
    assert len(sweep({1: (32,)}, (0,), folder=tmp_path)) == 1  # free again once released


def test_initial_velocity_matches_the_iid_kde_error_scale():
    # at t = 0 the particles are exact samples: mean |v|^2 is the KDE score error, whose leading
    # term (self-interaction + variance) is of order 1 / (N h^(d+2)); with h = N^(-1/(d+4)) this is
    # N^(-2/(d+4)). Checked to a factor 10 (the constant is O(1) and not part of the claim).
    from analysis.finite_particle_rate import bandwidth, run_one

    for d, n in ((1, 512), (2, 512)):
        r = run_one(d, n, 0, t_end=1e-3)
        h = bandwidth(n, d)
        ref = 1.0 / (n * h ** (d + 2))
        assert 0.1 * ref <= r["v2_initial"] <= 10 * ref, f"d={d} n={n}: {r['v2_initial']} vs scale {ref}"


def _synthetic(slope_per_seed, d=1):
    return [{"d": d, "n": n, "seed": s, "residual_velocity": 2.0 * n ** b * (1 + 0.01 * s)}
            for s, b in enumerate(slope_per_seed) for n in (64, 128, 256, 512)]


def test_verdict_logic():
    from analysis.finite_particle_rate import summarize_runs

    bound = -1 / 5
    fast = summarize_runs(_synthetic([-0.40, -0.41, -0.39]))["1"]
    assert fast["verdict"] == "consistent, faster than the bound", fast
    tight = summarize_runs(_synthetic([bound - 0.01, bound + 0.01, bound]))["1"]
    assert tight["verdict"] == "consistent, attained", tight
    slow = summarize_runs(_synthetic([-0.10, -0.11, -0.09]))["1"]  # a wrong (slower) exponent
    assert slow["verdict"] == "refuted", slow
    assert math.isclose(fast["slope"], -0.40, abs_tol=1e-9), fast


def test_committed_summary_is_consistent_with_its_runs():
    from analysis.finite_particle_rate import RESULTS, summary

    path = RESULTS / "summary.json"
    if not path.exists():
        pytest.skip("no committed sweep")
    runs = [json.loads(p.read_text()) for p in sorted((RESULTS / "runs").glob("*.json"))]
    got = json.loads(path.read_text())
    assert got["fits"] == json.loads(json.dumps(summary(runs)["fits"]))


# ----- the ledger family: mutation tests --------------------------------------------------
def test_mutation_finite_particle_identity():
    from driftlab.theory._claims import finite_particle as FP

    assert FP.check_velocity_identity(True).verdict == "verified"
    # dividing the mean-shift difference by h instead of h^2: off by a factor h = 0.7
    assert FP.check_velocity_identity(True, h_power=1.0).verdict == "refuted"


def test_mutation_finite_particle_rates():
    from analysis.finite_particle_rate import RESULTS
    from driftlab.theory._claims import finite_particle as FP

    if not (RESULTS / "summary.json").exists():
        pytest.skip("no committed sweep")
    assert FP.check_rate_sweep(True).verdict == "verified"
    # a claimed N^(-1/2) rate in every d (the parametric rate) is slower than nothing measured: refuted
    assert FP.check_rate_sweep(True, exponent=lambda d: -0.5).verdict == "refuted"
    # d = 5 (pre-asymptotic, slope -0.081 +- 0.003): refuted against -1/9, verified against a claimed -1/20
    assert FP.check_rate_sweep(True, dims=(5,)).verdict == "refuted"
    assert FP.check_rate_sweep(True, dims=(5,), exponent=lambda d: -0.05).verdict == "verified"


def test_judge_turns_on_a_slower_decay():
    from driftlab.theory._claims import finite_particle as FP

    fits = {"1": {"slope": -0.25, "slope_se": 0.01}, "2": {"slope": -0.17, "slope_se": 0.01}}
    assert FP._judge(fits, FP._fp_exponent).verdict == "verified"  # -0.25 < -0.2; -0.17 within 2 se of -1/6
    fits["2"]["slope"] = -0.12  # slower than -1/6 by 4.7 se
    assert FP._judge(fits, FP._fp_exponent).verdict == "refuted"
