"""The learned-denoiser path of [S]: any x0-predictor, Hutchinson divergence, autograd metric/geodesic.

The "trained model" here is an independent torch implementation of the exact x0-predictor
of an isotropic Gaussian mixture, written in each schedule's native (x_t, t) coordinates, so
every quantity has an exact reference from :class:`GaussianMixturePosterior`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from driftlab.distributions import GaussianMixture
from driftlab.spacetime import (
    VE,
    DenoiserPosterior,
    FlowMatching,
    GaussianMixturePosterior,
    VPLinearBeta,
    VPLogLinear,
    curve_length,
    geodesic,
    tent_curve,
)
from tests.conftest import assert_close

torch = pytest.importorskip("torch")

MEANS = np.array([[-1.5, 0.5, 0.0], [1.0, -0.5, 0.8], [0.2, 1.2, -1.0]])
VARS = np.array([0.3, 0.5, 0.4])
W = np.array([0.3, 0.5, 0.2])


def _torch_gmm_denoiser(y, lam, D):
    """E[x0 | y, SNR = e^lam] for the isotropic mixture, in torch (independent of driftlab)."""
    m = torch.as_tensor(MEANS[:, :D], dtype=y.dtype)
    var = torch.as_tensor(VARS, dtype=y.dtype)
    v = torch.exp(-lam)[:, None]  # (n, 1)
    tot = var[None] + v  # (n, K)
    d2 = ((y[:, None, :] - m[None]) ** 2).sum(-1)
    logit = torch.log(torch.as_tensor(W, dtype=y.dtype))[None] - 0.5 * D * torch.log(tot) - 0.5 * d2 / tot
    r = torch.softmax(logit, dim=1)
    comp = m[None] + (var[None] / tot)[..., None] * (y[:, None, :] - m[None])
    return (r[..., None] * comp).sum(1)


def _native_model(schedule, D):
    """A model trained in native coordinates: model(x_t, t) -> x0_hat, differentiable in x_t and t.

    lambda(t) and alpha(t) are re-implemented here in torch from the textbook formulas.
    """

    def lam_alpha(t):
        if isinstance(schedule, VPLogLinear):
            lam = schedule.lambda_max + (schedule.lambda_min - schedule.lambda_max) * t
            return lam, torch.sqrt(torch.sigmoid(lam))
        if isinstance(schedule, VPLinearBeta):
            B = schedule.beta_min * t + 0.5 * (schedule.beta_max - schedule.beta_min) * t * t
            return -torch.log(torch.expm1(B)), torch.exp(-0.5 * B)
        if isinstance(schedule, VE):
            lam = -2 * (math.log(schedule.sigma_min) + t * math.log(schedule.sigma_max / schedule.sigma_min))
            return lam, torch.ones_like(t)
        return 2 * torch.log((1 - t) / t), 1 - t

    def model(x, t):
        lam, alpha = lam_alpha(t)
        return _torch_gmm_denoiser(x / alpha[:, None], lam, D)

    return model


def _exact(D):
    return GaussianMixturePosterior(GaussianMixture(MEANS[:, :D], VARS, W))


@pytest.mark.parametrize("D", [1, 3])
def test_denoiser_mu_matches_exact_exact_divergence(D):
    rng = np.random.default_rng(D)
    z = np.concatenate([rng.normal(size=(6, D)), rng.uniform(-2, 3, size=(6, 1))], axis=1)
    post = DenoiserPosterior(lambda y, lam: _torch_gmm_denoiser(y, lam, D), D)
    # float64 autograd vs closed form: round-off only
    assert_close(post.mu(z), _exact(D).mu(z), rtol=1e-10, atol=1e-10, what="denoiser mu")


def test_hutchinson_second_order_tweedie_within_monte_carlo_error():
    D = 3
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(size=(4, D)), rng.uniform(-1, 2, size=(4, 1))], axis=1)
    n_probes = 64
    post = DenoiserPosterior(lambda y, lam: _torch_gmm_denoiser(y, lam, D), D, divergence="hutchinson",
                             n_probes=n_probes, seed=1)
    got = post.mu(z)[:, D]
    exact_post = _exact(D)
    expected = exact_post.mu(z)[:, D]
    # Rademacher Hutchinson on A = dD/dy (symmetric: s Cov): Var = 2 sum_{i != j} A_ij^2 per probe;
    # E|x0|^2 error = div error / s. Allow 5 standard errors.
    A = exact_post.cov_T(z)[:, :D, :D] * np.exp(z[:, -1])[:, None, None]
    off = np.sum(A**2, axis=(1, 2)) - np.sum(np.diagonal(A, axis1=1, axis2=2) ** 2, axis=1)
    se = np.sqrt(2 * off / n_probes) * np.exp(-z[:, -1])
    assert (np.abs(got - expected) < 5 * se + 1e-12).all(), (got, expected, se)
    assert (np.abs(got - expected) > 0).any()  # it really is a stochastic estimate


@pytest.mark.parametrize("sch", [VPLogLinear(), VPLinearBeta(), VE(0.01, 50.0), FlowMatching()], ids=repr)
def test_models_in_native_coordinates_give_the_same_geometry(sch):
    """Boundary conversion: a VP/VE/FM model yields the same mu, metric and lengths."""
    D = 2
    post = DenoiserPosterior.from_schedule(_native_model(sch, D), sch, D)
    exact = _exact(D)
    z = np.array([[0.3, -0.2, 1.0], [-1.0, 0.5, 0.0], [0.8, 0.8, 2.0]])
    assert_close(post.mu(z), exact.mu(z), rtol=1e-9, atol=1e-10, what=f"mu via {sch!r}")
    # metric: autograd Jacobian form vs exact Cov[T] form
    G1 = post.metric(z, form="jacobian")
    G2 = exact.metric(z, form="cov")
    assert_close(G1, G2, rtol=1e-8, atol=1e-8 * np.abs(G2).max(), what="autograd metric vs Cov form")
    curve = tent_curve([-1.0, 0.5, 1.5], [1.0, -0.5, 1.0], 41, -1.0)
    assert_close(curve_length(post, curve), curve_length(exact, curve), rtol=1e-9, what="length")


def test_autograd_energy_gradient_equals_analytic_gradient():
    from driftlab.spacetime.curves import _energy_and_grad, torch_curve_energy

    D = 2
    post = DenoiserPosterior(lambda y, lam: _torch_gmm_denoiser(y, lam, D), D)
    z = tent_curve([-1.0, 0.5, 1.5], [1.0, -0.5, 1.0], 7, -0.5)
    zt = torch.as_tensor(z).requires_grad_(True)
    E = torch_curve_energy(post, zt)
    E.backward()
    E_ref, g_ref = _energy_and_grad(_exact(D), z)
    # second-order autograd through the exact divergence vs the closed-form Cov[T] gradient
    assert_close(E.item(), E_ref, rtol=1e-10, what="energy")
    assert_close(zt.grad.numpy(), g_ref, rtol=1e-8, atol=1e-8 * np.abs(g_ref).max(), what="dE/dz autograd")


@pytest.mark.slow
def test_autograd_geodesic_approaches_exact_geodesic():
    D = 1
    post = DenoiserPosterior(lambda y, lam: _torch_gmm_denoiser(y, lam, D), D)
    exact = _exact(D)
    za, zb = [-1.5, 2.0], [1.0, 2.0]
    ref = geodesic(exact, za, zb, 9, init="tent", lam_peak=0.0)
    g = geodesic(post, za, zb, 9, init="tent", lam_peak=0.0, max_iter=250, lr=0.03)
    init_len = curve_length(exact, tent_curve(za, zb, 9, 0.0))
    # Adam (250 steps) need not reach L-BFGS precision; it must close >= 95% of the gap
    assert curve_length(exact, g.z) - ref.length < 0.05 * (init_len - ref.length), (g.length, ref.length, init_len)
    assert math.isfinite(g.length)
