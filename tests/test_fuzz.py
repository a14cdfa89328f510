"""Fuzzing the public API against independent high-precision references.

Every property draws valid-looking input over wide ranges (length scales 1e-8..1e8 and some
beyond the representable range, coordinates up to 1e20, float32 and float64, weights up to
1e308) and accepts exactly two outcomes:

* the right answer, against an mpmath reference at 40+ digits, within a tolerance stated from
  the problem's conditioning: ``C * eps * (1 + L) * D``, where ``L`` bounds the size of the
  relevant log-kernel values and their sensitivity to the distances
  (``|log k| + r |d log k / dr|``: each carries a relative round-off of a few eps) and ``D`` the
  size of the vectors averaged; far from the data ``L`` is large and the tolerance honestly
  says how little float arithmetic can promise there;
* a ``ValueError``/``TypeError`` whose message names an argument of the call.

Anything else fails: NaN or inf for finite input, an internal exception (ZeroDivisionError,
OverflowError, IndexError, ...), a plausible wrong number, or an error on comfortable input.

Profiles: each property runs 50 examples in the default (``ci``) run (400 in all) and 800 under
``@pytest.mark.slow`` with the ``thorough`` profile (8 properties x 800: 6,400 inputs).
"""

from __future__ import annotations

import math
import re
import warnings

import mpmath as mp
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from driftlab.distributions import EmpiricalMeasure, GaussianMixture
from driftlab.fields import DRIFT_METHODS, batch_drift, batch_mean_shift, population_drift, population_mean_shift
from driftlab.kernels import Gaussian, InverseMultiquadric, Laplace, Matern, Wendland
from driftlab.spectral import rate

FAST = settings(settings.get_profile("ci"), max_examples=50)
THOROUGH = settings(settings.get_profile("thorough"), max_examples=800, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
DPS = 60  # mpmath working digits (inputs are at most ~1e20 with O(1e-3) features: 25 digits suffice)


# ----- outcomes ----------------------------------------------------------------------------------
class Refused(Exception):
    """The call raised a ValueError/TypeError naming one of its arguments (an accepted outcome)."""


def call(fn, names):
    """Run ``fn``; a ValueError/TypeError must name one of ``names``; other exceptions propagate."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return fn()
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        named = any(re.search(rf"(?<![A-Za-z_]){re.escape(n)}(?![A-Za-z_])", msg) for n in names)
        assert named, f"error names no argument of {names}: {type(exc).__name__}: {msg}"
        event(f"refused ({type(exc).__name__})")
        raise Refused(msg) from None


def finite(a, what, inputs):
    arr = np.asarray(a, dtype=np.float64)
    assert np.isfinite(arr).all(), f"{what}: non-finite output {arr!r} for finite valid input {inputs}"
    return arr


def close(actual, expected, tol, what, inputs):
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    tol = np.asarray(np.vectorize(float)(tol), dtype=np.float64)
    diff = np.abs(a - e)
    bad = ~(diff <= tol)
    event("checked against the reference")
    assert not bad.any(), (f"{what}: actual={a.tolist()} expected={e.tolist()} diff={diff.tolist()} "
                           f"tol={np.broadcast_to(tol, diff.shape).tolist()}\ninputs: {inputs}")


# ----- kernels and their mpmath references -----------------------------------------------------------
_ordinary_scales = st.floats(-8, 8).map(lambda e: 10.0**e)
scales = st.one_of(_ordinary_scales, _ordinary_scales, _ordinary_scales,  # 1 in 4 beyond the range
                   st.sampled_from([1e-200, 1e-170, 1e-40, 1e40, 1e170, 1e200]))
KERNEL_KINDS = ["gaussian", "laplace", "matern15", "matern25", "matern_general", "imq", "wendland"]


def build_kernel(kind, scale, beta=0.5, nu=1.2):
    return {
        "gaussian": lambda: Gaussian(scale),
        "laplace": lambda: Laplace(scale),
        "matern15": lambda: Matern(length_scale=scale, nu=1.5),
        "matern25": lambda: Matern(length_scale=scale, nu=2.5),
        "matern_general": lambda: Matern(length_scale=scale, nu=nu),
        "imq": lambda: InverseMultiquadric(scale, beta),
        "wendland": lambda: Wendland(scale),
    }[kind]()


KERNEL_ARGS = ("bandwidth", "temperature", "length_scale", "scale", "radius", "nu", "beta")


def mp_logk_and_slope(kind, scale, r, beta=0.5, nu=1.2):
    """(log phi(r), r * d log phi / dr) in mpmath (r an mpf >= 0)."""
    ell = mp.mpf(scale)
    if kind == "gaussian":
        return -r * r / (2 * ell * ell), -r * r / (ell * ell)
    if kind == "laplace":
        return -r / ell, -r / ell
    if kind == "imq":
        b = mp.mpf(beta)
        return -b * mp.log1p((r / ell) ** 2), -2 * b * r * r / (ell * ell + r * r)
    if kind == "wendland":
        u = r / ell
        if u >= 1:
            return mp.ninf, mp.mpf(0)
        return 4 * mp.log1p(-u) + mp.log1p(4 * u), u * (-4 / (1 - u) + 4 / (1 + 4 * u))
    v = {"matern15": mp.mpf(1.5), "matern25": mp.mpf(2.5), "matern_general": mp.mpf(nu)}[kind]
    z = mp.sqrt(2 * v) * r / ell
    if z == 0:
        return mp.mpf(0), mp.mpf(0)
    logphi = (1 - v) * mp.log(2) - mp.loggamma(v) + v * mp.log(z) + mp.log(mp.besselk(v, z))
    slope = -z * mp.besselk(v - 1, z) / mp.besselk(v, z)  # z d/dz log(z^v K_v(z)) = -z K_{v-1}/K_v
    return logphi, slope


@st.composite
def kernel_case(draw, kinds=KERNEL_KINDS):
    kind = draw(st.sampled_from(kinds))
    return kind, draw(scales), draw(st.sampled_from([0.5, 1.0, 2.5])), draw(st.sampled_from([0.7, 1.2, 3.3]))


def comfortable(scale):
    return 1e-4 <= scale <= 1e4


# ----- property 1: kernel log-profiles ------------------------------------------------------------------
def _kernel_at_distances(data, method):
    """Draw a kernel and distances; return (kind, scale, beta, nu, r, inputs, values of ``method``)
    or None when the distances overflow or the (uncomfortable) kernel is refused by name."""
    kind, scale, beta, nu = data.draw(kernel_case())
    rel = data.draw(st.lists(st.floats(-6, 6).map(lambda e: 10.0**e), min_size=1, max_size=5))
    inputs = (kind, scale, beta, nu, rel)
    try:
        kern = call(lambda: build_kernel(kind, scale, beta, nu), KERNEL_ARGS)
        with np.errstate(over="ignore", under="ignore"):
            r = np.array(rel) * scale
        if not np.isfinite(r).all():
            return None
        got = call(lambda: getattr(kern, method)(r), ("r",) + KERNEL_ARGS)
    except Refused:
        assert not comfortable(scale), f"refused a comfortable kernel: {inputs}"
        return None
    return kind, scale, beta, nu, r, inputs, np.asarray(got, dtype=np.float64)


def prop_kernel_profiles(data):
    drawn = _kernel_at_distances(data, "log_profile")
    if drawn is None:
        return
    kind, scale, beta, nu, r, inputs, got = drawn
    with mp.workdps(DPS):
        for gi, ri in zip(got, r):
            want, slope = mp_logk_and_slope(kind, scale, mp.mpf(float(ri)), beta, nu)
            if want == mp.ninf:
                assert gi == -np.inf, f"log_profile outside the support: {gi} for {inputs}"
                continue
            assert np.isfinite(gi) or float(want) < -1e300, f"log_profile non-finite: {gi} vs {want} for {inputs}"
            if not np.isfinite(gi):
                continue
            # round-off: a few eps relative in log phi plus the distance's eps times the slope
            tol = 256 * 2.2e-16 * (1.0 + abs(float(want)) + abs(float(slope))) + 1e-300
            close(gi, float(want), tol, f"log_profile {kind}", inputs)


def prop_kernel_derivatives(data):
    """d log phi / dr (the kernel-gradient field's coefficient) against mpmath."""
    drawn = _kernel_at_distances(data, "dlog_profile")
    if drawn is None:
        return
    kind, scale, beta, nu, r, inputs, got = drawn
    with mp.workdps(DPS):
        for gi, ri in zip(got, r):
            want_log, slope = mp_logk_and_slope(kind, scale, mp.mpf(float(ri)), beta, nu)
            if want_log == mp.ninf:
                continue
            want = slope / mp.mpf(float(ri))
            assert np.isfinite(gi), f"dlog_profile non-finite: {gi} vs {want} for {inputs}"
            # relative round-off; conditioning w.r.t. r is |d log(dlog)/d log r| <= 2 + |slope|
            tol = float(256 * 2.2e-16 * abs(want) * (3 + abs(slope))) + 1e-300
            close(gi, float(want), tol, f"dlog_profile {kind}", inputs)


# ----- property 2: spectral rates -----------------------------------------------------------------------
def mp_rate(kind, scale, k, dim, beta, nu):
    ell, k, d = mp.mpf(scale), mp.mpf(k), mp.mpf(dim)
    if kind == "gaussian":
        x = (ell * k) ** 2
        return x * mp.e ** (-x / 2), 2 + x
    if kind in ("laplace", "matern15", "matern25", "matern_general"):
        v = {"laplace": mp.mpf(0.5), "matern15": mp.mpf(1.5), "matern25": mp.mpf(2.5),
             "matern_general": mp.mpf(nu)}[kind]
        x = (ell * k) ** 2 / (2 * v)
        return (2 * v + d) * x * (1 + x) ** (-(v + d / 2 + 1)), 2 + 2 * (v + d / 2 + 1)
    if kind == "imq":
        mu = mp.mpf(beta) - d / 2
        z = ell * k
        return 2 ** (1 - mu) / mp.gamma(mu) * z ** (mu + 1) * mp.besselk(mu - 1, z), 2 + mu + z
    raise AssertionError(kind)


def prop_spectral_rate(data):
    kind, scale, beta, nu = data.draw(kernel_case(["gaussian", "laplace", "matern15", "matern25",
                                                    "matern_general", "imq"]))
    dim = data.draw(st.integers(1, 3))
    kl = data.draw(st.lists(st.floats(-4, 250).map(lambda e: 10.0**e), min_size=1, max_size=4))
    inputs = (kind, scale, beta, nu, dim, kl)
    with np.errstate(over="ignore"):
        k = np.array(kl) / scale
    if not np.isfinite(k).all():
        return
    try:
        kern = call(lambda: build_kernel(kind, scale, beta, nu), KERNEL_ARGS)
        got = call(lambda: rate(kern, k, dim), ("k", "dim", "kernel", "beta") + KERNEL_ARGS)
    except Refused:
        # IMQ needs beta > d/2 for a spectrum; anything else on comfortable input is a bug
        assert not comfortable(scale) or (kind == "imq" and beta <= dim / 2), f"refused: {inputs}"
        return
    got = finite(got, f"rate {kind}", inputs)
    assert got.shape == k.shape
    with mp.workdps(DPS):
        for gi, ki in zip(got, k):
            want, cond = mp_rate(kind, scale, float(ki), dim, beta, nu)
            # relative round-off times the condition number |d log lambda / d log k| (+ tiny floor:
            # rates underflow to 0 at large k, where the exact one is below 1e-300)
            tol = float(512 * 2.2e-16 * cond * abs(want)) + 1e-300
            close(gi, float(want), tol, f"rate {kind}", inputs)


# ----- property 3: Gaussian mixtures ---------------------------------------------------------------------
coords = st.floats(-3, 3)
far = st.one_of(st.just(0.0), st.floats(-20, 20).map(lambda e: math.copysign(10.0 ** abs(e), e)))


def prop_mixture(data):
    K = data.draw(st.integers(1, 3))
    means = [data.draw(coords) for _ in range(K)]
    v = data.draw(st.floats(-2, 1).map(lambda e: 10.0**e))  # one variance per mixture: exact gaps
    wexp = data.draw(st.sampled_from([0.0, 300.0, -300.0]))
    weights = [data.draw(st.floats(0.05, 1.0)) * 10.0**wexp for _ in range(K)]
    x0 = data.draw(far) + data.draw(coords)
    inputs = (means, v, weights, x0)
    try:
        p = call(lambda: GaussianMixture([[m] for m in means], v, weights), ("weights", "covariances", "means"))
        r = call(lambda: p.responsibilities([[x0]]), ("x",))
        sc = call(lambda: p.score([[x0]]), ("x",))
    except Refused:
        raise AssertionError(f"refused a valid mixture query: {inputs}") from None
    r, sc = finite(r, "responsibilities", inputs)[0], finite(sc, "score", inputs)[0, 0]
    with mp.workdps(DPS + int(2 * math.log10(abs(x0) + 1))):
        x = mp.mpf(x0)
        wsum = sum(mp.mpf(w) for w in weights)
        logs = [mp.log(mp.mpf(w) / wsum) - (x - mp.mpf(m)) ** 2 / (2 * mp.mpf(v)) for w, m in zip(weights, means)]
        top = max(logs)
        e = [mp.e ** (t - top) for t in logs]
        rr = [t / sum(e) for t in e]
        want = -sum(ri * (x - mp.mpf(m)) / mp.mpf(v) for ri, m in zip(rr, means))
        spread = max(abs(mp.mpf(a) - mp.mpf(b)) for a in means for b in means)
        # gaps are linear in x, (mu_* - mu_k)(2x - mu_k - mu_*) / (2v): relative round-off of size
        # |x| spread / v; each score term |x - mu| / v
        gap = float((abs(x) + 3) * spread / mp.mpf(v))
        size = float((abs(x) + 3) / mp.mpf(v))
    close(r, [float(t) for t in rr], 64 * 2.2e-16 * (1 + gap), "responsibilities", inputs)
    # the score is -(x - mu_*)/v: relative round-off of its terms, plus the responsibilities'
    # gap round-off times the spread of the component terms
    close(sc, float(want), 64 * 2.2e-16 * (abs(float(want)) + size + gap * spread / v) + 1e-300, "score", inputs)


# ----- batch estimators and their mpmath references --------------------------------------------------------
@st.composite
def point_sets(draw, max_n=3, max_m=4):
    d = draw(st.integers(1, 2))
    n = draw(st.integers(1, max_n))
    mp_ = draw(st.integers(1, max_m))
    mn = draw(st.integers(1, max_m))
    off_x = [draw(far) for _ in range(d)]
    pts = lambda k, off: [[off[j] + draw(coords) for j in range(d)] for _ in range(k)]  # noqa: E731
    off_p = [o + draw(st.sampled_from([0.0, 0.0, 5.0, 50.0])) for o in off_x]
    x = pts(n, off_x)
    yp = pts(mp_, off_p)
    yn = pts(mn, [o + draw(st.sampled_from([0.0, 1.0, 30.0])) for o in off_x])
    dtype = draw(st.sampled_from(["float64", "float64", "float32"]))
    return np.array(x, dtype), np.array(yp, dtype), np.array(yn, dtype)


def as_backend(data, *arrays):
    """numpy as drawn, or (one case in four) the same values as CPU torch tensors."""
    if data.draw(st.integers(0, 3)) == 0:
        torch = pytest.importorskip("torch")
        return True, [torch.as_tensor(a) for a in arrays]
    return False, list(arrays)


def to_numpy(a):
    return a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)


def _kernel_error(kern, kind, scale, beta, nu, r, dtype, grad):
    """The kernel's own error at distance r, against mpmath: |log k - log k_mp| (log units) and,
    for gradients, the relative error of d log k / dr. Charged to the kernel (its own fuzz
    property checks it), so the estimators are judged on what they add."""
    rf = np.array([float(r)], dtype=dtype)
    with np.errstate(all="ignore"):
        lk = float(np.asarray(kern.log_profile(rf), dtype=np.float64)[0])
        dl = float(np.asarray(kern.dlog_profile(rf), dtype=np.float64)[0]) if grad else 0.0
    want, slope = mp_logk_and_slope(kind, scale, mp.mpf(float(rf[0])), beta, nu)
    if want == mp.ninf or not math.isfinite(lk):
        return 0.0, 0.0
    e_log = float(abs(mp.mpf(lk) - want))
    e_der = 0.0
    if grad and float(rf[0]) > 0 and slope != 0:
        exact = slope / mp.mpf(float(rf[0]))
        e_der = float(abs(mp.mpf(dl) - exact) / abs(exact)) if math.isfinite(dl) else 0.0
    return e_log, e_der


def _mp_rows(kind, scale, beta, nu, x, y, logw=None, grad=False, kern=None):
    """Per query row: (mean of v with weights a = w k / sum w k, sum a^2 v, sum a^2, L, D, logZ, parts)."""
    out = []
    for i in range(x.shape[0]):
        lks, vecs, conds = [], [], []
        for j in range(y.shape[0]):
            dv = [mp.mpf(float(y[j, c])) - mp.mpf(float(x[i, c])) for c in range(x.shape[1])]
            r = mp.sqrt(sum(t * t for t in dv))
            lk, slope = mp_logk_and_slope(kind, scale, r, beta, nu)
            if kern is not None:
                e_log, e_der = _kernel_error(kern, kind, scale, beta, nu, r, x.dtype, grad)
            else:
                e_log = e_der = 0.0
            if logw is not None:
                lk += logw[j]
            if grad:
                # -dlog/dr (y - x) / r = -(slope / r^2) (y - x)
                coef = -slope / (r * r) if r > 0 else mp.mpf(0)
                vec = [coef * t for t in dv]
            else:
                vec = dv
            lks.append(lk)
            vecs.append(vec)
            conds.append(abs(lk if logw is None else lk - logw[j]) + abs(slope)
                         + (e_log + e_der) / _eps(x.dtype))
        top = max(lks)
        if top == mp.ninf:
            out.append(None)
            continue
        e = [mp.e ** (t - top) for t in lks]
        z = sum(e)
        a = [t / z for t in e]
        dim = x.shape[1]
        mean = [sum(a[j] * vecs[j][c] for j in range(len(a))) for c in range(dim)]
        a2v = [sum(a[j] ** 2 * vecs[j][c] for j in range(len(a))) for c in range(dim)]
        sa2 = sum(t * t for t in a)
        rel = [j for j in range(len(a)) if lks[j] >= top - 80]
        L = float(max(conds[j] for j in rel))
        D = float(max(mp.sqrt(sum(t * t for t in vecs[j])) for j in range(len(a)))) if rel else 0.0
        out.append(dict(mean=mean, a2v=a2v, sa2=sa2, L=L, D=D, logz=top + mp.log(z), lks=lks))
    return out


def _dense_alg2(kind, scale, beta, nu, x, yp, yn):
    """[D] Algorithm 2 as written (A = k / sqrt(R_i C_j), W = A * rowsum(other)) in mpmath."""
    n = x.shape[0]
    Y = np.concatenate([yp, yn])
    lk = [[None] * len(Y) for _ in range(n)]
    L = 0.0
    for i in range(n):
        for j in range(len(Y)):
            dv = [mp.mpf(float(Y[j, c])) - mp.mpf(float(x[i, c])) for c in range(x.shape[1])]
            lk_, slope = mp_logk_and_slope(kind, scale, mp.sqrt(sum(t * t for t in dv)), beta, nu)
            lk[i][j] = lk_
            if lk_ != mp.ninf:
                L = max(L, float(abs(lk_) + abs(slope)))
    top = max(max(row) for row in lk)
    if top == mp.ninf:
        return None
    k = [[mp.e ** (v - top) for v in row] for row in lk]  # common shift cancels in A
    R = [sum(row) for row in k]
    C = [sum(k[i][j] for i in range(n)) for j in range(len(Y))]
    P = len(yp)
    out, scales_ = [], []
    for i in range(n):
        if R[i] == 0:
            out.append(None)
            continue
        A = [k[i][j] / mp.sqrt(R[i] * C[j]) if C[j] > 0 else mp.mpf(0) for j in range(len(Y))]
        sp_, sn_ = sum(A[:P]), sum(A[P:])
        v = []
        for c in range(x.shape[1]):
            tp = sum(A[j] * sn_ * mp.mpf(float(Y[j, c])) for j in range(P))
            tn = sum(A[j] * sp_ * mp.mpf(float(Y[j, c])) for j in range(P, len(Y)))
            v.append(tp - tn)
        out.append(v)
        scales_.append(sp_ * sn_)
    return out, L, [float(s_) for s_ in scales_]


def _eps(dtype):
    return float(np.finfo(dtype).eps)


def _comfortable_batch(kind, scale, x, y, is_torch):
    """Inputs no estimator may refuse: ordinary length scale, coordinates below 1e6, and a
    kernel with a torch implementation when the input is torch."""
    top = max(float(np.abs(x.astype(np.float64)).max()), float(np.abs(y.astype(np.float64)).max()))
    return comfortable(scale) and top < 1e6 and not (is_torch and kind == "matern_general")


def prop_batch_mean_shift(data):
    kind, scale, beta, nu = data.draw(kernel_case())
    x, y, _ = data.draw(point_sets())
    weighted = data.draw(st.booleans())
    wexp = data.draw(st.sampled_from([0.0, 300.0, 307.0, -300.0]))
    w = [data.draw(st.floats(0.0, 1.0)) * 10.0**wexp for _ in range(len(y))] if weighted else None
    if w is not None and not any(t > 0 for t in w):
        w[0] = 1.0
    abc = data.draw(st.booleans())
    inputs = (kind, scale, beta, nu, x.tolist(), y.tolist(), w, abc)
    try:
        is_t, (xb, yb) = as_backend(data, x, y)
        kern = call(lambda: build_kernel(kind, scale, beta, nu), KERNEL_ARGS)
        got = call(lambda: batch_mean_shift(xb, yb, kern, weights=w, correction="abc" if abc else None),
                   ("x", "y", "weights", "kernel") + KERNEL_ARGS)
    except Refused:
        assert not _comfortable_batch(kind, scale, x, y, is_t), f"refused comfortable input: {inputs}"
        return
    assert is_t == hasattr(got, "detach") and tuple(got.shape) == x.shape
    got = to_numpy(got)
    assert got.dtype == x.dtype
    got = finite(got, "batch_mean_shift", inputs)
    eps = _eps(x.dtype)
    with mp.workdps(DPS):
        logw = None
        if w is not None:
            ws = sum(mp.mpf(t) for t in w)
            logw = [mp.log(mp.mpf(t) / ws) if t > 0 else mp.ninf for t in w]
        rows = _mp_rows(kind, scale, beta, nu, x, y, logw, kern=kern)
        for i, row in enumerate(rows):
            if row is None:  # the kernel is zero on every point (compact support): documented 0
                assert kind == "wendland" and np.all(got[i] == 0), f"row {i}: {got[i]} for {inputs}"
                continue
            want = row["mean"]
            if abc:
                want = [(1 - row["sa2"]) * m + a2 for m, a2 in zip(want, row["a2v"])]
            tol = 64 * eps * (1 + row["L"]) * row["D"] + 4 * float(np.finfo(x.dtype).tiny) * (1 + row["D"])
            close(got[i], [float(t) for t in want], tol, f"batch_mean_shift {kind}", inputs)


def prop_batch_drift(data):
    kind, scale, beta, nu = data.draw(kernel_case())
    x, yp, yn = data.draw(point_sets())
    method = data.draw(st.sampled_from(DRIFT_METHODS))
    self_neg = data.draw(st.booleans())
    if self_neg:
        yn = x
    self_neg = yn.shape == x.shape and bool(np.array_equal(yn, x))  # mask_self="auto" semantics
    if kind == "matern_general" and method == "kernel_gradient":
        kind = "matern15"
    inputs = (kind, scale, beta, nu, method, x.tolist(), yp.tolist(), yn.tolist() if not self_neg else "x")
    try:
        is_t, (xb, ypb, ynb) = as_backend(data, x, yp, yn)
        kern = call(lambda: build_kernel(kind, scale, beta, nu), KERNEL_ARGS)
        if self_neg:
            ynb = xb
        comp = call(lambda: batch_drift(xb, ypb, ynb, kern, method=method, return_components=True),
                    ("x", "positives", "negatives", "kernel", "method") + KERNEL_ARGS)
    except Refused:
        lone = self_neg and x.shape[0] == 1 and method not in ("joint", "alg2")  # m_q undefined
        assert lone or not _comfortable_batch(kind, scale, x, np.concatenate([yp, yn]), is_t), \
            f"refused comfortable input: {inputs}"
        return
    got = finite(to_numpy(comp.field), f"batch_drift {method}", inputs)
    finite(to_numpy(comp.centroid_difference), "centroid_difference", inputs)
    eps, tiny = _eps(x.dtype), float(np.finfo(x.dtype).tiny)
    with mp.workdps(DPS):
        if method == "alg2":
            if self_neg:
                return  # the self-masked Algorithm 2 is checked against a dense reference elsewhere
            ref = _dense_alg2(kind, scale, beta, nu, x, yp, yn)
            if ref is None:
                return
            vals, L, _ = ref
            D = float(max(np.abs(np.concatenate([yp, yn]).astype(np.float64)).max(),
                          np.abs(x.astype(np.float64)).max())) * 2 + 1
            for i, v in enumerate(vals):
                if v is None:
                    continue
                size = max(float(abs(t)) for t in v)
                # absolute column normalisers: eps * max|log k| relative (see batch.py), times
                # the field's size; O(D) cancellation of W+ Y+ - W- Y- (translation) on top
                tol = 64 * eps * (1 + L) * (size + D * 1e-300) + 64 * eps * D * size + 4 * tiny * (1 + D)
                close(got[i], [float(t) for t in v], tol, "alg2", inputs)
            return
        grad = method == "kernel_gradient"
        pos = _mp_rows(kind, scale, beta, nu, x, yp, grad=grad, kern=kern)
        mask = self_neg
        if mask:
            neg = []
            for i in range(x.shape[0]):
                keep = [j for j in range(x.shape[0]) if j != i]
                if not keep:
                    neg.append("lone")
                    continue
                neg.append(_mp_rows(kind, scale, beta, nu, x[i:i + 1], x[keep], grad=grad, kern=kern)[0])
        else:
            neg = _mp_rows(kind, scale, beta, nu, x, yn, grad=grad, kern=kern)
        for i in range(x.shape[0]):
            rp, rn = pos[i], neg[i]
            if rn == "lone":
                assert method in ("joint", "alg2"), "lone self-masked negative must be refused"
                assert np.all(got[i] == 0)
                continue
            if rp is None or rn is None:
                # a compactly supported kernel sees no point of a set: joint/alg2 have no batch
                # factor there (0); the separately normalised methods use the documented mean
                # shift 0 of the blind set
                assert kind == "wendland", f"row {i}: blind row for a positive kernel {inputs}"
                if method in ("joint",) or (rp is None and rn is None):
                    assert np.all(got[i] == 0), f"row {i}: {got[i]} {inputs}"
                    continue
                blind = dict(mean=[mp.mpf(0)] * x.shape[1], a2v=[mp.mpf(0)] * x.shape[1], sa2=mp.mpf(0),
                             L=0.0, D=0.0, logz=mp.ninf)
                rp, rn = rp or blind, rn or blind
            mpos, mneg = rp["mean"], rn["mean"]
            if method == "abc":
                mpos = [(1 - rp["sa2"]) * m + a2 for m, a2 in zip(mpos, rp["a2v"])]
                mneg = [(1 - rn["sa2"]) * m + a2 for m, a2 in zip(mneg, rn["a2v"])]
            c = [a - b for a, b in zip(mpos, mneg)]
            scale_ = mp.mpf(1)
            if method == "joint":
                dl = rp["logz"] - rn["logz"]
                scale_ = mp.e ** (-abs(dl)) / (1 + mp.e ** (-abs(dl))) ** 2
            want = [scale_ * t for t in c]
            L = max(rp["L"], rn["L"])
            D = rp["D"] + rn["D"]
            tol = 64 * eps * (1 + L) * float(scale_) * D + 4 * tiny * (1 + D)
            close(got[i], [float(t) for t in want], tol, f"batch_drift {method} {kind}", inputs)


# ----- population fields -------------------------------------------------------------------------------------
def prop_population_closed(data):
    Kp, Kq = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 2))
    mu_p = [data.draw(coords) for _ in range(Kp)]
    mu_q = [data.draw(coords) for _ in range(Kq)]
    vp, vq = (data.draw(st.floats(-2, 1).map(lambda e: 10.0**e)) for _ in range(2))
    if data.draw(st.booleans()):
        vq = vp
    wp = [data.draw(st.floats(0.05, 1.0)) for _ in range(Kp)]
    s = data.draw(st.floats(-2, 1.5).map(lambda e: 10.0**e))
    x0 = data.draw(far) + data.draw(coords)
    inputs = (mu_p, vp, wp, mu_q, vq, s, x0)
    try:
        p = GaussianMixture([[m] for m in mu_p], vp, wp)
        q = GaussianMixture([[m] for m in mu_q], vq)
        got = call(lambda: population_drift(p, q, [[x0]], Gaussian(s)), ("x", "p", "q"))
    except Refused:
        raise AssertionError(f"refused a valid closed-form query: {inputs}") from None
    assert got.method == "closed"
    val = finite(got.value, "population_drift", inputs)[0, 0]
    with mp.workdps(DPS + int(2 * math.log10(abs(x0) + 1))):
        x, S2 = mp.mpf(x0), mp.mpf(s) ** 2

        def score(mus, v, ws):
            vv = mp.mpf(v) + S2
            ws = [mp.mpf(w) for w in ws]
            logs = [mp.log(w) - (x - mp.mpf(m)) ** 2 / (2 * vv) for w, m in zip(ws, mus)]
            top = max(logs)
            e = [mp.e ** (t - top) for t in logs]
            return -sum(ei * (x - mp.mpf(m)) / vv for ei, m in zip(e, mus)) / sum(e)

        want = S2 * (score(mu_p, vp, wp) - score(mu_q, vq, [1.0] * Kq))
        delta = abs(1 / (mp.mpf(vp) + S2) - 1 / (mp.mpf(vq) + S2))
        spread = 6.0
        size = float(S2 * ((abs(x) + 3) * delta + spread / (min(mp.mpf(vp), mp.mpf(vq)) + S2)))
        gap = float((abs(x) + 3) * spread / (min(mp.mpf(vp), mp.mpf(vq)) + S2))
    # no cancellation of the two O(|x|) mean shifts: round-off of the uncancelled terms, with
    # the responsibilities' linear gaps (relative round-off |x| spread / v) on top
    tol = 64 * 2.2e-16 * (abs(float(want)) + size * (1 + gap)) + 1e-300
    close(val, float(want), tol, "closed population drift", inputs)


def prop_population_exact_and_quadrature(data):
    kind, scale, beta, nu = data.draw(kernel_case(["gaussian", "laplace", "matern15", "imq", "wendland"]))
    pts = [data.draw(coords) for _ in range(data.draw(st.integers(1, 4)))]
    x0 = data.draw(st.floats(-6, 6))
    use_quad = data.draw(st.booleans())
    inputs = (kind, scale, beta, nu, pts, x0, use_quad)
    if use_quad:
        # Gaussian kernel on a 1-D mixture by quadrature, against the closed form in mpmath
        s = data.draw(st.floats(-1.5, 1).map(lambda e: 10.0**e))
        v = data.draw(st.floats(-1.5, 0.5).map(lambda e: 10.0**e))
        p = GaussianMixture([[m] for m in pts], v)
        try:
            est = call(lambda: population_mean_shift(p, [[x0]], Gaussian(s), method="quadrature",
                                                     max_nodes=200_000),
                       ("max_nodes", "x"))
        except Refused as exc:
            assert "montecarlo" in str(exc)
            return
        except RuntimeWarning:
            return  # refinement stopped at the budget (told): the bound is checked in the tests
        val = finite(est.value, "quadrature", inputs)[0, 0]
        err = finite(est.error, "quadrature error", inputs)[0, 0]
        with mp.workdps(DPS):
            x, vv = mp.mpf(x0), mp.mpf(v) + mp.mpf(s) ** 2
            logs = [-(x - mp.mpf(m)) ** 2 / (2 * vv) for m in pts]
            top = max(logs)
            e = [mp.e ** (t - top) for t in logs]
            want = -mp.mpf(s) ** 2 * sum(ei * (x - mp.mpf(m)) / vv for ei, m in zip(e, pts)) / sum(e)
        close(val, float(want), err, "quadrature within its own error estimate", inputs)
        return
    try:
        kern = call(lambda: build_kernel(kind, scale, beta, nu), KERNEL_ARGS)
        mu = EmpiricalMeasure([[t] for t in pts])
        got = call(lambda: population_mean_shift(mu, [[x0]], kern), ("x", "measure") + KERNEL_ARGS)
    except Refused:
        return
    val = finite(got.value, "exact population mean shift", inputs)[0, 0]
    with mp.workdps(DPS):
        row = _mp_rows(kind, scale, beta, nu, np.array([[x0]]), np.array([[t] for t in pts]), kern=kern)[0]
    if row is None:
        assert val == 0 and kind == "wendland"
        return
    tol = 64 * 2.2e-16 * (1 + row["L"]) * row["D"] + 1e-300
    close(val, float(row["mean"][0]), tol, "exact population mean shift", inputs)


# ----- the tests: fast profile by default, thorough under slow -------------------------------------------------
PROPS = {
    "kernel_profiles": prop_kernel_profiles,
    "kernel_derivatives": prop_kernel_derivatives,
    "spectral_rate": prop_spectral_rate,
    "mixture": prop_mixture,
    "batch_mean_shift": prop_batch_mean_shift,
    "batch_drift": prop_batch_drift,
    "population_closed": prop_population_closed,
    "population_exact_and_quadrature": prop_population_exact_and_quadrature,
}


def _make(prop, profile):
    @profile
    @given(st.data())
    def run(data):
        prop(data)

    return run


#: failures the fuzzer finds outside driftlab.fields / driftlab.distributions, kept visible
#: (strict: the mark fails the run once the kernel is fixed, so that it gets removed)
KNOWN: dict = {}

for _name, _prop in PROPS.items():
    _marks = [KNOWN[_name]] if _name in KNOWN else []
    _fast = _make(_prop, FAST)
    _slow = pytest.mark.slow(_make(_prop, THOROUGH))
    for _m in _marks:
        _fast, _slow = _m(_fast), _m(_slow)
    globals()[f"test_fuzz_{_name}"] = _fast
    globals()[f"test_fuzz_{_name}_thorough"] = _slow
