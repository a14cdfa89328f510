"""Every conformance check can fail: deliberately wrong drift implementations, each flagged by the
check designed for it, next to the same code without the mistake, which passes every check.

The implementations below are written as a user would write them (dense numpy), independently of
driftlab's estimators and of driftlab.testing's references. Each mutation is one of the mistakes
found in public drifting code: separate normalisation, a missing or misplaced self-mask, softmax
over kernel values, naive exp, a flipped sign, the wrong softmax axis, averaged temperatures, an
affinity clamp floor, weights that do not balance, a non-Euclidean distance, an absolute epsilon,
one-sided normalisation, a temperature that differs between the sets, and a dtype change.
The checks are deterministic (seeded), so a pass or a fail here is exact, not statistical.
"""

from __future__ import annotations

import numpy as np
import pytest

from driftlab.testing import check_drift, from_loss, grouped, self_masked, weighted_negatives

# the wrong implementations overflow and divide by zero on purpose
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _lse(a, axis):
    top = a.max(axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return top + np.log(np.exp(a - top).sum(axis=axis, keepdims=True))


def user_drift(x, yp, yn, t, *, method="joint", mutation=None):
    """A user's Laplace-kernel drift (joint / alg2 / separate) with an optional mistake."""
    dt = x.dtype
    x, yp, yn_ = (np.asarray(a, np.float64) for a in (x, yp, yn))
    self_mask = yn is x
    dp = yp[None] - x[:, None]
    dn = yn_[None] - x[:, None]
    if mutation == "l1":
        rp, rn = np.abs(dp).sum(-1), np.abs(dn).sum(-1)
    elif mutation == "abs-eps":
        rp, rn = np.sqrt((dp**2).sum(-1) + 1e-6), np.sqrt((dn**2).sum(-1) + 1e-6)
    else:
        rp, rn = np.sqrt((dp**2).sum(-1)), np.sqrt((dn**2).sum(-1))
    lp = -rp / t
    ln = -rn / (2 * t if mutation == "neg-temperature" else t)
    n = x.shape[0]
    if self_mask and mutation != "no-self-mask":
        ln = ln.copy()
        if mutation == "misplaced-self-mask":
            ln[np.arange(n), (np.arange(n) + 1) % n] = -np.inf
        else:
            ln[np.arange(n), np.arange(n)] = -np.inf
    if mutation == "clamp-floor":  # k = max(k, 1e-12)
        lp, ln = np.maximum(lp, np.log(1e-12)), np.maximum(ln, np.log(1e-12))
    if mutation == "kernel-softmax":  # softmax of k instead of log k
        lp, ln = np.exp(lp), np.exp(ln)
    logits = np.concatenate([lp, ln], axis=1)
    m = yp.shape[0]
    if method == "separate" or mutation == "separate":
        wp = np.exp(lp - _lse(lp, 1))
        wn = np.exp(ln - _lse(ln, 1))
        v = (wp[..., None] * dp).sum(1) - (wn[..., None] * dn).sum(1)
    else:
        if mutation == "naive-exp":
            k = np.exp(logits)
            a = k / k.sum(1, keepdims=True)
        elif mutation == "one-sided":  # normalised over the positives only
            a = np.exp(logits - _lse(lp, 1))
        else:
            a = np.exp(logits - _lse(logits, 1))
        if method == "alg2":
            col_axis = 1 if mutation == "wrong-axis" else 0
            a = np.sqrt(a * np.exp(logits - _lse(logits, col_axis)))
        ap, an = a[:, :m], a[:, m:]
        wp, wn = ap * an.sum(1, keepdims=True), an * ap.sum(1, keepdims=True)
        if mutation == "unbalanced":  # sum W+ != sum W-: V = A+Y+ - A-Y-
            v = (ap[..., None] * yp[None]).sum(1) - (an[..., None] * yn_[None]).sum(1)
        else:
            v = (wp[..., None] * dp).sum(1) - (wn[..., None] * dn).sum(1)
    if mutation == "flipped-sign":
        v = -v
    if mutation == "always-float64":
        return v
    return v.astype(dt)


def user_official(gen, pos, neg, temps, *, mutation=None):
    """A user's port of the official multi-temperature drift (one group)."""
    dt = gen.dtype
    gen, pos, neg = (np.asarray(a, np.float64) for a in (gen, pos, neg))
    n, d = gen.shape
    targets = np.concatenate([gen, neg, pos])
    diff = targets[None] - gen[:, None]
    dist = np.sqrt(np.maximum((diff**2).sum(-1), 1e-8))
    scale = dist.mean()
    dn = dist / max(scale, 1e-3)
    dn[np.arange(n), np.arange(n)] += 100.0
    c = max(scale / np.sqrt(d), 1e-3)
    split = n + neg.shape[0]
    temps = (float(np.mean(temps)),) if mutation == "averaged-temperatures" else temps
    out = np.zeros((n, d))
    for R in temps:
        lg = -dn / R
        row = np.exp(lg - _lse(lg, 1))
        col = np.exp(lg - _lse(lg, 0))
        a = np.sqrt(np.maximum(row * col, 1e-6))
        an, ap = a[:, :split], a[:, split:]
        f = (an.sum(1)[:, None] * (ap[..., None] * diff[:, split:]).sum(1)
             - ap.sum(1)[:, None] * (an[..., None] * diff[:, :split]).sum(1)) / c
        out += f / np.sqrt(max((f * f).mean(), 1e-8))
    return out.astype(dt)


def _fn(mutation=None, **kw):
    def fn(x, yp, yn, t):
        return user_drift(x, yp, yn, t, mutation=mutation, **kw)

    return fn


def _failed(report):
    return {r.id for r in report.failed}


def _show(report):
    return "\n" + report.to_table()


# --- the controls: the same code without the mistake passes every check -----------------------

@pytest.mark.parametrize("method,params", [("joint", {}), ("alg2", {}), ("separate", {}), ("alg2", {"self_mask": True}),
                                           ("joint", {"self_mask": True})])
def test_the_unmutated_user_code_passes_every_check(method, params):
    conv = method
    fn = _fn(method=method)
    if params.get("self_mask"):
        fn = self_masked(lambda x, yp, t: user_drift(x, yp, x, t, method=method))
    report = check_drift(fn, conv)
    assert report.passed, _show(report)


def test_the_unmutated_official_port_passes_every_check():
    report = check_drift(lambda g, p, n, t: user_official(g, p, n, t), "official")
    assert report.passed, _show(report)


# --- each mistake is flagged by the check designed for it --------------------------------------

@pytest.mark.parametrize("mutation,method,convention,params,flagged_by", [
    # separate normalisation is biased at p = q with unequal set sizes
    ("separate", "joint", "joint", {}, {"unbiased", "parity"}),
    ("no-self-mask", "alg2", "alg2", {"self_mask": True}, {"parity"}),
    ("misplaced-self-mask", "alg2", "alg2", {"self_mask": True}, {"parity"}),
    ("kernel-softmax", "joint", "joint", {}, {"parity"}),
    # exp(-r/t) underflows: 0/0 = NaN far from the data and at small temperatures
    ("naive-exp", "joint", "joint", {}, {"far-field-float32", "extreme-temperatures"}),
    ("flipped-sign", "joint", "joint", {}, {"parity", "convergence"}),
    ("wrong-axis", "alg2", "alg2", {}, {"parity"}),
    ("clamp-floor", "joint", "joint", {}, {"far-field-float32", "extreme-temperatures"}),
    ("unbalanced", "joint", "joint", {}, {"translation"}),
    ("l1", "joint", "joint", {}, {"rotation"}),
    ("abs-eps", "joint", "joint", {}, {"scale"}),
    ("one-sided", "joint", "joint", {}, {"swap-antisymmetry"}),
    ("neg-temperature", "separate", "separate", {}, {"identical-sets"}),
    ("always-float64", "joint", "joint", {}, {"types"}),
])
def test_each_mistake_is_flagged_by_its_check(mutation, method, convention, params, flagged_by):
    if params.get("self_mask"):
        fn = self_masked(lambda x, yp, t: user_drift(x, yp, x, t, method=method, mutation=mutation))
    else:
        fn = _fn(mutation, method=method)
    report = check_drift(fn, convention, params=params)
    failed = _failed(report)
    assert not report.passed, _show(report)
    missing = flagged_by - failed
    assert not missing, f"{mutation}: expected {sorted(flagged_by)} to fail, {sorted(missing)} passed" + _show(report)
    for r in report.failed:
        if r.measured is not None and r.tolerance is not None:
            assert r.measured > r.tolerance, (r.id, r.measured, r.tolerance)


def test_averaged_temperatures_fail_official_parity():
    report = check_drift(lambda g, p, n, t: user_official(g, p, n, t, mutation="averaged-temperatures"), "official")
    assert "parity" in _failed(report), _show(report)


# --- a misbehaving callable gets failed rows with a clear message; the suite never crashes ------

def test_a_callable_that_raises_fails_the_contract_and_nothing_else_runs():
    def boom(x, yp, yn, t):
        raise RuntimeError("kaboom")

    report = check_drift(boom, "joint")
    assert not report.passed
    assert "RuntimeError: kaboom" in report["contract"].message
    assert all(r.message.startswith("not run") for r in report.rows if r.id != "contract"), _show(report)


@pytest.mark.parametrize("bad,needle", [
    (lambda x, yp, yn, t: np.zeros((x.shape[0] + 1, x.shape[1]), x.dtype), "shape"),
    (lambda x, yp, yn, t: np.full(x.shape, np.nan, x.dtype), "NaN"),
    (lambda x, yp, yn, t: None, "None"),
    (lambda x, yp, yn, t: "field", "not an array"),
])
def test_wrong_shape_nan_or_type_is_a_failed_contract(bad, needle):
    report = check_drift(bad, "alg2")
    assert not report.passed
    assert needle in report["contract"].message, report["contract"].message


def test_a_list_output_fails_the_types_check():
    report = check_drift(lambda x, yp, yn, t: user_drift(x, yp, yn, t).tolist(), "joint", checks=["types", "parity"])
    assert _failed(report) == {"types"}, _show(report)
    assert "list out" in report["types"].message


def test_a_callable_that_modifies_its_input_fails_the_contract():
    def mutating(x, yp, yn, t):
        v = user_drift(x, yp, yn, t)
        yp += 1.0
        return v

    report = check_drift(mutating, "joint", checks=["contract"])
    assert "modified its argument y_pos" in report["contract"].message


def test_nan_only_far_from_the_data_is_reported_by_the_far_field_check():
    report = check_drift(_fn("naive-exp"), "joint", checks=["far-field-float32"])
    row = report["far-field-float32"]
    assert not row.passed and "NaN" in row.message, _show(report)


# --- the adapters ------------------------------------------------------------------------------

def test_loss_adapter_recovers_v_and_catches_a_missing_stop_gradient():
    torch = pytest.importorskip("torch")

    def field(x, yp, yn, t):  # a differentiable torch joint field
        lg = -torch.cdist(x, torch.cat([yp, yn])) / t
        a = torch.softmax(lg, 1)
        m = yp.shape[0]
        ap, an = a[:, :m], a[:, m:]
        wp, wn = ap * an.sum(1, keepdim=True), an * ap.sum(1, keepdim=True)
        return wp @ yp - wp.sum(1, keepdim=True) * x - (wn @ yn - wn.sum(1, keepdim=True) * x)

    def loss(x, yp, yn, t):
        return ((x - (x + field(x, yp, yn, t)).detach()) ** 2).mean()

    def loss_no_sg(x, yp, yn, t):
        return ((x - (x + field(x, yp, yn, t))) ** 2).mean()

    good = check_drift(from_loss(loss), "joint", checks=["parity", "translation"])
    assert good.passed, _show(good)
    bad = check_drift(from_loss(loss_no_sg), "joint", checks=["parity"])
    assert not bad.passed, _show(bad)


def test_grouped_and_weighted_adapters():
    def grouped_fn(x, yp, yn, t):
        return np.stack([user_drift(a, b, a if yn is x else c, t) for a, b, c in zip(x, yp, yn)])

    assert check_drift(grouped(grouped_fn), "joint", checks=["parity", "rotation"]).passed

    def weighted_fn(x, yp, yn, t, w):  # log-weights added to the negatives' logits
        assert w.shape == (yn.shape[0],)
        return user_drift(x, yp, yn, t)

    assert check_drift(weighted_negatives(weighted_fn), "joint", checks=["parity"]).passed

    def ignores_weights_badly(x, yp, yn, t, w):
        return user_drift(x, yp, yn, t) * w.sum() / (w.sum() + 1.0)

    assert not check_drift(weighted_negatives(ignores_weights_badly), "joint", checks=["parity"]).passed


def _weighted_joint(x, yp, yn, t, w, *, bug=None):
    """Joint Laplace field with negative weights as multiplicities (log w added to the logits)."""
    d = np.concatenate([yp, yn])[None] - x[:, None]
    lg = -np.sqrt((d * d).sum(-1)) / t
    m = yp.shape[0]
    with np.errstate(divide="ignore"):
        lw = np.log(np.asarray(w, np.float64))
    if bug == "weights-after-normalising":
        a = np.exp(lg - _lse(lg, 1))
        a[:, m:] *= np.asarray(w, np.float64)
    else:
        lg[:, m:] += lw
        a = np.exp(lg - _lse(lg, 1))
    ap, an = a[:, :m], a[:, m:]
    wv = np.concatenate([ap * an.sum(1, keepdims=True), -an * ap.sum(1, keepdims=True)], 1)
    return (wv[..., None] * d).sum(1).astype(x.dtype)


def test_negative_weights_check_accepts_multiplicities_and_flags_a_misplaced_weight():
    good = check_drift(weighted_negatives(_weighted_joint), "joint")
    assert good.passed and "negative-weights" in {r.id for r in good.rows}, _show(good)
    bad = check_drift(weighted_negatives(lambda *a: _weighted_joint(*a, bug="weights-after-normalising")), "joint")
    # unit weights hide the mistake from every other check
    assert _failed(bad) == {"negative-weights"}, _show(bad)


def test_negative_weights_check_for_the_official_convention():
    from driftlab.fields import official_drift

    def weighted_official(g, p, n, t, w):
        return official_drift(g, p, n, weight_neg=w, temperatures=t)

    def ignores_weights(g, p, n, t, w):
        return official_drift(g, p, n, temperatures=t)

    report = check_drift(weighted_negatives(weighted_official), "official")
    assert report.passed, _show(report)
    bad = check_drift(weighted_negatives(ignores_weights), "official", checks=["parity", "negative-weights"])
    assert _failed(bad) == {"negative-weights"}, _show(bad)


def test_negative_weights_check_is_listed_as_not_applicable_without_weights():
    report = check_drift(_fn(), "joint", checks=["parity", "negative-weights"])
    assert [r.id for r in report.rows] == ["parity"] and "weighted_negatives" in report.not_applicable["negative-weights"]


def test_groups_check_flags_cross_group_leakage_and_accepts_the_official_pooling():
    from driftlab.fields import official_drift

    def per_group(x, yp, yn, t):
        return np.stack([user_drift(a, b, a if yn is x else c, t) for a, b, c in zip(x, yp, yn)])

    def leaky(x, yp, yn, t):  # every group sees the positives of all groups
        allp = yp.reshape(-1, yp.shape[-1])
        return np.stack([user_drift(a, allp, c, t) for a, c in zip(x, yn)])

    good = check_drift(grouped(per_group), "joint")
    assert good.passed and "groups" in {r.id for r in good.rows}, _show(good)
    bad = check_drift(grouped(leaky), "joint")
    assert _failed(bad) == {"groups"}, _show(bad)  # with G = 1 nothing leaks

    def official_grouped(g, p, n, t):
        return official_drift(g, p, n, temperatures=t)

    def official_per_group(g, p, n, t):  # the scale and RMS not pooled: not the official code
        return np.stack([official_drift(a, b, c, temperatures=t) for a, b, c in zip(g, p, n)])

    assert check_drift(grouped(official_grouped), "official").passed
    bad = check_drift(grouped(official_per_group), "official")
    assert _failed(bad) == {"groups"}, _show(bad)
