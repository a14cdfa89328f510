"""Every kernel's FastForm reproduces its log-profile (the description fast backends consume)."""

import numpy as np
import pytest

from driftlab.kernels import FastForm, Gaussian, InverseMultiquadric, Laplace, Matern, Wendland


def _evaluate(form: FastForm, r: np.ndarray) -> np.ndarray:
    # written from FastForm's documented formulas, independent of the kernels' own code
    if form.kind == "sq_exp":
        return -form.a * r * r
    if form.kind == "exp":
        return -form.a * r
    if form.kind == "poly_exp":
        z = form.a * r
        return -z + np.log(sum(c * z**i for i, c in enumerate(form.poly)))
    if form.kind == "imq":
        return -form.beta * np.log1p(form.a * r * r)
    raise AssertionError(f"unknown kind {form.kind!r}")


@pytest.mark.parametrize("kernel", [
    Gaussian(0.7), Laplace(0.3), Matern(0.4, nu=0.5), Matern.companion(0.2), Matern(0.4, nu=2.5),
    Matern(1.3, nu=4.5), InverseMultiquadric(0.5, 1.5), InverseMultiquadric(2.0),
], ids=repr)
def test_fast_form_matches_log_profile(kernel):
    r = np.linspace(0.0, 5.0, 41)
    got = _evaluate(kernel.fast_form, r)
    want = kernel.log_profile(r)
    # float64 round-off of O(10) log values: 1e-12 absolute
    err = np.abs(got - want).max()
    assert err < 1e-12, f"{kernel!r}: form {kernel.fast_form}, max |diff| {err:.3e}"


@pytest.mark.parametrize("kernel", [Matern(1.0, nu=1.2), Wendland(1.0)], ids=repr)
def test_no_fast_form_without_closed_form(kernel):
    assert kernel.fast_form is None, f"{kernel!r} has {kernel.fast_form}, expected None"
