"""Plasma dispersion function and Landau roots for the analogy table."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftlab.kernels import Gaussian
from driftlab.spectral.landau import (
    landau_root,
    landau_table,
    langmuir_epsilon,
    plasma_dispersion,
    plasma_dispersion_mp,
    weak_damping_rate,
)
from tests.conftest import assert_close


@given(x=st.floats(-6, 6), y=st.floats(-3, 3))
def test_scipy_Z_matches_mpmath_30_digits(x, y):
    # wofz is accurate to ~1e-13 relative in this strip (incl. Im zeta < 0, the Landau
    # continuation); the mpmath reference is evaluated at 30 digits.
    with mp.workdps(30):
        ref = complex(plasma_dispersion_mp(mp.mpc(x, y)))
    assert abs(complex(plasma_dispersion(complex(x, y))) - ref) <= 1e-12 * max(1.0, abs(ref))


def test_Z_known_values_and_derivative_identity():
    # Z(0) = i sqrt(pi); Z'(zeta) = -2 (1 + zeta Z) checked by mpmath differentiation (30 digits).
    assert_close(plasma_dispersion(0.0).imag, math.sqrt(math.pi), rtol=1e-15, what="Z(0)")
    with mp.workdps(30):
        for z in (mp.mpc(0.7, 0.2), mp.mpc(1.5, -0.4)):
            d = mp.diff(plasma_dispersion_mp, z)
            assert abs(d + 2 * (1 + z * plasma_dispersion_mp(z))) < mp.mpf(10) ** -25


@pytest.mark.parametrize("k, omega, gamma", [
    # Literature values (Maxwellian Langmuir waves, omega_p = lambda_D = 1), quoted to 4 digits
    # in e.g. Canosa, J. Comput. Phys. 13, 158 (1973) and standard Vlasov-code benchmarks.
    (0.3, 1.1598, -0.0126), (0.4, 1.2850, -0.0661), (0.5, 1.4157, -0.1534), (1.0, 2.0459, -0.8513)])
def test_landau_roots_match_literature(k, omega, gamma):
    w = landau_root(k)
    assert abs(w.real - omega) < 6e-5 and abs(w.imag - gamma) < 6e-5  # 4-digit rounding
    assert abs(langmuir_epsilon(w, k)) < 1e-12  # the float64 dielectric function vanishes too


def test_weak_damping_formula_is_the_small_k_limit():
    # Relative error of the weak-damping asymptotics is O(k^2): ~3% at k = 0.1 (measured 3.2%).
    w = landau_root(0.1)
    assert_close(w.imag, weak_damping_rate(0.1), rtol=0.05, what="weak damping")


def test_table_contrasts_the_two_dynamics():
    rows = landau_table([0.15, 0.5, 1.0], Gaussian(1.0))
    assert all(r["drift_omega"] == 0.0 and r["plasma_omega"] > 1.0 for r in rows)
    # Mirrored k-dependence: at k lambda_D = 0.15 Landau damping is exponentially weak
    # (|gamma| ~ 1e-9) while the drift rate ~ s^2 k^2 is 0.022; at k = 1 Landau damps faster.
    gam = np.array([-r["plasma_gamma"] for r in rows])
    lam = np.array([r["drift_rate"] for r in rows])
    assert np.all(np.diff(gam) > 0)
    assert gam[0] / lam[0] < 1e-3 and gam[-1] / lam[-1] > 1
    with pytest.raises(ValueError, match="k must be"):
        landau_root(10.0)
