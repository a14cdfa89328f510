"""The drift-estimator registry: one record per estimator, used by fields, engine, training and CLI."""

import inspect
import math

import numpy as np
import pytest

from driftlab import engine
from driftlab.fields import (
    DEFAULT_ESTIMATOR,
    DriftEstimator,
    batch_drift,
    estimator_names,
    get_estimator,
    register_estimator,
    unregister_estimator,
)
from driftlab.kernels import Gaussian, Laplace


def _sets(seed=0, n=7, m=9, d=2):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(m, d)) + 0.5, rng.normal(size=(m + 3, d))


def test_builtin_estimators_and_their_properties():
    assert estimator_names() == ("joint", "alg2", "separate", "abc", "kernel_gradient")
    assert estimator_names(row_sums=True) == ("joint", "separate")
    assert DEFAULT_ESTIMATOR == "joint" and get_estimator("joint").unbiased_at_equal
    assert not get_estimator("separate").unbiased_at_equal
    assert get_estimator("kernel_gradient").units == "1/length"
    with pytest.raises(ValueError, match="method must be one of"):
        get_estimator("softmax")


def test_one_default_everywhere():
    for fn in (batch_drift, engine.drift):
        assert inspect.signature(fn).parameters["method"].default == DEFAULT_ESTIMATOR, fn
    x, yp, yn = _sets()
    # training's gaussian field uses the default estimator (negatives = the batch itself)
    import torch

    from driftlab.training import make_field

    xt, ypt = torch.tensor(x), torch.tensor(yp)
    got = make_field("gaussian", tau=0.7)(xt, ypt).numpy()
    np.testing.assert_allclose(got, batch_drift(x, yp, x, Gaussian(0.7)), rtol=0, atol=1e-14)


def test_engine_and_fields_run_the_same_estimator_code():
    x, yp, yn = _sets(1)
    for method in estimator_names(row_sums=True):
        for kern in (Gaussian(0.8), Laplace(0.6)):
            a = batch_drift(x, yp, yn, kern, method=method)
            b = engine.drift(x, yp, yn, kern, method=method, backend="dense")
            # two float64 streams of the same sums in other orders: round-off
            np.testing.assert_allclose(b, a, rtol=0, atol=1e-13, err_msg=f"{method} {kern!r}")


def test_engine_refuses_estimators_that_need_more_than_row_sums():
    x, yp, yn = _sets(2)
    for method in ("alg2", "abc", "kernel_gradient"):
        with pytest.raises(ValueError, match="batch_drift"):
            engine.drift(x, yp, yn, Laplace(1.0), method=method)


def test_a_user_estimator_is_one_registration():
    """A new row-sum estimator (here: the joint field without its factor's 1/4 bound, i.e.
    Z+Z-/(Z+ + Z-)^2 replaced by its square root) works in fields and engine alike."""

    def log_scale(o, delta):
        a = o.abs(delta)
        return 0.5 * (-a - 2.0 * o.log1p(o.exp(-a)))

    est = register_estimator(DriftEstimator("sqrt_joint", "test estimator", True, True, log_scale=log_scale))
    try:
        assert "sqrt_joint" in estimator_names()
        x, yp, yn = _sets(3)
        k = Gaussian(1.1)
        got = batch_drift(x, yp, yn, k, method="sqrt_joint")
        # oracle written out: sqrt(Z+Z-)/(Z+ + Z-) (m+ - m-), dense
        def parts(y):
            w = np.exp(-((x[:, None] - y[None]) ** 2).sum(-1) / (2 * 1.1**2))
            return w.sum(1), (w[:, :, None] * (y[None] - x[:, None])).sum(1) / w.sum(1)[:, None]
        zp, mp = parts(yp)
        zn, mn = parts(yn)
        want = (np.sqrt(zp * zn) / (zp + zn))[:, None] * (mp - mn)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(engine.drift(x, yp, yn, k, method="sqrt_joint"), want, rtol=1e-12, atol=1e-14)
        with pytest.raises(ValueError, match="already registered"):
            register_estimator(est)
    finally:
        unregister_estimator("sqrt_joint")
    assert "sqrt_joint" not in estimator_names()


def test_registry_rejects_non_records():
    with pytest.raises(TypeError, match="DriftEstimator"):
        register_estimator({"name": "x"})


def test_joint_factor_never_overflows():
    """log(Z+Z-/(Z+ + Z-)^2) from delta = log Z+ - log Z-: exact -|delta| - 2 log1p(e^-|delta|);
    at |delta| = 800 a naive exp(delta) overflows, the record's formula gives -800 to round-off."""
    from driftlab import _backend as B

    delta = np.array([800.0, -800.0, 0.0])
    got = get_estimator("joint").log_scale(B.ops(delta), delta)
    want = np.array([-800.0, -800.0, -2 * math.log(2.0)])
    np.testing.assert_allclose(got, want, rtol=1e-15)


def test_cli_train_method_choices_come_from_the_registry():
    from click.testing import CliRunner

    from driftlab.cli import main

    res = CliRunner().invoke(main, ["train", "--method", "nonsense", "--steps", "1"])
    assert res.exit_code == 2
    for name in estimator_names():
        assert name in res.output
