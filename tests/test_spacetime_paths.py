"""Müller–Brown: minimax bound, string method, Boltzmann grid posteriors, annealed Langevin, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from driftlab.spacetime import GridPosterior, curve_length, geodesic, resample_curve, straight_curve, tent_curve
from driftlab.spacetime.paths import annealed_langevin
from driftlab.spacetime.potentials import MullerBrown, grid_minimax_bound, refine_stationary_point, string_method
from tests.conftest import assert_close

MB = MullerBrown()


def test_muller_brown_gradient_and_hessian_match_finite_differences():
    rng = np.random.default_rng(0)
    p = rng.uniform([-1.5, -0.3], [1.0, 2.0], size=(20, 2))
    h = 1e-6
    g_fd = np.stack([(MB.energy(p + [h, 0]) - MB.energy(p - [h, 0])) / (2 * h),
                     (MB.energy(p + [0, h]) - MB.energy(p - [0, h])) / (2 * h)], axis=1)
    g = MB.gradient(p)
    # central differences: h^2 |U'''| ~ 1e-12 * 1e5, round-off eps |U| / h ~ 1e-8
    assert_close(g, g_fd, atol=1e-5 * (1 + np.abs(g).max()), what="grad U")
    H_fd = np.stack([(MB.gradient(p + [h, 0]) - MB.gradient(p - [h, 0])) / (2 * h),
                     (MB.gradient(p + [0, h]) - MB.gradient(p - [0, h])) / (2 * h)], axis=2)
    assert_close(MB.hessian(p), H_fd, atol=1e-5 * (1 + np.abs(H_fd).max()), what="Hessian U")


def test_stationary_points_and_minimax_bound():
    A = refine_stationary_point(MB, MB.MINIMUM_A)
    B = refine_stationary_point(MB, MB.MINIMUM_B)
    S1 = refine_stationary_point(MB, MB.SADDLE_1)
    # literature values (Müller & Brown 1979), quoted to 3 decimals
    assert_close(A, [-0.558, 1.442], atol=6e-4, what="minimum A")
    assert_close(B, [0.623, 0.028], atol=6e-4, what="minimum B")
    assert_close(S1, [-0.822, 0.624], atol=6e-4, what="saddle S1")
    assert np.linalg.eigvalsh(MB.hessian(S1[None])[0])[0] < 0  # index-1 saddle
    assert_close(MB.energy(S1[None])[0], -40.665, atol=5e-4, what="U(S1)")
    # grid minimax bound (independent of the saddle search): converges at O(h^2) to U(S1)
    bound = grid_minimax_bound(MB.energy, A, B, MB.BOX_LO, MB.BOX_HI, n=381)
    assert abs(bound.level - (-40.66)) < 0.02, bound  # h = 0.01: error <= ~ H h^2 ~ 0.1 * 0.1
    assert np.linalg.norm(bound.saddle_node - S1) < 0.03  # the joining node sits at the saddle
    # the straight A-B segment crosses a much higher ridge (about +12.6 above the bound)
    seg = straight_curve(A, B, 4001)
    assert 12.5 < MB.energy(seg).max() < 12.8


def test_string_method_reaches_the_bound():
    A = refine_stationary_point(MB, MB.MINIMUM_A)
    B = refine_stationary_point(MB, MB.MINIMUM_B)
    phi = string_method(MB, A, B, n_images=32, n_iter=3000, dt=2e-4)  # dt * max curvature ~ 0.8 < 2: stable
    from scipy.interpolate import CubicSpline

    fine = CubicSpline(np.linspace(0, 1, 32), phi)(np.linspace(0, 1, 4001))
    top = MB.energy(fine).max()
    # a converged MEP passes through S1: its max equals U(S1) up to interpolation error (~0.1)
    assert abs(top - (-40.665)) < 0.15, top


def test_boltzmann_grid_posterior_against_direct_sums_and_resolution():
    kT = 10.0
    post = GridPosterior.from_energy(MB.energy, 1 / kT, MB.BOX_LO, MB.BOX_HI, 121)
    z = np.array([[-0.5, 1.4, 4.0], [0.0, 0.5, 1.0], [0.6, 0.0, -3.0]])
    mu, C = post._moments_2d(z, True)
    mu2, C2 = post._moments_dense(z, True)
    # separable vs dense evaluation of the same sums: round-off only
    assert_close(mu, mu2, rtol=1e-11, atol=1e-11, what="grid mu")
    assert_close(C, C2, rtol=1e-9, atol=1e-11 * np.abs(C2).max(), what="grid Cov[T]")
    # refining the grid changes mu by less than the quadrature error (aliasing ~ exp(-2 pi^2 w^2/h^2))
    fine = GridPosterior.from_energy(MB.energy, 1 / kT, MB.BOX_LO, MB.BOX_HI, 241)
    assert_close(fine.mu(z), mu, rtol=1e-6, atol=1e-6, what="grid refinement")


def test_annealed_langevin_basics():
    A = refine_stationary_point(MB, MB.MINIMUM_A)
    B = refine_stationary_point(MB, MB.MINIMUM_B)
    # a stiff restraint dragged slowly along the MEP must take every chain to B
    phi = string_method(MB, A, B, n_images=32, n_iter=1500, dt=2e-4)
    curve = np.concatenate([phi, np.full((32, 1), 7.0)], axis=1)
    out = annealed_langevin(MB, curve, kT=5.0, steps_per_point=25, n_chains=16, rng=1)
    assert (out["basin"] == 1).all()
    assert out["n_energy_evals"] == 32 * 25 + 1
    assert (out["max_energy"] > -41.0).all()  # it crossed the barrier region
    # a fixed restraint at A keeps chains in A
    stay = np.tile(np.r_[A, 6.0], (8, 1))
    assert (annealed_langevin(MB, stay, kT=5.0, steps_per_point=20, n_chains=16, rng=2)["basin"] == 0).all()
    # same seed -> same result
    a1 = annealed_langevin(MB, curve[:8], 5.0, 5, 4, rng=3)["max_energy"]
    a2 = annealed_langevin(MB, curve[:8], 5.0, 5, 4, rng=3)["max_energy"]
    assert np.array_equal(a1, a2)
    with pytest.raises(ValueError, match="curve"):
        annealed_langevin(MB, curve[:, :2], 5.0, 5, 4)
    with pytest.raises(ValueError, match="kT"):
        annealed_langevin(MB, curve, -1.0, 5, 4)


def test_mb_geodesic_is_shorter_than_controls():
    kT = 10.0
    post = GridPosterior.from_energy(MB.energy, 1 / kT, MB.BOX_LO, MB.BOX_HI, 61)
    A = refine_stationary_point(MB, MB.MINIMUM_A)
    B = refine_stationary_point(MB, MB.MINIMUM_B)
    za, zb = np.r_[A, 3.0], np.r_[B, 3.0]
    # a few hundred iterations suffice to beat every control (full convergence is slow: flat in y at low SNR)
    g = geodesic(post, za, zb, 9, init="tent", lam_peak=-1.0, max_iter=200, ftol=1e-8, multiscale=False)
    for z0 in (straight_curve(za, zb, 9), tent_curve(za, zb, 9, -1.0), tent_curve(za, zb, 9, 1.0)):
        assert g.length < curve_length(post, z0)
    with pytest.raises(ValueError, match="outside the grid"):
        geodesic(post, za, np.r_[5.0, 0.0, 3.0], 9)


def test_cli_spacetime():
    from driftlab.cli import main

    runner = CliRunner()
    res = runner.invoke(main, ["spacetime", "geodesic", "--data", "gaussian", "--za", "-0.5,4", "--zb", "0.5,4",
                               "--points", "9,17", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert abs(out["length_extrapolated"] - 4.750977) < 2e-3
    assert abs(out["closed_form"] - 4.750977) < 1e-6
    res = runner.invoke(main, ["spacetime", "geodesic", "--data", "toy1d", "--za", "-2.3,0.35", "--zb", "2,0.4",
                               "--coords", "xt", "--points", "9,17"])
    assert res.exit_code == 0, res.output
    assert "length" in res.output
    res = runner.invoke(main, ["spacetime", "diffed", "--data", "toy1d", "--a", "0", "--b", "1", "--t-min", "0"])
    assert res.exit_code != 0 and "--t-min" in res.output
    res = runner.invoke(main, ["spacetime", "diffed", "--data", "gaussian", "--a", "-0.5", "--b", "0.5",
                               "--t-min", "0.3", "--schedule", "vp", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["diffed"] > 0


@pytest.mark.slow
def test_cli_spacetime_paths_quick():
    from driftlab.cli import main

    res = CliRunner().invoke(main, ["spacetime", "paths", "--potential", "muller-brown", "--quick", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)["rows"]
    assert {r["method"] for r in rows} >= {"geodesic", "straight (fixed noise)", "MEP restraint"}


def test_resample_natural_chart_keeps_inserted_points_between_neighbours():
    # the (y, lambda)-chart interpolant of (260, -5) and (0, 0) at the middle is (130, -2.5), whose
    # tilt s*y = 10.7 exceeds both neighbours' (1.75, 0); the natural chart keeps s, s*y and y
    # between the neighbours' values (exact identities of the interpolation, so float64 round-off)
    z = np.array([[0.0, 0.0, 0.0], [260.0, -40.0, -5.0], [0.0, 0.0, 0.0]])
    z[0], z[2] = [-0.558, 1.442, 6.0], [0.623, 0.028, 6.0]
    out = resample_curve(z, 41, chart="natural")
    assert_close(out[[0, -1]], z[[0, -1]], atol=0.0, what="endpoints kept exactly")
    for lo_pt, hi_pt in ((z[0], z[1]), (z[1], z[2])):  # one segment at a time
        seg = resample_curve(np.stack([lo_pt, hi_pt]), 21, chart="natural")
        lam_lo, lam_hi = sorted([lo_pt[-1], hi_pt[-1]])
        assert (seg[:, -1] >= lam_lo - 1e-12).all() and (seg[:, -1] <= lam_hi + 1e-12).all()
        tilt = np.exp(seg[:, -1:]) * seg[:, :-1]
        tilts = np.exp([[lo_pt[-1]], [hi_pt[-1]]]) * np.stack([lo_pt[:-1], hi_pt[:-1]])
        tol = 1e-9 * (1 + np.abs(tilts).max())  # round-off of the exp/log round trip
        assert (tilt >= tilts.min(0) - tol).all() and (tilt <= tilts.max(0) + tol).all()
        ys = np.stack([lo_pt[:-1], hi_pt[:-1]])
        assert (seg[:, :-1] >= ys.min(0) - 1e-9).all() and (seg[:, :-1] <= ys.max(0) + 1e-9).all()
    zlin = resample_curve(z, 41)  # the old chart overshoots the tilt (what broke geodesic refinement)
    assert (np.exp(zlin[:, -1]) * np.abs(zlin[:, 0])).max() > 2 * 260 * np.exp(-5.0)
    with pytest.raises(ValueError, match="chart"):
        resample_curve(z, 5, chart="eta")


def test_geodesic_refinement_keeps_grid_posterior_admissible_regression():
    # regression (Müller–Brown sweep, lambda_end 6.0, kT 20, grid_n 97: "no geodesic initialisation
    # succeeded"): between coarse-to-fine levels the geodesic was resampled linearly in
    # (y, lambda). A coarse iterate far out in y at low SNR (admissible: its tilt s*y is small)
    # then gets interpolants such as y = (21, -3) at lambda = 3.7, whose restraint pulls the
    # posterior onto the box edge -> ValueError. The refinement (natural-parameter chart) must
    # keep every point admissible; the old (y, lambda) interpolation is shown to fail here.
    from driftlab.spacetime.curves import _jeffreys, _refine

    A = refine_stationary_point(MB, MB.MINIMUM_A)
    B = refine_stationary_point(MB, MB.MINIMUM_B)
    post = GridPosterior.from_energy(MB.energy, 1 / 20.0, MB.BOX_LO, MB.BOX_HI, 97)
    for mid in ([100.0, -15.0, -5.0], [60.0, -10.0, -4.0], [150.0, -20.0, -6.0]):
        z = np.array([np.r_[A, 6.0], mid, np.r_[B, 6.0]])
        post.log_weights(z)  # the coarse curve is admissible
        fine = _refine(post, z, 17)
        post.log_weights(fine)  # raises ValueError if any point's posterior leaves the box
        assert np.isfinite(curve_length(post, fine))
        J = np.sqrt(np.maximum(_jeffreys(post, z), 0.0))
        with pytest.raises(ValueError, match="edge of the grid box"):
            post.log_weights(resample_curve(z, 17, weights=J))  # the pre-fix refinement


def test_path_functions_refuse_degenerate_counts_by_name():
    from driftlab.spacetime.paths import control_curves, run_sweep

    with pytest.raises(ValueError, match="curve"):  # was IndexError on z[0]
        annealed_langevin(MB, np.zeros((0, 3)), 10.0, 1, 2, rng=0)
    ax = np.linspace(-1.0, 1.0, 21)
    post = GridPosterior([ax, ax], np.zeros((21, 21)))
    with pytest.raises(ValueError, match="geodesic_points"):  # refused before any work
        control_curves(post, 2.0, 16, [0.0], np.zeros((4, 2)), geodesic_points=2)
    with pytest.raises(ValueError, match="n_points"):
        control_curves(post, 2.0, 1, [0.0], np.zeros((4, 2)))
    for kw, name in ((dict(budgets=(640.5,)), "budget"), (dict(budgets=(0,)), "budget"),
                     (dict(seeds=(0.5,)), "seed"), (dict(n_points=2), "n_points")):
        with pytest.raises((TypeError, ValueError), match=name):  # 640.5 was truncated to 640
            run_sweep(kTs=(10.0,), lam_ends=(4.6,), grid_n=97, mep_iter=1, show_progress=False, **kw)


def test_sweep_refuses_bad_lam_end_and_kT_before_any_work(monkeypatch):
    """lam_end above the grid's resolvable lambda, or kT <= 0, is refused before the (expensive)
    string method runs: the run used to spend the whole MEP relaxation first."""
    from driftlab.spacetime import paths

    def no_work(*a, **k):
        raise AssertionError("string_method ran before the arguments were validated")

    monkeypatch.setattr(paths, "string_method", no_work)
    for kw, name in ((dict(lam_ends=(4.6, 50.0)), "lam_end"), (dict(kTs=(10.0, -1.0)), "kT"),
                     (dict(lam_ends=(float("nan"),)), "lam_end")):
        args = dict(kTs=(10.0,), lam_ends=(4.6,), grid_n=97, mep_iter=1, show_progress=False)
        args.update(kw)
        with pytest.raises(ValueError, match=name):
            paths.run_sweep(**args)


def test_resolvable_lambda_matches_the_posterior():
    """The up-front bound is the posterior's own lam_max: -2 log(min_resolution x spacing) (exact)."""
    lo, hi, n = np.array([-1.5, -0.5]), np.array([1.0, 2.0]), 97
    post = GridPosterior.from_energy(MB.energy, 0.1, lo, hi, n)
    got = GridPosterior.resolvable_lambda(lo, hi, n)
    assert got == post.lam_max, (got, post.lam_max)
    assert got == pytest.approx(-2 * np.log(2.5 / 96), rel=1e-15), got
