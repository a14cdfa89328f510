"""The Sinkhorn-divergence drift (docs/theory.md, the Sinkhorn section)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from conftest import assert_close
from driftlab.fields import batch_drift
from driftlab.kernels import Gaussian
from driftlab.training import sinkhorn_divergence, sinkhorn_drift, sinkhorn_plan

@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny problems: one torch thread is several times faster on a loaded 2-core machine."""
    from driftlab.training import torch_threads

    with torch_threads(1):
        yield



@given(st.integers(1, 12), st.integers(1, 12), st.integers(1, 3), st.floats(0.05, 4.0), st.integers(0, 10**6))
def test_zero_iterations_is_the_gaussian_drift(n, m, d, eps, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)), rng.normal(size=(m, d)) * 1.5 + 0.7
    v0 = sinkhorn_drift(x, y, eps, n_iter=0)
    # the foundation's separately normalised Gaussian drift with s^2 = eps, self-pair kept:
    # both are the same ratio of kernel sums computed in log space -> float64 round-off only
    ref = batch_drift(x, y, x, Gaussian(np.sqrt(eps)), method="separate", mask_self=False)
    assert_close(v0, ref, rtol=1e-10, atol=1e-12 * (1 + np.abs(ref).max()), what="V_S(0 iters) vs Gaussian drift")


def test_zero_iterations_torch_float32_matches():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 2)), rng.normal(size=(30, 2)) + 1.0
    v = sinkhorn_drift(torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32), 0.3, n_iter=0)
    assert isinstance(v, torch.Tensor) and v.dtype == torch.float32
    ref = batch_drift(x, y, x, Gaussian(np.sqrt(0.3)), method="separate", mask_self=False)
    # float32: ~1e-6 relative per operation on O(1) values
    assert_close(v.numpy(), ref, atol=2e-5, what="float32 torch")


def _setup(seed=0, n=7, m=9):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)), rng.normal(size=(m, 2)) * 0.8 + np.array([1.0, -0.5])


def test_converged_plan_has_uniform_marginals():
    x, y = _setup()
    plan = sinkhorn_plan(x, y, 0.5, n_iter=5000, tol=1e-13)
    assert_close(plan.sum(1), np.full(7, 1 / 7), atol=1e-13, what="row marginal (stopping tolerance 1e-13)")
    assert_close(plan.sum(0), np.full(9, 1 / 9), atol=1e-12, what="column marginal (stopping tolerance 1e-13)")


@pytest.mark.parametrize("eps", [0.5, 2.0])
def test_converged_drift_is_minus_n_grad_sinkhorn_divergence_autograd(eps):
    x, y = _setup()
    v = sinkhorn_drift(x, y, eps, n_iter=5000, tol=1e-13)
    xt = torch.tensor(x, requires_grad=True)
    # autograd differentiates *through* the POT iterations (grad="autodiff"): independent of the
    # envelope-theorem argument behind V_S = -N grad S. Converged to marginal error 1e-13;
    # the gradient error of the unrolled iterations is of the same order.
    s = sinkhorn_divergence(xt, torch.tensor(y), eps, n_iter=5000, tol=1e-13)
    s.backward()
    assert_close(-len(x) * xt.grad.numpy(), v, atol=1e-9, what=f"V_S vs -N grad S (eps={eps})")


def test_converged_drift_is_minus_n_grad_sinkhorn_divergence_finite_differences():
    x, y = _setup(seed=3, n=5, m=6)
    x, y = torch.tensor(x), torch.tensor(y)
    # eps = 2: the symmetric self-transport terms converge to 1e-16 within ~200 iterations here
    # (at eps <= 1 POT's iterations approach the fixed point slowly: 1e-9 changes after 5000)
    eps = 2.0
    v = sinkhorn_drift(x, y, eps, n_iter=3000, tol=1e-13).numpy()
    h = 1e-4
    coords = [(0, 0), (2, 1), (4, 0)]
    g = []
    for i, k in coords:
        e = torch.zeros_like(x)
        e[i, k] = h
        with torch.no_grad():
            g.append((float(sinkhorn_divergence(x + e, y, eps, 3000, tol=1e-13))
                      - float(sinkhorn_divergence(x - e, y, eps, 3000, tol=1e-13))) / (2 * h))
    # central differences: O(h^2) truncation ~1e-8 * |S'''| plus round-off 1e-16/h ~1e-12;
    # times N = 5 -> 1e-7 is a few times the expected error, far below |V| ~ 0.5
    assert_close(-len(x) * np.array(g), np.array([v[i, k] for i, k in coords]), atol=1e-7,
                 what="V_S vs -N x finite-difference gradient of S")


def test_vanishes_at_q_equals_p_with_a_different_representation():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(12, 2))
    y = np.concatenate([x, x])[rng.permutation(24)]  # the same measure: every point twice, shuffled
    eps = 0.3
    v = sinkhorn_drift(x, y, eps, n_iter=5000, tol=1e-13, return_parts=True)
    # converged: the plans coincide up to the duplication -> 0 up to the marginal tolerance
    assert np.abs(v.field).max() < 1e-10
    # ... while each one-sided term alone (the entropic bias of OT_eps(q, p)) is far from 0:
    assert np.abs(v.toward_data - x).max() > 0.1
    assert np.abs(sinkhorn_divergence(x, y, eps, 5000, tol=1e-13)) < 1e-12


def test_sinkhorn_bad_input():
    x, y = _setup()
    with pytest.raises(ValueError, match="eps"):
        sinkhorn_drift(x, y, 0.0)
    with pytest.raises(ValueError, match="n_iter"):
        sinkhorn_drift(x, y, 1.0, n_iter=-1)
    with pytest.raises(ValueError, match="y"):
        sinkhorn_drift(x, np.zeros((3, 3)), 1.0)
    with pytest.raises(TypeError):
        sinkhorn_drift(torch.tensor(x), y, 1.0)
