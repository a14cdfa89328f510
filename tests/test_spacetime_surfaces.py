"""Periodic energy surfaces: loader validation, the interpolant, the torus minimax bound
computed two ways, and the minimum-energy path of the alanine-dipeptide surface."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from driftlab.spacetime import (
    PeriodicSurface,
    alanine_dipeptide,
    load_periodic_surface,
    torus_minimax_bound,
    torus_string_method,
    wrap_angle,
)


@pytest.fixture(scope="module")
def surf():
    return alanine_dipeptide()


def _write(path, phi, psi, z):
    rows = np.stack([phi, psi, z], axis=1)
    np.savetxt(path, rows, header="phi psi z")
    return path


def _grid(n1=8, n2=6):
    a1 = -math.pi + np.arange(n1) * 2 * math.pi / n1
    a2 = -math.pi + np.arange(n2) * 2 * math.pi / n2
    P, Q = np.meshgrid(a1, a2, indexing="ij")
    Z = np.cos(P) + 0.5 * np.sin(2 * Q) + 0.1 * np.cos(P - Q)
    return P.ravel(), Q.ravel(), Z.ravel()


# ----- the loader ----------------------------------------------------------------------
def test_loader_infers_the_grid_in_any_row_order(tmp_path):
    phi, psi, z = _grid()
    perm = np.random.default_rng(0).permutation(phi.size)
    s = load_periodic_surface(_write(tmp_path / "g.dat", phi[perm], psi[perm], z[perm]))
    assert s.shape == (8, 6)
    np.testing.assert_array_equal(s.values.ravel(), z)


def test_loader_rejects_a_missing_node(tmp_path):
    phi, psi, z = _grid()
    with pytest.raises(ValueError, match="missing"):
        load_periodic_surface(_write(tmp_path / "g.dat", phi[1:], psi[1:], z[1:]))


def test_loader_rejects_a_duplicated_node(tmp_path):
    phi, psi, z = _grid()
    phi, psi, z = (np.r_[a, a[5]] for a in (phi, psi, z))
    with pytest.raises(ValueError, match="exactly once"):
        load_periodic_surface(_write(tmp_path / "g.dat", phi, psi, z))


def test_loader_rejects_irregular_spacing(tmp_path):
    phi, psi, z = _grid()
    phi = np.where(np.isclose(phi, phi.max()), phi - 0.1, phi)
    with pytest.raises(ValueError, match="regular periodic grid"):
        load_periodic_surface(_write(tmp_path / "g.dat", phi, psi, z))


def test_loader_rejects_a_grid_that_is_not_periodic(tmp_path):
    # pi itself given as a node (a closed grid [-pi, pi] instead of [-pi, pi))
    a = np.linspace(-math.pi, math.pi, 6)
    P, Q = np.meshgrid(a, a, indexing="ij")
    with pytest.raises(ValueError, match="regular periodic grid"):
        load_periodic_surface(_write(tmp_path / "g.dat", P.ravel(), Q.ravel(), np.cos(P).ravel()))


@pytest.mark.parametrize("content,match", [("1 2\n3 4\n", "3 columns"), ("a b c\n", "cannot read"),
                                           ("0 0 nan\n" * 20, "non-finite")])
def test_loader_rejects_bad_tables(tmp_path, content, match):
    path = tmp_path / "bad.dat"
    path.write_text(content)
    with pytest.raises(ValueError, match=match):
        load_periodic_surface(path)


def test_shipped_surface(surf):
    # the shipped file: 89 x 89 nodes, energies in [0, 96.36] (read independently here)
    raw = np.loadtxt(__import__("importlib.resources").resources.files("driftlab.spacetime")
                     .joinpath("data/alanine_dipeptide.dat"))
    assert surf.shape == (89, 89) and raw.shape == (7921, 3)
    assert surf.values.min() == raw[:, 2].min() == 0.0
    assert abs(surf.values.max() - 96.358005987) < 1e-9


# ----- the interpolant -------------------------------------------------------------------
def test_interpolant_reproduces_the_grid_values(surf):
    P, Q = np.meshgrid(*surf.axes, indexing="ij")
    got = surf.energy(np.stack([P.ravel(), Q.ravel()], axis=1))
    # interpolation through the nodes: float64 round-off of the spline prefilter (values ~100)
    err = np.abs(got - surf.values.ravel()).max()
    assert err < 1e-10, err


def test_interpolant_matches_scipy_map_coordinates(surf):
    """An independent evaluation of the same periodic cubic B-spline (scipy's)."""
    p = np.random.default_rng(1).uniform(-4 * math.pi, 4 * math.pi, (500, 2))
    coords = np.stack([(wrap_angle(p[:, k]) + math.pi) / surf.spacing[k] for k in range(2)])
    want = ndimage.map_coordinates(surf.values, coords, order=3, mode="grid-wrap")
    err = np.abs(surf.energy(p) - want).max()
    assert err < 1e-10, err


def test_interpolant_is_periodic(surf):
    p = np.random.default_rng(2).uniform(-math.pi, math.pi, (200, 2))
    for shift in ([2 * math.pi, 0], [0, -2 * math.pi], [4 * math.pi, 2 * math.pi]):
        # the same point after exact-ish 2 pi shifts: round-off in the shifted angles only
        assert np.abs(surf.energy(p + shift) - surf.energy(p)).max() < 1e-9


def test_forces_and_hessian_match_finite_differences(surf):
    p = np.random.default_rng(3).uniform(-math.pi, math.pi, (300, 2))
    h = 1e-6
    e = np.eye(2) * h
    fd_grad = np.stack([(surf.energy(p + e[k]) - surf.energy(p - e[k])) / (2 * h) for k in range(2)], axis=1)
    # central differences: O(h^2 U''') + round-off eps |U| / h ~ 1e-8 on gradients of O(100)
    assert np.abs(surf.gradient(p) - fd_grad).max() < 1e-6
    fd_hess = np.stack([(surf.gradient(p + e[k]) - surf.gradient(p - e[k])) / (2 * h) for k in range(2)], axis=1)
    # the cubic spline's second derivative is continuous (C^2): round-off eps |U'| / h ~ 1e-7
    assert np.abs(surf.hessian(p) - fd_hess).max() < 1e-5


def test_minima_are_stationary_and_lowest_nearby(surf):
    mins = surf.minima()
    assert len(mins) >= 2
    assert np.abs(surf.gradient(mins)).max() < 1e-8
    assert (np.linalg.eigvalsh(surf.hessian(mins)) > 0).all()


def test_surface_rejects_bad_values():
    with pytest.raises(ValueError, match="finite"):
        PeriodicSurface(np.full((5, 5), np.nan))
    with pytest.raises(ValueError, match="2-D grid"):
        PeriodicSurface(np.zeros(10))


# ----- the bound, two ways -------------------------------------------------------------------
def _bisection_bound(U, ia, ib, tol=1e-9):
    """Independent grid bound: bisection on the level with scipy.ndimage.label on the 3 x 3
    periodic tiling (a torus path lifts to a plane path from a to some image of b)."""
    n1, n2 = U.shape
    T = np.tile(U, (3, 3))
    a = (ia[0] + n1, ia[1] + n2)
    imgs = [(ib[0] + k * n1, ib[1] + m * n2) for k in range(3) for m in range(3)]

    def joined(c):
        lab, _ = ndimage.label(T <= c)
        return lab[a] != 0 and any(lab[a] == lab[i] for i in imgs)

    lo, hi = max(U[ia], U[ib]), float(U.max())
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if joined(mid) else (mid, hi)
    return hi


def _node(surf, p):
    return tuple(int(round((wrap_angle(p[k]) + math.pi) / surf.spacing[k])) % surf.shape[k] for k in range(2))


def test_grid_bound_matches_an_independent_bisection(surf):
    a, b = surf.MINIMUM_A, surf.MINIMUM_B
    res = torus_minimax_bound(surf, a, b)
    want = _bisection_bound(surf.values, _node(surf, a), _node(surf, b))
    # the union-find level is a node energy; bisection brackets it to 1e-9
    assert abs(res.level - want) < 1e-8, (res.level, want)
    # the returned path stays below the level and joins the two nodes
    e = surf.energy(res.path)
    assert e.max() <= res.level + 1e-9
    assert _node(surf, res.path[0]) == _node(surf, a) and _node(surf, res.path[-1]) == _node(surf, b)


def test_periodicity_matters_for_the_bound():
    """Two wells whose only low pass crosses the phi = +-pi seam: the torus bound takes the
    seam (equal to the tiled bisection), a box-bounded search would have to climb higher."""
    n = 40
    a = -math.pi + np.arange(n) * 2 * math.pi / n
    P, Q = np.meshgrid(a, a, indexing="ij")
    U = 10 + 5 * np.cos(Q) ** 2 + 5 * np.cos(P)  # valleys at psi = +-pi/2, low near phi = +-pi
    surf = PeriodicSurface(U)
    pa, pb = (math.pi - 0.3, -math.pi / 2), (-math.pi + 0.3, math.pi / 2)
    res = torus_minimax_bound(surf, pa, pb)
    ia, ib = _node(surf, pa), _node(surf, pb)
    assert abs(res.level - _bisection_bound(U, ia, ib)) < 1e-8
    lab_level = next(c for c in np.sort(U.ravel()) if (lambda lab: lab[ia] and lab[ia] == lab[ib])(
        ndimage.label(U <= c)[0]))
    assert lab_level > res.level + 1.0, (lab_level, res.level)


def test_bound_two_ways_agree_within_grid_resolution(surf):
    """Grid bottleneck (nodes only) vs the maximum along the string-method minimum-energy path of
    the interpolant. The grid level misses the continuum saddle by at most the energy variation
    over one cell near the saddle, ~ |grad U| h + |U''| h^2 / 8; here we bound it by the largest
    energy difference between 4-neighbours around the saddle node."""
    a, b = surf.MINIMUM_A, surf.MINIMUM_B
    grid = torus_minimax_bound(surf, a, b)
    mep = torus_string_method(surf, grid.path, n_images=96, n_iter=2500)
    dense = np.concatenate([np.linspace(mep[i], mep[i + 1], 16, endpoint=False) for i in range(len(mep) - 1)])
    continuum = float(surf.energy(dense).max())
    i, j = _node(surf, grid.saddle_node)
    U = surf.values
    cell = max(abs(U[i, j] - U[(i + di) % 89, (j + dj) % 89]) for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)))
    assert abs(grid.level - continuum) <= cell, (grid.level, continuum, cell)
    # the refined grid (interpolant on a 4x finer grid) converges towards the continuum value
    fine = torus_minimax_bound(surf, a, b, refine=4)
    assert abs(fine.level - continuum) <= abs(grid.level - continuum) + 1e-3
    # the path starts and ends in the basins of the two endpoints
    ends = surf.basin(mep[[0, -1]])
    want = surf.basin(np.array([a, b]))
    assert ends.tolist() == want.tolist() and want[0] != want[1], (ends, want)
