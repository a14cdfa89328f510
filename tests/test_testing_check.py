"""driftlab.testing: driftlab's own estimators pass every check of their convention (numpy and
torch, float64 and float32); the references agree with closed forms and finite differences; the
report's JSON/markdown forms; argument validation; no torch import for numpy users."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from driftlab.fields import batch_drift, official_drift
from driftlab.kernels import Gaussian, Laplace
from driftlab.testing import CHECKS, CONVENTIONS, check_drift, get_convention, population_field
from driftlab.testing import _references as R


def _own(method, K=Laplace):
    def fn(x, yp, yn, t):
        return batch_drift(x, yp, yn, K(t), method=method, mask_self=yn is x)

    return fn


def _official(g, p, n, t):
    return official_drift(g, p, n, temperatures=t)


OWN = [
    ("joint", _own("joint"), {}),
    ("joint", _own("joint", Gaussian), {"kernel": "gaussian"}),
    ("joint", _own("joint"), {"self_mask": True}),
    ("alg2", _own("alg2"), {}),
    ("alg2", _own("alg2"), {"self_mask": True}),
    ("separate", _own("separate"), {}),
    ("kernel-gradient", _own("kernel_gradient"), {}),
    ("kernel-gradient", _own("kernel_gradient", Gaussian), {"kernel": "gaussian"}),
    ("gaussian-score", _own("separate", Gaussian), {}),
    ("official", _official, {}),
]
_IDS = [f"{c}-{'-'.join(f'{k}={v}' for k, v in p.items()) or 'default'}" for c, _, p in OWN]


@pytest.mark.parametrize("convention,fn,params", OWN, ids=_IDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_driftlab_estimators_pass_their_convention_numpy(convention, fn, params, dtype):
    # the Monte Carlo checks (unbiased, convergence) run once, in float64
    checks = None if dtype == "float64" else [c for c in CHECKS if c not in ("unbiased", "convergence")]
    report = check_drift(fn, convention, params=params, dtype=dtype, checks=checks)
    assert report.array == "numpy"
    assert report.passed, "\n" + report.to_table()


@pytest.mark.parametrize("convention,fn,params", OWN[::2] + [OWN[3], OWN[4]], ids=_IDS[::2] + [_IDS[3], _IDS[4]])
def test_driftlab_estimators_pass_their_convention_torch(convention, fn, params, single_torch_thread):
    pytest.importorskip("torch")
    # the Monte Carlo checks are covered by the numpy run; torch adds the types and dtypes
    checks = [c for c in CHECKS if c not in ("unbiased", "convergence")]
    report = check_drift(fn, convention, params=params, array="torch", checks=checks)
    assert report.array == "torch"
    assert report.passed, "\n" + report.to_table()


def test_torch_is_detected_for_a_torch_only_callable(single_torch_thread):
    torch = pytest.importorskip("torch")

    def torch_only(x, yp, yn, t):
        assert isinstance(x, torch.Tensor)
        return batch_drift(x, yp, yn, Laplace(t))

    report = check_drift(torch_only, "joint", checks=["parity", "types"])
    assert report.array == "torch" and report.passed, report.to_table()


# --- the references against independent forms --------------------------------------------------

def test_joint_and_alg2_references_for_one_positive_and_one_negative():
    """With one point per set: joint = k+k-/(k+ + k-)^2 (y+ - y-); alg2 (one query, the column
    softmax is 1) = sqrt(a+ a-) (y+ - y-), a = k / (k+ + k-). Tolerance 1e-14: float64 round-off."""
    x, yp, yn = np.array([[0.1, -0.2]]), np.array([[1.0, 0.5]]), np.array([[-0.7, 0.3]])
    t = 0.8
    kp, kn = math.exp(-np.linalg.norm(yp - x) / t), math.exp(-np.linalg.norm(yn - x) / t)
    want_joint = kp * kn / (kp + kn) ** 2 * (yp - yn)
    want_alg2 = math.sqrt(kp * kn) / (kp + kn) * (yp - yn)
    got_joint = R.joint_reference(x, yp, yn, t)[0]
    got_alg2 = R.alg2_reference(x, yp, yn, t)[0]
    np.testing.assert_allclose(got_joint, want_joint, rtol=1e-14, err_msg="joint reference")
    np.testing.assert_allclose(got_alg2, want_alg2, rtol=1e-14, err_msg="alg2 reference")


def _log_sum(x, y, t, kernel):
    r = np.linalg.norm(y[None] - x[:, None], axis=-1)
    lk = -r / t if kernel == "laplace" else -(r * r) / (2 * t * t)
    top = lk.max(1)
    return top + np.log(np.exp(lk - top[:, None]).sum(1))


@pytest.mark.parametrize("kernel", ["laplace", "gaussian"])
def test_kernel_gradient_and_score_references_match_finite_differences(kernel):
    """grad log sum_j k(x, y_j) by central differences (h = 1e-5: truncation O(h^2) ~ 1e-10 at
    unit curvature, round-off eps / h ~ 2e-11); tolerance 1e-8 relative."""
    rng = np.random.default_rng(3)
    x, yp, yn = rng.normal(size=(4, 3)), rng.normal(size=(6, 3)) + 0.5, rng.normal(size=(5, 3))
    t, h = 0.7, 1e-5
    fd = np.zeros_like(x)
    for k in range(3):
        e = np.zeros(3)
        e[k] = h
        fd[:, k] = ((_log_sum(x + e, yp, t, kernel) - _log_sum(x - e, yp, t, kernel))
                    - (_log_sum(x + e, yn, t, kernel) - _log_sum(x - e, yn, t, kernel))) / (2 * h)
    got = R.kernel_gradient_reference(x, yp, yn, t, kernel=kernel)[0]
    np.testing.assert_allclose(got, fd, rtol=1e-8, atol=1e-9, err_msg=f"kernel-gradient {kernel}")
    if kernel == "gaussian":  # normalising constants cancel in the score: s^2 x the same difference
        gs = R.gaussian_score_reference(x, yp, yn, t)[0]
        np.testing.assert_allclose(gs, t * t * fd, rtol=1e-8, atol=1e-9, err_msg="gaussian-score")


def test_official_reference_matches_driftlab_official_drift():
    """Two independent dense/streamed codes of the same formula; 1e-13 relative (float64)."""
    rng = np.random.default_rng(5)
    g, p, n = rng.normal(size=(9, 3)), rng.normal(size=(12, 3)) + 0.6, rng.normal(size=(4, 3))
    for kw in ({}, {"floor": 0.0}, {"self_mask_offset": 3.0}, {"distance_scale": 2.5}):
        want = official_drift(g, p, n, temperatures=(0.03, 0.3), **kw)
        got = R.official_reference(g, p, n, (0.03, 0.3), **kw)[0]
        err = np.abs(got - want).max() / np.abs(want).max()
        assert err <= 1e-13, f"{kw}: relative difference {err:.3e}"


@pytest.mark.parametrize("name", ["joint", "separate", "kernel-gradient"])
def test_population_fields_against_mpmath_quadrature(name):
    """d = 1, Gaussian laws: the closed form (Gaussian kernel) and the split adaptive quadrature
    (Laplace) against mpmath quadrature (20 digits, split at the kink, on +-25); tolerance 1e-9 relative
    (scipy quad is asked for 1e-12)."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 20
    x = np.array([[-0.8], [1.7]])
    mu_p, mu_q, sigma, t = 1.0, -0.5, 1.3, 0.9
    for kernel in ("gaussian", "laplace"):
        conv = get_convention(name, kernel=kernel)
        got = population_field(conv, x, np.array([mu_p]), np.array([mu_q]), sigma, t)
        want = []
        for xi in (mp.mpf(v) for v in x[:, 0]):
            def lk(y):
                return -abs(y - xi) / t if kernel == "laplace" else -((y - xi) ** 2) / (2 * t * t)

            def glk(y):
                return mp.sign(y - xi) / t if kernel == "laplace" else (y - xi) / t**2

            out = {}
            for lab, mu in (("p", mu_p), ("q", mu_q)):
                def w(y, mu=mu):
                    return mp.exp(lk(y) - ((y - mu) / sigma) ** 2 / 2)

                def integral(f):
                    return mp.quad(f, [-25, xi, 25])  # tails beyond: < e^-150

                K = integral(w)
                out[lab] = (K, integral(lambda y: w(y) * (y - xi)) / K, integral(lambda y: w(y) * glk(y)) / K)
            (Kp, mpp, gp), (Kq, mq, gq) = out["p"], out["q"]
            if name == "separate":
                want.append(float(mpp - mq))
            elif name == "kernel-gradient":
                want.append(float(gp - gq))
            else:
                rho = Kp / (Kp + Kq)
                want.append(float(rho * (1 - rho) * (mpp - mq)))
        np.testing.assert_allclose(got[:, 0], want, rtol=1e-9, atol=1e-12, err_msg=f"{name} {kernel} at x={x[:, 0]}")


# --- the report --------------------------------------------------------------------------------

def test_report_json_and_markdown():
    report = check_drift(_own("joint"), "joint", checks=["parity", "unbiased", "types"])
    data = json.loads(report.to_json())
    assert set(data) == {"convention", "passed", "checks"}
    assert data["passed"] is True and data["convention"].startswith("joint")
    assert [c["id"] for c in data["checks"]] == ["types", "parity", "unbiased"]
    for c in data["checks"]:
        assert {"id", "passed", "measured", "tolerance", "why"} <= set(c)
    parity = report["parity"]
    assert parity.measured < parity.tolerance and "eps" in parity.why
    md = report.to_markdown()
    assert md.count("\n| ") >= 3 and "| parity | yes |" in md
    assert "PASS" in str(report)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_failing_report_serialises_non_finite_values_as_null():
    def naive_separate(x, yp, yn, t):  # exp(-r / t) directly: 0 / 0 far from the data
        def m(y):
            d = y[None] - x[:, None]
            k = np.exp(-np.sqrt((d * d).sum(-1)) / t)
            return (k[..., None] * d).sum(1) / k.sum(1, keepdims=True)

        return m(yp) - m(yn)

    report = check_drift(naive_separate, "separate", checks=["far-field-float32"])
    data = json.loads(report.to_json())  # allow_nan=False: inf would raise here
    assert data["passed"] is False
    assert data["checks"][0]["measured"] is None and report["far-field-float32"].measured == math.inf


def test_not_applicable_checks_are_listed_with_the_reason():
    report = check_drift(_own("separate"), "separate", checks=["parity", "unbiased"])
    assert [r.id for r in report.rows] == ["parity"]
    assert "biased" in report.not_applicable["unbiased"]


def test_report_is_deterministic_for_a_seed():
    a = check_drift(_own("alg2"), "alg2", checks=["parity", "rotation"], seed=7)
    b = check_drift(_own("alg2"), "alg2", checks=["parity", "rotation"], seed=7)
    assert [r.measured for r in a.rows] == [r.measured for r in b.rows]


@pytest.mark.parametrize("kwargs,needle", [
    ({"convention": "nope"}, "unknown convention"),
    ({"convention": "joint", "dtype": "float16"}, "dtype"),
    ({"convention": "joint", "budget": "huge"}, "budget"),
    ({"convention": "joint", "checks": ["parity", "bogus"]}, "unknown check"),
    ({"convention": "joint", "params": {"kernel": "cauchy"}}, "kernel"),
    ({"convention": "gaussian-score", "params": {"kernel": "laplace"}}, "Gaussian"),
    ({"convention": "official", "params": {"temperatures": (0.1, -1.0)}}, "temperatures"),
    ({"convention": "official", "params": {"kernel": "laplace"}}, "takes"),
    ({"convention": "joint", "seed": -1}, "seed"),
])
def test_invalid_arguments_raise_naming_the_argument(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        check_drift(_own("joint"), **kwargs)


def test_fn_must_be_callable():
    with pytest.raises(TypeError, match="callable"):
        check_drift(3, "joint")


def test_conventions_catalogue_names():
    assert set(CONVENTIONS) == {"alg2", "joint", "separate", "official", "gaussian-score", "kernel-gradient"}
    assert get_convention("kernel_gradient").name == "kernel-gradient"


def test_importing_driftlab_testing_does_not_import_torch():
    code = ("import sys, numpy as np; import driftlab.testing as t; "
            "from driftlab.fields import batch_drift; from driftlab.kernels import Laplace; "
            "r = t.check_drift(lambda x, a, b, s: batch_drift(x, a, b, Laplace(s)), 'joint', checks=['parity']); "
            "assert r.passed; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False", out.stdout


@pytest.mark.gpu
def test_driftlab_estimators_pass_on_cuda():
    """Same checks with torch CUDA tensors: types must keep the device."""
    checks = [c for c in CHECKS if c not in ("unbiased", "convergence")]
    for convention, fn, params in (OWN[0], OWN[3], OWN[-1]):
        report = check_drift(fn, convention, params=params, array="torch", device="cuda", checks=checks)
        assert report.passed, "\n" + report.to_table()


def test_a_self_masked_callable_needs_a_self_masked_convention():
    from driftlab.testing import self_masked

    fn = self_masked(lambda x, yp, t: batch_drift(x, yp, x, Laplace(t), method="alg2"))
    assert check_drift(fn, "alg2", checks=["parity"]).passed  # self_mask=True inferred from the adapter
    with pytest.raises(ValueError, match="self_mask=True"):
        check_drift(fn, get_convention("alg2"))
    with pytest.raises(ValueError, match="self_mask=True"):
        check_drift(fn, "alg2", params={"self_mask": False})
