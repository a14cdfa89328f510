"""Smoke tests of the theory figure scripts (quick mode) and of the numbers they plot."""

from __future__ import annotations

import json

import pytest

from driftlab.repro import discover


def test_theory_gaussian_figure(tmp_path):
    paths = discover()["theory-gaussian"].make(tmp_path, quick=True)
    assert all(p.exists() for p in paths)
    data = json.loads((tmp_path / "theory_gaussian.json").read_text())
    # posterior-mean drift vs s^2 x score difference: two closed forms, float64 round-off
    assert data["profile"]["max_abs_population_gap"] < 1e-12
    # batch field vs s^2 x KDE score difference: Tweedie for empirical measures, round-off
    assert data["profile"]["max_abs_batch_gap"] < 1e-12
    assert data["recovery_rel_linf_error"] < 1e-2


@pytest.mark.slow
@pytest.mark.parametrize("name", ["theory-laplace-fields", "theory-laplace-rates", "theory-fisher"])
def test_theory_laplace_figures(tmp_path, name):
    paths = discover()[name].make(tmp_path, quick=True)
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    if name == "theory-laplace-fields":
        data = json.loads((tmp_path / "theory_laplace_fields.json").read_text())
        for f in data["fields"].values():
            assert f["max_decomposition_error"] < 1e-12  # V = preconditioned + residual exactly


@pytest.mark.slow
def test_theory_fisher_figure_numbers(tmp_path):
    discover()["theory-fisher"].make(tmp_path, quick=True)
    data = json.loads((tmp_path / "theory_fisher.json").read_text())
    # Monte Carlo vs closed form: every bandwidth within 4 standard errors
    assert all(abs(r["z"]) <= 4 for r in data["fisher"]["rows"])
    # particles vs exact Euler recursion: finite-N deviation ~0.2/sqrt(N), N = 400 -> tolerance 1/sqrt(N)
    assert data["flow"]["max_particle_vs_euler"] < 400 ** -0.5
