"""Alanine-dipeptide transition paths: the periodic (lifted) posterior against a brute-force
wrapped posterior, lifts, and paths that start and end in the right basins."""

from __future__ import annotations

import math

import numpy as np
import pytest

from driftlab.spacetime import alanine_dipeptide
from driftlab.spacetime.alanine import lift_near, periodic_posterior, shooting_paths
from driftlab.spacetime.paths import annealed_langevin
from driftlab.spacetime.curves import straight_curve


@pytest.fixture(scope="module")
def surf():
    return alanine_dipeptide()


def _brute_force(surf, kT, z, images=4):
    """Wrapped posterior on the 89 x 89 torus grid with an explicit lattice sum over
    |n_i| <= images, and the lifted mean E[x - 2 pi n] over nodes and images."""
    P, Q = np.meshgrid(*surf.axes, indexing="ij")
    x = np.stack([P.ravel(), Q.ravel()], axis=1)
    s = math.exp(z[2])
    logq = -surf.values.ravel() / kT
    terms, lifted = [], []
    for n1 in range(-images, images + 1):
        for n2 in range(-images, images + 1):
            xt = x + 2 * math.pi * np.array([n1, n2])
            terms.append(logq - 0.5 * s * ((xt - z[:2]) ** 2).sum(1))
            lifted.append(xt)
    L = np.stack(terms)  # (images, nodes)
    w = np.exp(L - L.max())
    w /= w.sum()
    torus = w.sum(axis=0)
    mean = np.einsum("kg,kgd->d", w, np.stack(lifted))
    return torus, mean


@pytest.mark.parametrize("lam", [4.0, 1.0, -1.0])
def test_lifted_posterior_matches_the_wrapped_lattice_sum(surf, lam):
    kT = 2.5
    post = periodic_posterior(surf, kT, tiles=3 if lam > 0 else 5)
    z = np.array([[0.3, 2.9, lam]])  # near the psi = pi seam: images matter
    torus_bf, mean_bf = _brute_force(surf, kT, z[0])
    w = np.exp(post.log_weights(z)[0]).reshape(post.axes[0].size, post.axes[1].size)
    t = w.shape[0] // 89
    torus = w.reshape(t, 89, t, 89).sum(axis=(0, 2)).ravel()
    # truncating the lattice sum to the tiles drops the mass beyond them (bounded by edge_tol =
    # 1e-4, enforced by the posterior; here below e^-200 since these tiles are wide enough), and
    # the brute force keeps 9 x 9 images: what remains is float64 round-off (measured <= 1e-13)
    err = np.abs(torus - torus_bf).sum()
    assert err < 1e-12, f"z={z[0]}: total variation {err:.3e}"
    mean = post.denoise(z)[0]
    assert np.abs(mean - mean_bf).max() < 1e-12, (mean, mean_bf)


def test_posterior_refuses_a_truncated_lattice_sum(surf):
    post = periodic_posterior(surf, 2.5, tiles=1)
    with pytest.raises(ValueError, match="edge"):
        post.mu([[3.0, 3.0, -2.0]])  # a broad restraint at the cell's corner leaves the single tile


def test_tiles_must_be_odd(surf):
    with pytest.raises(ValueError, match="odd"):
        periodic_posterior(surf, 1.0, tiles=2)


def test_lift_near_picks_the_nearest_image():
    got = lift_near([0.95, -0.40], [0.9, 5.5])
    np.testing.assert_allclose(got, [0.95, -0.40 + 2 * math.pi], atol=1e-15)


def test_restrained_chains_end_in_the_target_basin(surf):
    """A restraint dragged along the fixed-noise line at lambda = 4 carries every chain from A's
    basin to B's (the basins of the two published endpoints differ)."""
    A = np.array(surf.MINIMUM_A)
    B = lift_near(surf.MINIMUM_B, A + [3.5, 3.2])
    basin_a, basin_b = surf.basin(np.stack([A, B]))
    assert basin_a != basin_b
    z = np.concatenate([straight_curve(A, B, 48), np.full((48, 1), 4.0)], axis=1)
    out = annealed_langevin(surf, z, 1.0, 20, 8, rng=0, curvature=surf.max_curvature())
    assert (surf.basin(out["trajectory"][0]) == basin_a).all()
    assert (out["basin"] == basin_b).all(), out["basin"]
    assert (out["max_energy"] >= 36.3).all()  # no path can beat the minimax bound (36.33)


def test_shooting_accepts_only_reactive_paths(surf):
    out = shooting_paths(surf, surf.MINIMUM_A, surf.MINIMUM_B, 5.0, 256, 2048, 8, rng=1)
    assert out["n_energy_evals"] == 2048
    assert ((out["acceptance"] > 0) == out["success"]).all()
    # accepted paths cross the barrier: their max energy is at least the minimax bound
    ok = out["success"]
    assert (out["max_energy"][ok] >= 36.3).all()
    assert np.isnan(out["max_energy"][~ok]).all()
    with pytest.raises(ValueError, match="budget"):
        shooting_paths(surf, surf.MINIMUM_A, surf.MINIMUM_B, 5.0, 256, 100, 2)
