"""Tests aimed at specific ways the code could be wrong and still pass the rest of the suite.

Each test below fails when the named piece of the implementation is altered (the alteration
is named in the test's docstring) and compares against a reference that does not go through
the code under test: closed forms, mpmath at 30 digits, or a dense float64 computation
written out here line by line.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from scipy import special as sp
from scipy import stats

from conftest import assert_close
from driftlab.distributions import EmpiricalMeasure, GaussianMixture
from driftlab.fields import DRIFT_METHODS, batch_drift, population_mean_shift
from driftlab.kernels import Gaussian, Laplace
from driftlab.theory.laplace import laplace_moments


# ----------------------------------------------------------------------------------------
# 1. Monte Carlo standard error of the streamed self-normalised estimator
# ----------------------------------------------------------------------------------------
_MC_SEEDS = 1000
_MC_SAMPLES = 500
_MC_X = np.array([[1.5], [-1.2]])


def _mc_exact(kernel):
    """Exact mean shift of N(0, 1) at _MC_X: Gaussian kernel closed form, Laplace by its own quadrature."""
    if isinstance(kernel, Gaussian):
        s2 = kernel.bandwidth**2
        return -_MC_X * s2 / (1.0 + s2)  # posterior mean x / (1 + s^2) minus x
    return laplace_moments(GaussianMixture([[0.0]], 1.0), _MC_X, kernel.temperature).mean_shift  # ~1e-12


@pytest.mark.parametrize("kernel", [Gaussian(1.0), Laplace(0.7)], ids=repr)
def test_montecarlo_error_bar_has_unit_z_score_variance(kernel):
    """z = (estimate - exact) / stderr over fixed seeds must be ~N(0, 1).

    Kills: dropping the cross term ``-2 T sum a^2 v`` of the delta-method variance (z variance
    0.34-0.57 here: the bar is too wide) or doubling it (the variance turns negative and is
    clipped to 0: z = inf), or any other rescaling of the bar by more than ~15%.
    """
    p = GaussianMixture([[0.0]], 1.0)
    exact = _mc_exact(kernel)
    z = np.empty((_MC_SEEDS, len(_MC_X)))
    for seed in range(_MC_SEEDS):
        est = population_mean_shift(p, _MC_X, kernel, method="montecarlo", n_samples=_MC_SAMPLES, rng=seed)
        assert est.error is not None and np.all(est.error > 0), (seed, est.error)
        z[seed] = ((est.value - exact) / est.error)[:, 0]
    # If z ~ N(0, 1) iid over seeds: mean ~ N(0, 1/K) and sum z^2 ~ chi^2(K). Two-sided 0.1%
    # bounds (|mean| < 3.29 / sqrt(K); chi^2 quantiles 0.0005 / 0.9995 -> variance in
    # [0.86, 1.15] at K = 1000). The ratio estimator's O(1/N) bias is ~0.05 standard errors
    # at N = 500 (not detectable at K = 1000); the fixed seeds make the test deterministic.
    K = _MC_SEEDS
    lo, hi = stats.chi2.ppf([0.0005, 0.9995], K) / K
    for j, xj in enumerate(_MC_X[:, 0]):
        zm, zv = z[:, j].mean(), np.mean(z[:, j] ** 2)
        assert abs(zm) < 3.29 / math.sqrt(K), f"x={xj}: mean z = {zm:.4f}, expected 0 +- {3.29 / math.sqrt(K):.3f}"
        assert lo < zv < hi, f"x={xj}: mean z^2 = {zv:.4f}, expected 1 within [{lo:.3f}, {hi:.3f}] ({kernel!r})"


def test_montecarlo_drift_error_bar_combines_two_independent_streams():
    """population_drift's bar sqrt(se_p^2 + se_q^2): z-scores over seeds again ~N(0, 1).

    Kills: adding the two bars linearly (z variance ~0.5 here) or dropping one of them.
    """
    from driftlab.fields import population_drift

    p, q = GaussianMixture([[1.0]], 1.0), GaussianMixture([[0.0]], 2.0)
    s2 = 1.0  # Gaussian(1.0): m(x) = (mu s^2 + x S) / (S + s^2) - x for N(mu, S)
    x = np.array([[0.5]])
    exact = (1.0 * s2 + x * 1.0) / (1.0 + s2) - (0.0 * s2 + x * 2.0) / (2.0 + s2)
    K = _MC_SEEDS
    z = np.array([((e.value - exact) / e.error)[0, 0] for e in
                  (population_drift(p, q, x, Gaussian(1.0), method="montecarlo", n_samples=_MC_SAMPLES, rng=seed)
                   for seed in range(K))])
    lo, hi = stats.chi2.ppf([0.0005, 0.9995], K) / K  # as above: two-sided 0.1% bounds
    assert abs(z.mean()) < 3.29 / math.sqrt(K), f"mean z = {z.mean():.4f}"
    assert lo < np.mean(z**2) < hi, f"mean z^2 = {np.mean(z ** 2):.4f}, expected within [{lo:.3f}, {hi:.3f}]"


# ----------------------------------------------------------------------------------------
# 2. Heun's corrector under a time-dependent bandwidth
# ----------------------------------------------------------------------------------------
def _dense_gaussian_field(x, y, s):
    """V(x) = m_Y(x) - m_X(x) with the Gaussian kernel of bandwidth s, self-pairs kept (float64)."""

    def mean_shift(q, ref):
        logk = -np.sum((q[:, None, :] - ref[None, :, :]) ** 2, axis=-1) / (2.0 * s * s)
        a = np.exp(logk - sp.logsumexp(logk, axis=1, keepdims=True))
        return a @ ref - q

    return mean_shift(x, y) - mean_shift(x, x)


def test_heun_evaluates_its_corrector_at_the_next_time():
    """Two Heun steps under s(t) = s0 e^{-r t} against the update written out by hand.

    Kills: the corrector field evaluated at t instead of t + eta (then both fields of a step
    use s(t)), and the step's time taken as anything but step * eta.
    """
    from driftlab.simulation import SimulationConfig, run_simulation

    rng = np.random.default_rng(4)
    x0 = rng.normal(size=(12, 2)) + np.array([1.0, 0.0])
    y = rng.normal(size=(15, 2))
    s0, r, eta = 0.9, 0.8, 0.4  # s drops by 27% per step: the corrector's time matters
    cfg = SimulationConfig(kernel="gaussian", scale=s0, schedule="exponential", rate=r, step=eta, n_steps=2,
                           integrator="heun", backend="dense", obs_points=12, checkpoint_every=0)
    got = run_simulation(cfg, x0, y, progress=False).particles

    def s_of(t):
        return s0 * math.exp(-r * t)

    x = x0.copy()
    for step in range(2):
        t = step * eta
        v1 = _dense_gaussian_field(x, y, s_of(t))
        v2 = _dense_gaussian_field(x + eta * v1, y, s_of(t + eta))
        x = x + 0.5 * eta * (v1 + v2)
    # both float64 with sums of ~15 terms: round-off ~1e-15; with the corrector at t the
    # particles move by ~1e-2 (measured), so 1e-12 separates the two by ten orders
    assert_close(got, x, atol=1e-12, what="Heun, exponential schedule", inputs=dict(s0=s0, r=r, eta=eta))


# ----------------------------------------------------------------------------------------
# 3. One Euler step of the Gaussian drifting flow's moment recursion
# ----------------------------------------------------------------------------------------
def test_gaussian_flow_euler_moments_one_step_1d_closed_form():
    r"""1-D, exact rationals: s = 1, S_p = 3, mu_p = 2, S_0 = 1, mu_0 = 0, dt = 1/2.

    A = 1/(S_p + s^2) = 1/4, B = 1/(S_0 + s^2) = 1/2, M = s^2 (B - A) = 1/4. The Euler map
    x -> x + dt V(x) is affine with slope 1 + dt M = 9/8, so S_1 = (9/8)^2 = 81/64 and
    mu_1 = mu_0 + dt s^2 A (mu_p - mu_0) = 1/4. Kills: the recursion without its dt^2 term
    (S_1 = S_0 + dt (M S + S M) = 80/64).
    """
    from driftlab.theory.fisher import gaussian_flow_euler_moments

    mus, Ss = gaussian_flow_euler_moments([2.0], [[3.0]], [0.0], [[1.0]], 1.0, 0.5, 1)
    # exact binary fractions: only round-off of a few float64 operations (~1e-16)
    assert_close(mus[1], [0.25], atol=1e-15, what="mu_1")
    assert_close(Ss[1], [[81.0 / 64.0]], atol=1e-15, what="S_1")


def test_gaussian_flow_euler_moments_match_the_pushed_forward_gaussian_2d():
    r"""2-D, full covariances, three steps: each step pushes the current Gaussian through the
    particle map x -> x + dt [m_p(x) - m_q(x)] with both mean shifts computed by Gaussian
    conditioning (posterior mean minus x, written out here), and reads the new moments off
    sigma points (exact for an affine map: mean and covariance of mu +- sqrt(d) L e_k).
    """
    from driftlab.theory.fisher import gaussian_flow_euler_moments

    s, dt = 0.8, 0.3
    mu_p, S_p = np.array([1.0, -0.5]), np.array([[2.0, 0.6], [0.6, 0.8]])
    mu, S = np.array([-0.5, 0.4]), np.array([[0.5, -0.2], [-0.2, 1.5]])

    def mean_shift(m, C, x):  # E[y | x] - x for y ~ N(m, C), x = y + s * noise
        return m + (x - m) @ np.linalg.solve(C + s * s * np.eye(2), C).T - x

    mus, Ss = gaussian_flow_euler_moments(mu_p, S_p, mu, S, s, dt, 3)
    for step in range(1, 4):
        L = np.linalg.cholesky(S)
        pts = mu + math.sqrt(2.0) * np.concatenate([L.T, -L.T])  # 2d sigma points, equal weights
        new = pts + dt * (mean_shift(mu_p, S_p, pts) - mean_shift(mu, S, pts))
        mu = new.mean(axis=0)
        S = (new - mu).T @ (new - mu) / 4.0  # weights 1/(2d) on the 2d = 4 sigma points
        # float64 linear algebra on 2 x 2 matrices of O(1): ~1e-15; the dt^2 term is
        # dt^2 M S M^T ~ 1e-3 here
        assert_close(mus[step], mu, atol=1e-13, what=f"mean after {step} steps")
        assert_close(Ss[step], S, atol=1e-13, what=f"covariance after {step} steps")


# ----------------------------------------------------------------------------------------
# 4. The Laplace companion score
# ----------------------------------------------------------------------------------------
def test_laplace_companion_score_is_grad_log_of_the_matern_smoothed_density_empirical_2d():
    r"""companion_score = grad log pi_c, pi_c(x) = sum_j w_j (1 + r_j/tau) e^{-r_j/tau}: differentiated
    by mpmath (30 digits) coordinate by coordinate, no use of the mean shift or rbar."""
    rng = np.random.default_rng(8)
    pts = rng.normal(size=(6, 2))
    w = rng.uniform(0.2, 1.0, size=6)
    w /= w.sum()
    xq = rng.normal(size=(3, 2)) * 1.3
    tau = 0.6
    got = laplace_moments(EmpiricalMeasure(pts, w), xq, tau).companion_score
    mp.mp.dps = 30

    def log_pic(u, v):
        tot = mp.mpf(0)
        for (a, b), wj in zip(pts, w):
            r = mp.sqrt((u - mp.mpf(a)) ** 2 + (v - mp.mpf(b)) ** 2)
            tot += mp.mpf(wj) * (1 + r / tau) * mp.exp(-r / tau)
        return mp.log(tot)

    want = np.array([[float(mp.diff(log_pic, (mp.mpf(u), mp.mpf(v)), (1, 0))),
                      float(mp.diff(log_pic, (mp.mpf(u), mp.mpf(v)), (0, 1)))] for u, v in xq])
    # the sigma-integral quadrature is accurate to ~1e-12 relative (laplace_moments docstring)
    assert_close(got, want, rtol=1e-9, atol=1e-11, what="companion score, empirical 2-D", inputs=xq)


def test_laplace_companion_score_gaussian_mixture_1d():
    """Same identity on a 1-D Gaussian mixture: pi_c by mpmath quadrature (split at the cusp x)."""
    means, var, wts = [-1.0, 1.5], [0.4, 0.9], [0.3, 0.7]
    p = GaussianMixture([[m] for m in means], var, wts)
    tau = 0.5
    xq = np.array([[-2.0], [0.2], [3.0]])
    got = laplace_moments(p, xq, tau).companion_score
    mp.mp.dps = 30

    def dens(y):
        return sum(mp.mpf(w) * mp.npdf(y, mp.mpf(m), mp.sqrt(mp.mpf(v))) for m, v, w in zip(means, var, wts))

    def log_pic(x):
        def f(y):
            r = abs(y - x)
            return (1 + r / tau) * mp.exp(-r / tau) * dens(y)

        return mp.log(mp.quad(f, [-mp.inf, x, mp.inf]))

    h = mp.mpf("1e-8")  # central difference: truncation ~h^2 |f'''| ~ 1e-16, rounding 1e-30 / h
    want = np.array([[float((log_pic(mp.mpf(x) + h) - log_pic(mp.mpf(x) - h)) / (2 * h))] for x in xq[:, 0]])
    # quadrature accuracy of laplace_moments (~1e-12 relative) dominates the reference's ~1e-16
    assert_close(got, want, rtol=1e-9, atol=1e-11, what="companion score, 1-D mixture", inputs=xq)


# ----------------------------------------------------------------------------------------
# 5. Lattice periodisation together with the self-mask
# ----------------------------------------------------------------------------------------
def _periodic_reference(kernel, x, L, images, mask_self):
    """log sum_{j, n} k(x_i, y_j + n L) and the shift, y = x, pairs (j = i, n = 0) dropped
    when mask_self: explicit loops over the images, float64."""
    x = np.mod(np.asarray(x, dtype=np.float64), L)
    n, d = x.shape
    grid = np.stack(np.meshgrid(*[np.arange(-images, images + 1)] * d, indexing="ij"), -1).reshape(-1, d)
    log_total = np.empty(n)
    shift = np.empty((n, d))
    for i in range(n):
        logs, disps = [], []
        for off in grid:
            for j in range(n):
                if mask_self and j == i and not off.any():
                    continue
                disp = x[j] + off * L - x[i]
                logs.append(float(kernel.log_profile(np.array([np.sqrt(disp @ disp)]))[0]))
                disps.append(disp)
        logs = np.array(logs)
        log_total[i] = sp.logsumexp(logs)
        shift[i] = np.exp(logs - log_total[i]) @ np.array(disps)
    return log_total, shift


@pytest.mark.parametrize("backend", ["dense", "torch", pytest.param("triton", marks=pytest.mark.gpu)])
@pytest.mark.parametrize(("d", "images"), [(1, 2), (2, 1)])
@pytest.mark.parametrize("kernel", [Gaussian(0.35), Laplace(0.3)], ids=repr)
def test_lattice_wrap_with_self_mask_matches_periodic_images(backend, d, images, kernel):
    """kernel_sums(x, x, wrap="lattice", mask_self=True) drops the pair (i, i) itself but keeps
    the particle's own images x_i + n L, n != 0 (other points of the periodic system).

    Kills: masking a non-zero image instead of the zero one (a reordered offset list), or
    masking every image of the particle.
    """
    import torch

    from driftlab.engine import kernel_sums

    rng = np.random.default_rng(10 + d)
    L = 1.0
    x = rng.uniform(-1.0, 2.0, size=(9, d))  # outside [0, L): must be wrapped first
    if backend == "triton":
        pytest.importorskip("triton")
    # float64 sums of <= 225 terms: round-off ~1e-14; the triton kernel computes in float32
    # (coordinates and logits ~eps32 * 10: ~1e-5); the wrong image masked moves log_total by
    # O(0.1) (0.16 measured on a reordered offset list)
    tol = 1e-4 if backend == "triton" else 1e-12
    for mask in (True, False):
        lt_ref, sh_ref = _periodic_reference(kernel, x, L, images, mask)
        if backend == "dense":
            xin = x
        elif backend == "torch":
            xin = torch.as_tensor(x)
        else:
            xin = torch.as_tensor(x, dtype=torch.float32, device="cuda")
        out = kernel_sums(xin, xin, kernel, mask_self=mask, period=L, wrap="lattice", images=images,
                          backend=backend)
        lt = out.log_total.cpu().numpy() if hasattr(out.log_total, "cpu") else out.log_total
        sh = out.shift.cpu().numpy() if hasattr(out.shift, "cpu") else out.shift
        what = f"{backend} d={d} images={images} mask_self={mask}"
        assert_close(lt, lt_ref, atol=tol, rtol=tol, what=what + " log_total")
        assert_close(sh, sh_ref, atol=tol, what=what + " shift")


# ----------------------------------------------------------------------------------------
# 7. Every drift method on every array backend against a dense float64 oracle
# ----------------------------------------------------------------------------------------
def _oracle_drift(method, tau, x, yp, yn, mask):
    r"""The five drift variants of driftlab.fields.batch written out from its docstring, float64.

    Laplace kernel :math:`k = e^{-r/\tau}`; ``mask`` drops the pairs (x_i, yn_i).
    """
    x, yp, yn = (np.asarray(a, dtype=np.float64) for a in (x, yp, yn))
    P = len(yp)
    dist_p = np.linalg.norm(x[:, None, :] - yp[None, :, :], axis=-1)
    dist_n = np.linalg.norm(x[:, None, :] - yn[None, :, :], axis=-1)
    kp, kn = np.exp(-dist_p / tau), np.exp(-dist_n / tau)
    if mask:
        kn[np.arange(len(x)), np.arange(len(x))] = 0.0
    if method in ("joint", "alg2"):
        k = np.concatenate([kp, kn], axis=1)
        R = k.sum(axis=1, keepdims=True)  # row sums
        if method == "joint":
            A = k / R
        else:
            C = k.sum(axis=0, keepdims=True)  # column sums
            A = k / np.sqrt(R * np.where(C > 0, C, 1.0))
        Ap, An = A[:, :P], A[:, P:]
        Wp = Ap * An.sum(axis=1, keepdims=True)
        Wn = An * Ap.sum(axis=1, keepdims=True)
        return Wp @ yp - Wn @ yn
    if method == "kernel_gradient":
        # grad_x log sum_j e^{-|x - y_j|/tau} = sum_j k_j (y_j - x) / (tau r_j) / sum_j k_j
        def grad_log(kk, ref, dist):
            unit = (ref[None, :, :] - x[:, None, :]) / np.where(dist > 0, dist, 1.0)[..., None]
            return np.einsum("nm,nmd->nd", kk, unit) / tau / kk.sum(axis=1, keepdims=True)

        return grad_log(kp, yp, dist_p) - grad_log(kn, yn, dist_n)

    def shift(kk, ref):
        a = kk / kk.sum(axis=1, keepdims=True)
        t = a @ ref - x  # self-normalised mean displacement T_n
        if method == "abc":  # (1 - sum a^2) T_n + sum a^2 (y - x)
            sa2 = np.sum(a * a, axis=1, keepdims=True)
            t = (1.0 - sa2) * t + (a * a) @ ref - sa2 * x
        return t

    return shift(kp, yp) - shift(kn, yn)


@pytest.mark.parametrize("method", DRIFT_METHODS)
def test_every_drift_method_matches_its_dense_oracle(backend, method):
    """Kills any change to a method's formula that the streamed code would share with itself
    (the reference is the written-out formula, not driftlab's numpy path)."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(20, 3))
    yp = rng.normal(size=(33, 3)) + 1.0
    yn = rng.normal(size=(17, 3))
    tau = 0.8
    for negatives, mask in ((yn, False), (x, True)):
        want = _oracle_drift(method, tau, x, yp, negatives, mask)
        for tile in (None, 1, 7):
            got = batch_drift(backend.asarray(x), backend.asarray(yp), backend.asarray(negatives), Laplace(tau),
                              method=method, tile_size=tile)
            backend.check_type(got)
            # float64: sums of ~50 O(1) terms, ~1e-15; float32: inputs rounded to 2^-24 and
            # logits |r/tau| <= ~8 carry ~1e-6 relative, so 2e-5 on O(1) fields
            tol = 1e-12 if backend.dtype == "float64" else 2e-5
            assert_close(backend.to_numpy(got), want, atol=tol,
                         what=f"{method} {backend} tile={tile} mask_self={mask}")
