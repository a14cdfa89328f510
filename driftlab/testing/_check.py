"""check_drift: run the conformance checks of a convention on a user's drift callable."""

from __future__ import annotations

import json
import math
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from driftlab.testing._conventions import Convention, get_convention, population_field

__all__ = ["check_drift", "ConformanceReport", "CheckResult", "CHECKS"]

#: check id -> what it verifies
CHECKS: dict[str, str] = {
    "contract": "one call on a small valid input returns a finite array of shape (n, d) and leaves its inputs unchanged",
    "types": "numpy in -> numpy out, torch in -> torch out, same dtype and device (float32 and float64)",
    "parity": "agreement with the convention's dense float64 reference on randomised inputs "
              "(unequal set sizes, d from 1 to 64, temperatures 1e-3..1e2 of the data scale, data scales 1e-2..1e2)",
    "extreme-temperatures": "parity at temperatures 1e-3 and 1e2 of the data scale",
    "translation": "V(x + c; Y+ + c, Y- + c) = V(x; Y+, Y-) (for V = W+Y+ - W-Y- forms: sum W+ = sum W-)",
    "rotation": "V(xQ; Y+Q, Y-Q) = V(x; Y+, Y-) Q for a random orthogonal Q",
    "scale": "V(2x; 2Y+, 2Y-, 2t) = 2^p V(x; Y+, Y-, t) with the convention's power p",
    "swap-antisymmetry": "V(x; Y-, Y+) = -V(x; Y+, Y-)",
    "identical-sets": "V(x; Y, Y) = 0",
    "unbiased": "E V(x; Y+, Y-) = 0 when Y+ and Y- are drawn from the same law, unequal set sizes (Monte Carlo)",
    "convergence": "the batch field tends to the exact population field as the set sizes grow",
    "far-field-float32": "float32 queries far from both sets: finite, and equal to the reference where it is representable",
    "edge-cases": "finite and correct on single points, duplicates, coincident points and d = 1",
    "negative-weights": "weighted negatives (weighted_negatives adapter): integer weights = repeated points "
                        "(batch conventions), the official weighting (official)",
    "groups": "grouped input (grouped adapter), three groups: independent per group (batch conventions), "
              "scale and RMS pooled over the groups (official)",
}

_BUDGETS = {
    "quick": {"parity": 16, "unbiased": 1200, "conv_sizes": (64, 256, 1024), "conv_reps": 8},
    "full": {"parity": 96, "unbiased": 12000, "conv_sizes": (64, 256, 1024, 4096), "conv_reps": 16},
}
#: round-off allowance: tolerance = eps (1 + L) (C_TOL + 4 (m+ + m- + d)), L the largest |logit|
#: that carries weight (a logit computed with relative error eps moves its weight by eps |l|),
#: m+ + m- + d the length of the sums over targets and coordinates (naive summation rounds at
#: that many eps), C_TOL the final products and normalisations
C_TOL = 64.0
_TOL_TEXT = "eps (1 + L)(64 + 4 (m+ + m- + d))"
#: beyond this relative tolerance the dtype cannot resolve the case: it is skipped, not passed
_MAX_TOL = 0.05


@dataclass
class CheckResult:
    """One row of a :class:`ConformanceReport`."""

    id: str
    passed: bool
    measured: float | None
    tolerance: float | None
    why: str
    message: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict:
        def num(v):
            return None if v is None or not math.isfinite(v) else float(v)

        return {"id": self.id, "passed": bool(self.passed), "measured": num(self.measured),
                "tolerance": num(self.tolerance), "why": self.why, "message": self.message}


@dataclass
class ConformanceReport:
    """The outcome of :func:`check_drift`: one :class:`CheckResult` per check run.

    ``passed`` is True when every check passed; ``rows`` lists them; ``not_applicable``
    names the checks the convention does not imply, with the reason.
    """

    convention: str
    rows: list = field(default_factory=list)
    not_applicable: dict = field(default_factory=dict)
    dtype: str = "float64"
    array: str = "numpy"
    budget: str = "quick"

    @property
    def passed(self) -> bool:
        return bool(self.rows) and all(r.passed for r in self.rows)

    @property
    def failed(self) -> list:
        return [r for r in self.rows if not r.passed]

    def __getitem__(self, check_id: str) -> CheckResult:
        for r in self.rows:
            if r.id == check_id:
                return r
        raise KeyError(f"no check {check_id!r} in this report (ran: {', '.join(r.id for r in self.rows)})")

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __bool__(self) -> bool:
        return True

    def to_dict(self) -> dict:
        return {"convention": self.convention, "passed": self.passed,
                "checks": [r.to_dict() for r in self.rows]}

    def to_json(self, indent: int | None = 2) -> str:
        """``{"convention", "passed", "checks": [{"id", "passed", "measured", "tolerance", "why"}, ...]}``
        (plus each check's ``message``); non-finite measured values are ``null``."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_markdown(self) -> str:
        head = [f"**{self.convention}** ({self.array}, {self.dtype}, {self.budget}): "
                + ("all checks pass" if self.passed else f"{len(self.failed)} of {len(self.rows)} checks fail"),
                "", "| check | pass | measured | tolerance | why | message |", "|---|---|---|---|---|---|"]
        def cell(text: str) -> str:
            return str(text).replace("|", "\\|")

        for r in self.rows:
            head.append(f"| {r.id} | {'yes' if r.passed else '**NO**'} | {_fmt(r.measured)} | "
                        f"{_fmt(r.tolerance)} | {cell(r.why)} | {cell(r.message)} |")
        for k, why in self.not_applicable.items():
            head.append(f"| {k} | n/a | | | {cell(why)} | |")
        return "\n".join(head)

    def to_table(self) -> str:
        w = max([len(r.id) for r in self.rows] + [5])
        lines = [f"{self.convention} ({self.array}, {self.dtype}, {self.budget})",
                 f"{'check':<{w}}  pass  {'measured':>10}  {'tolerance':>10}  message"]
        for r in self.rows:
            lines.append(f"{r.id:<{w}}  {'ok' if r.passed else 'FAIL':<4}  {_fmt(r.measured):>10}  "
                         f"{_fmt(r.tolerance):>10}  {r.message}")
        for k, why in self.not_applicable.items():
            lines.append(f"{k:<{w}}  n/a   {'':>10}  {'':>10}  {why}")
        lines.append("PASS" if self.passed else f"FAIL ({', '.join(r.id for r in self.failed)})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_table()


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.3g}"


# --- calling the user's function ----------------------------------------------------------------

class _CallError(Exception):
    """The user's callable misbehaved (raised, wrong shape/type, non-finite)."""


class _Caller:
    def __init__(self, fn: Callable, array: str, device: str | None):
        self.fn = fn
        self.array = array
        self.device = device or "cpu"

    def convert(self, a: np.ndarray, dtype: str):
        a = np.ascontiguousarray(a, dtype=dtype)
        if self.array == "torch":
            import torch

            return torch.as_tensor(a, device=self.device)
        return a

    def raw(self, x, yp, yn, temperature, dtype: str, snapshot: list | None = None):
        """Call with numpy float64 inputs converted; ``yn is x`` is kept as the same object.
        ``snapshot`` receives float64 copies of the converted inputs taken before the call."""
        X = self.convert(x, dtype)
        P = self.convert(yp, dtype)
        N = X if yn is x else self.convert(yn, dtype)
        if snapshot is not None:
            snapshot.extend(_as_numpy(a).copy() for a in (X, P, N))
        try:
            out = self.fn(X, P, N, temperature)
        except Exception as e:  # noqa: BLE001 - the user's code may raise anything
            raise _CallError(f"the callable raised {type(e).__name__}: {e}") from None
        return (X, P, N), out

    def __call__(self, x, yp, yn, temperature, dtype: str = "float64", *, allow_nonfinite=False) -> np.ndarray:
        _, out = self.raw(x, yp, yn, temperature, dtype)
        return self.to_numpy(out, x.shape, allow_nonfinite=allow_nonfinite)

    def to_numpy(self, out, shape, *, allow_nonfinite=False) -> np.ndarray:
        if out is None:
            raise _CallError("the callable returned None, expected an array of shape "
                             f"{tuple(shape)}")
        if hasattr(out, "detach") and hasattr(out, "cpu"):
            v = out.detach().cpu().double().numpy()
        else:
            try:
                v = np.asarray(out, dtype=np.float64)
            except (TypeError, ValueError) as e:
                raise _CallError(f"the callable returned {type(out).__name__}, not an array ({e})") from None
        if v.shape != tuple(shape):
            raise _CallError(f"the callable returned shape {v.shape}, expected {tuple(shape)}")
        if not allow_nonfinite and not np.isfinite(v).all():
            bad = int((~np.isfinite(v)).sum())
            kind = "NaN" if np.isnan(v).any() else "inf"
            raise _CallError(f"the callable returned {kind} in {bad} of {v.size} entries on a valid input")
        return v


def _as_numpy(a) -> np.ndarray:
    return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)


def _detect_array(fn, probe) -> str:
    """'numpy' when the function takes numpy arrays (returns an array for them), else 'torch'."""
    tag = getattr(fn, "__driftlab_array__", None)
    if tag in ("numpy", "torch"):
        return tag
    x, yp, yn, t = probe
    try:
        out = fn(x.copy(), yp.copy(), yn.copy(), t)
        if isinstance(out, np.ndarray):
            return "numpy"
        if hasattr(out, "detach"):
            return "torch"
    except Exception:  # noqa: BLE001
        pass
    try:
        import torch
    except ImportError:
        return "numpy"
    try:
        out = fn(torch.as_tensor(x), torch.as_tensor(yp), torch.as_tensor(yn), t)
        if isinstance(out, torch.Tensor):
            return "torch"
    except Exception:  # noqa: BLE001
        pass
    return "numpy"


# --- problem generators -------------------------------------------------------------------------

def _eps(dtype: str) -> float:
    return float(np.finfo(dtype).eps)


class _Ctx:
    def __init__(self, conv: Convention, call: _Caller, dtype: str, precision: str, budget: dict, seed: int):
        self.conv, self.call, self.dtype, self.budget, self.seed = conv, call, dtype, budget, seed
        # tolerances use the coarser of the working dtype and the callable's own precision
        self.eps = max(_eps(dtype), _eps(precision))

    def slack(self, *arrays) -> float:
        """Absolute error allowed for a V recovered from a loss gradient: ``x + V`` rounds at
        eps |x| (see :func:`driftlab.testing.from_loss`); 0 otherwise."""
        if not getattr(self.call.fn, "__driftlab_from_loss__", False):
            return 0.0
        return 4.0 * self.eps * max(float(np.abs(a).max()) for a in arrays)

    def rng(self, salt: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, salt])

    def tol(self, L: float, shapes, factor: float = 1.0) -> float:
        """``eps (1 + L) (C_TOL + 4 (m+ + m- + d)) factor`` for inputs of the given shapes."""
        x, yp, yn = shapes
        terms = yp.shape[0] + (0 if yn is x else yn.shape[0]) + x.shape[1]
        return self.eps * (1.0 + L) * (C_TOL + 4.0 * terms) * factor

    def problem(self, rng, n, mp, mn, d, spread=1.0, quantise=False):
        off = rng.normal(size=d) * spread
        x = rng.normal(size=(n, d)) * spread
        yp = rng.normal(size=(mp, d)) * spread + off
        yn = x if self.conv.self_mask else rng.normal(size=(mn, d)) * spread - 0.5 * off
        if quantise:  # dyadic grid: x + c and 2x are exact in float32 for |c| <= 16 * spread
            q = 2.0 ** (math.floor(math.log2(spread)) - 10)
            x, yp = np.round(x / q) * q, np.round(yp / q) * q
            yn = x if self.conv.self_mask else np.round(yn / q) * q
        if self.dtype == "float32":  # the reference sees exactly what the callable sees
            x, yp = x.astype(np.float32).astype(np.float64), yp.astype(np.float32).astype(np.float64)
            yn = x if self.conv.self_mask else yn.astype(np.float32).astype(np.float64)
        return x, yp, yn

    def temperature(self, rel, spread, d):
        """A temperature ``rel`` times the data scale (official: relative already)."""
        if self.conv.is_official:
            return tuple(rel) if isinstance(rel, (tuple, list)) else (float(rel),)
        return float(rel) * spread * math.sqrt(d)

    def random_case(self, rng):
        ds = (1, 2, 3, 4, 8, 16, 64)
        d = int(rng.choice(ds))
        n = int(rng.integers(2, 25))
        mp, mn = int(rng.integers(1, 41)), int(rng.integers(1, 41))
        if mp == mn:
            mn += 1
        spread = float(10 ** rng.uniform(-2, 2))
        if self.conv.is_official:
            k = int(rng.integers(1, 4))
            rel = tuple(float(10 ** rng.uniform(-3, 2)) for _ in range(k))
        else:
            rel = float(10 ** rng.uniform(-3, 2))
        x, yp, yn = self.problem(rng, n, mp, mn, d, spread)
        return x, yp, yn, self.temperature(rel, spread, d)


def _rel_err(v, w, dtype: str = "float64", slack: float = 0.0) -> float:
    """max |v - w| / max |w|; fields below ``tiny / eps`` of the dtype (no longer representable
    at full precision: e.g. a joint factor e^-200 in float32) are compared with that floor."""
    scale = float(np.abs(w).max()) if w.size else 0.0
    diff = float(np.maximum(np.abs(v - w) - slack, 0.0).max()) if w.size else 0.0
    fi = np.finfo(dtype)
    scale = max(scale, float(fi.tiny) / float(fi.eps))
    return diff / scale


# --- the checks ---------------------------------------------------------------------------------
# each returns (passed, measured, tolerance, why, message)

def _parity_cases(ctx: _Ctx, cases, label: str):
    worst, worst_tol, worst_msg, skipped, n_run = 0.0, None, "", 0, 0
    margin = -math.inf
    for case in cases:
        x, yp, yn, t = case
        ref, L = ctx.conv.reference(x, yp, yn, t)
        tol = ctx.tol(L, (x, yp, yn))
        if tol > _MAX_TOL:
            skipped += 1
            continue
        try:
            v = ctx.call(x, yp, yn, t, ctx.dtype)
        except _CallError as e:
            raise _CallError(f"{e} (n={x.shape[0]} m+={yp.shape[0]} m-={yn.shape[0]} d={x.shape[1]} "
                             f"temperature={t if not isinstance(t, float) else float(f'{t:.6g}')}, "
                             f"|logit| up to {L:.3g})") from None
        err = _rel_err(v, ref, ctx.dtype, ctx.slack(x))
        n_run += 1
        if err / tol > margin:
            margin = err / tol
            worst, worst_tol = err, tol
            worst_msg = (f"worst case n={x.shape[0]} m+={yp.shape[0]} m-={yn.shape[0]} d={x.shape[1]} "
                         f"temperature={t if not isinstance(t, float) else round(t, 6)} |logit|<={L:.3g}")
    ok = margin <= 1.0
    msg = f"{n_run} {label} cases" + (f", {skipped} beyond {ctx.dtype} precision skipped" if skipped else "")
    msg += "; " + worst_msg if worst_msg else ""
    return ok, worst, worst_tol, msg


def check_parity(ctx: _Ctx):
    rng = ctx.rng(1)
    cases = [ctx.random_case(rng) for _ in range(ctx.budget["parity"])]
    ok, err, tol, msg = _parity_cases(ctx, cases, "random")
    why = (f"max |V - V_ref| / max |V_ref| per case against {_TOL_TEXT}: round-off of logits of "
           "size L moves the softmax weights by eps L")
    return ok, err, tol, why, msg


def check_extreme(ctx: _Ctx):
    rng = ctx.rng(2)
    if ctx.conv.is_official:
        rels = [(1e-3,), (1e-3, 1e2), (1e2,), (3e-3, 0.02, 0.2)]
    else:
        rels = [1e-3, 3e-3, 1e1, 1e2]
    cases = []
    for rel in rels:
        for d in (2, 16):
            x, yp, yn = ctx.problem(rng, 6, 9, 13, d, 1.0)
            cases.append((x, yp, yn, ctx.temperature(rel, 1.0, d)))
    ok, err, tol, msg = _parity_cases(ctx, cases, "extreme-temperature")
    why = f"relative difference to the log-space reference, {_TOL_TEXT} as for parity"
    return ok, err, tol, why, msg


def _pair_check(ctx: _Ctx, salt: int, transform, factor_fn, why: str, n_cases: int = 4, quantise=False):
    """Compare the callable on an input and on its transform; ``transform`` returns
    (x', yp', yn', t', expected_fn) with expected_fn mapping V to the expected V'."""
    rng = ctx.rng(salt)
    margin, worst, worst_tol, msg = -math.inf, 0.0, None, ""
    for i in range(n_cases):
        d = (2, 3, 8, 1)[i % 4]
        spread = (1.0, 0.05, 20.0, 1.0)[i % 4]
        x, yp, yn = ctx.problem(rng, 7, 11, 6, d, spread, quantise=quantise)
        t = ctx.temperature(0.3 if not ctx.conv.is_official else ctx.conv.default_temperature, spread, d)
        _, L = ctx.conv.reference(x, yp, yn, t)
        tol = ctx.tol(L, (x, yp, yn), factor_fn(x, yp, yn, spread))
        v = ctx.call(x, yp, yn, t, ctx.dtype)
        x2, yp2, yn2, t2, expect = transform(rng, x, yp, yn, t, spread)
        v2 = ctx.call(x2, yp2, yn2, t2, ctx.dtype)
        want = expect(v)
        err = _rel_err(v2, want, ctx.dtype, ctx.slack(x, x2))
        if err / tol > margin:
            margin, worst, worst_tol = err / tol, err, tol
            msg = f"worst case d={d} data scale {spread:g}: max |V' - expected| = {float(np.abs(v2 - want).max()):.3g}"
    return margin <= 1.0, worst, worst_tol, why, msg


def check_translation(ctx: _Ctx):
    def tr(rng, x, yp, yn, t, spread):
        c = 8.0 * 2.0 ** math.ceil(math.log2(spread)) * rng.choice([-1.0, 1.0], size=x.shape[1])
        x2 = x + c
        return x2, yp + c, (x2 if yn is x else yn + c), t, lambda v: v

    why = (f"relative difference on dyadic data shifted by c = 8 x data scale (exact in float32); tolerance "
           f"{_TOL_TEXT}(1 + |c| / scale): differences of shifted coordinates round at eps |c|")
    return _pair_check(ctx, 3, tr, lambda *a: 1.0 + 8.0 * math.sqrt(a[0].shape[1]), why, quantise=True)


def check_rotation(ctx: _Ctx):
    def tr(rng, x, yp, yn, t, spread):
        d = x.shape[1]
        q, r = np.linalg.qr(rng.normal(size=(d, d)))
        q = q * np.sign(np.diag(r))
        x2 = x @ q
        return x2, yp @ q, (x2 if yn is x else yn @ q), t, lambda v: v @ q

    why = (f"relative difference after a random orthogonal map; {_TOL_TEXT}(1 + |offset| / scale): "
           "the rotated inputs are rounded")
    return _pair_check(ctx, 4, tr, lambda x, yp, yn, s: 2.0 + float(np.abs(yp).max()) / s, why)


def check_scale(ctx: _Ctx):
    p = ctx.conv.scale_power

    def tr(rng, x, yp, yn, t, spread):
        x2 = 2.0 * x
        return x2, 2.0 * yp, (x2 if yn is x else 2.0 * yn), 2.0 * t, lambda v: v * 2.0**p

    why = f"relative difference; doubling is exact, so {_TOL_TEXT} as for parity (power p = {p})"
    return _pair_check(ctx, 5, tr, lambda *a: 1.0, why)


def check_swap(ctx: _Ctx):
    def tr(rng, x, yp, yn, t, spread):
        return x, yn, yp, t, lambda v: -v

    why = f"relative difference; {_TOL_TEXT} as for parity"
    return _pair_check(ctx, 6, tr, lambda *a: 1.0, why)


def check_identical(ctx: _Ctx):
    rng = ctx.rng(7)
    margin, worst, worst_tol, msg = -math.inf, 0.0, None, ""
    for d, spread in ((2, 1.0), (8, 0.05), (1, 20.0)):
        x, yp, yn = ctx.problem(rng, 7, 11, 6, d, spread)
        t = ctx.temperature(0.3, spread, d)
        ref, L = ctx.conv.reference(x, yp, yn, t)  # the size of a field between different sets
        v = ctx.call(x, yp, yp.copy(), t, ctx.dtype)
        tol = ctx.tol(L, (x, yp, yp))
        err = float(np.abs(v).max()) / float(np.abs(ref).max())
        if err / tol > margin:
            margin, worst, worst_tol = err / tol, err, tol
            msg = f"worst case d={d}: max |V(x; Y, Y)| = {float(np.abs(v).max()):.3g}"
    why = (f"max |V(x; Y, Y)| relative to the size of V(x; Y+, Y-); {_TOL_TEXT}: the two sets' "
           "terms cancel to round-off")
    return margin <= 1.0, worst, worst_tol, why, msg


def check_unbiased(ctx: _Ctx):
    rng = ctx.rng(8)
    R = ctx.budget["unbiased"]
    d, mp, mn = 2, 2, 7
    ang = np.linspace(0, 2 * np.pi, 4, endpoint=False) + 0.3
    x = np.stack([np.cos(ang), np.sin(ang)], 1) * np.array([1.2, 1.8, 2.4, 3.0])[:, None]
    t = 0.5
    if ctx.dtype == "float32":
        x = x.astype(np.float32).astype(np.float64)
    vals = np.empty((R, x.shape[0], d))
    for r in range(R):
        ys = rng.normal(size=(mp + mn, d))
        if ctx.dtype == "float32":
            ys = ys.astype(np.float32).astype(np.float64)
        vals[r] = ctx.call(x, ys[:mp], ys[mp:], t, ctx.dtype)
    mean = vals.mean(0)
    se = vals.std(0, ddof=1) / math.sqrt(R)
    z = float(np.max(np.abs(mean) / np.maximum(se, 1e-300)))
    why = (f"max over the 4 x 2 coordinates of |mean| / standard error over {R} draws of Y+ (m+ = {mp}) and "
           f"Y- (m- = {mn}) from N(0, I); 4.5: a false alarm has probability < 1e-4 (8 normal coordinates)")
    msg = f"largest |mean| {float(np.abs(mean).max()):.3g} with standard error {float(se.max()):.3g}"
    return z <= 4.5, z, 4.5, why, msg


def check_convergence(ctx: _Ctx):
    rng = ctx.rng(9)
    conv = ctx.conv
    d = 2 if conv.kernel == "gaussian" else 1
    mu_p = np.zeros(d)
    mu_p[0] = 1.0
    mu_q = -0.5 * mu_p
    sigma, t = 1.0, 0.7
    x = rng.normal(size=(6, d)) * 0.8
    if ctx.dtype == "float32":
        x = x.astype(np.float32).astype(np.float64)
    exact = population_field(conv, x, mu_p, mu_q, sigma, t)
    sizes, reps = ctx.budget["conv_sizes"], ctx.budget["conv_reps"]
    errs, ratio = [], math.inf
    for m in sizes:
        vals = np.empty((reps,) + x.shape)
        for r in range(reps):
            yp = mu_p + sigma * rng.normal(size=(m, d))
            yn = mu_q + sigma * rng.normal(size=(m, d))
            vals[r] = ctx.call(x, yp, yn, t, ctx.dtype)
        rms_err = float(np.sqrt(np.mean((vals - exact) ** 2)))
        rms_sd = float(np.sqrt(np.mean((vals - vals.mean(0)) ** 2) * reps / (reps - 1)))
        errs.append(rms_err)
        ratio = rms_err / rms_sd if rms_sd > 0 else math.inf
    why = (f"RMS error to the exact population field over the RMS replicate spread at m = {sizes[-1]} "
           f"({reps} replicates; kernel {conv.kernel}, d = {d}): 1 plus the O(1/m) ratio-estimator bias "
           "when the limit is right; 2 allows sampling noise of the ratio, a wrong limit gives >> 2")
    msg = "RMS error " + ", ".join(f"m={m}: {e:.3g}" for m, e in zip(sizes, errs))
    return ratio <= 2.0, ratio, 2.0, why, msg


def check_far_field(ctx: _Ctx):
    rng = ctx.rng(10)
    conv = ctx.conv
    eps32 = _eps("float32")
    margin, worst, worst_tol, msg, notes = -math.inf, 0.0, None, "", []
    for depth in (300.0, 3000.0):
        d = 3
        x0, yp, yn = ctx.problem(rng, 5, 9, 12, d, 1.0)
        u = rng.normal(size=d)
        u /= np.linalg.norm(u)
        if conv.is_official:
            t = conv.default_temperature
            dist = depth / 30.0
        else:
            t = 1.0
            dist = depth if conv.kernel == "laplace" else math.sqrt(2.0 * depth)
        x = 0.05 * x0 + dist * u
        if conv.self_mask:
            yn = x
        x = x.astype(np.float32).astype(np.float64)
        yp = yp.astype(np.float32).astype(np.float64)
        yn = x if conv.self_mask else yn.astype(np.float32).astype(np.float64)
        ref, L = conv.reference(x, yp, yn, t)
        tol = eps32 * (1.0 + L) * (C_TOL + 4.0 * (yp.shape[0] + yn.shape[0] + d))
        v = ctx.call(x, yp, yn, t, "float32", allow_nonfinite=True)
        # a V recovered from a loss gradient is exact only to eps32 |x| (see from_loss)
        slack = ctx.slack(x) and 4.0 * eps32 * float(np.abs(x).max())
        if not np.isfinite(v).all():
            kind = "NaN" if np.isnan(v).any() else "inf"
            return False, math.inf, tol, _FAR_WHY, f"{kind} at |logit| ~ {depth:g} (float32 queries far from both sets)"
        for i in range(x.shape[0]):
            nref = float(np.linalg.norm(ref[i]))
            if nref >= 1e-30:
                err = max(float(np.linalg.norm(v[i] - ref[i])) - slack, 0.0) / nref
                t_i = tol
            else:  # the exact value is below float32's range: only require a negligible output
                err = max(float(np.linalg.norm(v[i])) - slack, 0.0) / 1e-25
                t_i = 1.0
                notes.append(i)
            if err / t_i > margin:
                margin, worst, worst_tol = err / t_i, err, t_i
                msg = (f"worst row at |logit| ~ {depth:g}: |V| = {float(np.linalg.norm(v[i])):.3g}, "
                       f"reference {nref:.3g}")
    if notes:
        msg += f"; {len(notes)} rows whose exact value underflows float32 required |V| <= 1e-25"
    return margin <= 1.0, worst, worst_tol, _FAR_WHY, msg


_FAR_WHY = (f"row-wise |V - V_ref| / |V_ref| in float32 against {_TOL_TEXT} with eps of float32, L ~ 300 and 3000: "
            "direct exp underflows there, a log-space computation keeps eps L accuracy")


def check_edge(ctx: _Ctx):
    rng = ctx.rng(11)
    conv = ctx.conv
    cases = []
    one = rng.normal(size=(1, 2))
    if not conv.self_mask:
        cases.append(("single points", one, rng.normal(size=(1, 2)), rng.normal(size=(1, 2))))
    x, yp, yn = ctx.problem(rng, 5, 6, 7, 2, 1.0)
    dup_p = np.concatenate([yp, yp[:2], yp[:1]])
    cases.append(("duplicated positives", x, dup_p, yn))
    coinc = yp.copy()
    coinc[0] = x[0]
    cases.append(("query on a positive", x, coinc, yn))
    x1, yp1, yn1 = ctx.problem(rng, 4, 5, 3, 1, 1.0)
    cases.append(("d = 1", x1, yp1, yn1))
    if conv.self_mask:
        cases = [(k, a, b, a) for k, a, b, _ in cases]
        two = x[:2].copy()
        cases.append(("two queries", two, yp, two))
    margin, worst, worst_tol, msg = -math.inf, 0.0, None, ""
    for name, a, b, c in cases:
        if ctx.dtype == "float32":
            a, b = a.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64)
            c = a if conv.self_mask else c.astype(np.float32).astype(np.float64)
        t = ctx.temperature(0.5, 1.0, a.shape[1])
        ref, L = conv.reference(a, b, c, t)
        tol = ctx.tol(L, (a, b, c))
        try:
            v = ctx.call(a, b, c, t, ctx.dtype)
        except _CallError as e:
            return False, math.inf, tol, _EDGE_WHY, f"{name}: {e}"
        err = _rel_err(v, ref, ctx.dtype, ctx.slack(a))
        if err / tol > margin:
            margin, worst, worst_tol, msg = err / tol, err, tol, f"worst: {name}"
    return margin <= 1.0, worst, worst_tol, _EDGE_WHY, msg


_EDGE_WHY = f"relative difference to the reference, {_TOL_TEXT} as for parity"


def check_weights(ctx: _Ctx):
    raw = ctx.call.fn.__driftlab_weighted__
    rng = ctx.rng(14)
    conv = ctx.conv
    margin, worst, worst_tol, msg = -math.inf, 0.0, None, ""
    for d, spread in ((2, 1.0), (5, 0.1), (1, 10.0)):
        x, yp, yn = ctx.problem(rng, 6, 8, 7, d, spread)
        t = ctx.temperature(0.3 if not conv.is_official else conv.default_temperature, spread, d)
        if conv.is_official:
            w = rng.uniform(0.25, 3.0, size=yn.shape[0])
            w[0] = 0.0
            ref, L = conv.reference(x, yp, yn, t, weight_neg=w)
            shapes = (x, yp, yn)
        else:
            w = np.array([0, 1, 2, 3, 1, 2, 1], dtype=np.float64)
            rep = np.repeat(yn, w.astype(int), axis=0)
            ref, L = conv.reference(x, yp, rep, t)
            shapes = (x, yp, rep)
        X, P, N = (ctx.call.convert(a, ctx.dtype) for a in (x, yp, yn))
        W = ctx.call.convert(w, ctx.dtype)
        try:
            out = raw(X, P, N, t, W)
        except Exception as e:  # noqa: BLE001
            raise _CallError(f"the callable raised {type(e).__name__}: {e} (weights {w.round(3).tolist()})") from None
        v = ctx.call.to_numpy(out, x.shape)
        tol = ctx.tol(L, shapes)
        err = _rel_err(v, ref, ctx.dtype)
        if err / tol > margin:
            margin, worst, worst_tol = err / tol, err, tol
            msg = f"worst case d={d}, weights {w.round(3).tolist()}"
    why = ("relative difference to the reference with the negatives repeated by their integer weights "
           "(official: weighted official reference); " + _TOL_TEXT + " as for parity")
    return margin <= 1.0, worst, worst_tol, why, msg


def check_groups(ctx: _Ctx):
    raw = ctx.call.fn.__driftlab_grouped__
    rng = ctx.rng(15)
    conv = ctx.conv
    d, n, mp, mn = 3, 6, 8, 5
    probs = [ctx.problem(rng, n, mp, mn, d, s) for s in (1.0, 0.3, 3.0)]
    xs = np.stack([p[0] for p in probs])
    yps = np.stack([p[1] for p in probs])
    yns = xs if conv.self_mask else np.stack([p[2] for p in probs])
    t = conv.default_temperature if conv.is_official else ctx.temperature(0.3, 1.0, d)
    if conv.is_official:
        ref, L = conv.reference(xs, yps, yns, t)
    else:
        outs = [conv.reference(p[0], p[1], p[0] if conv.self_mask else p[2], t) for p in probs]
        ref, L = np.stack([o[0] for o in outs]), max(o[1] for o in outs)
    X = ctx.call.convert(xs, ctx.dtype)
    P = ctx.call.convert(yps, ctx.dtype)
    N = X if conv.self_mask else ctx.call.convert(yns, ctx.dtype)
    try:
        out = raw(X, P, N, t)
    except Exception as e:  # noqa: BLE001
        raise _CallError(f"the callable raised {type(e).__name__} on 3 groups: {e}") from None
    v = ctx.call.to_numpy(out, xs.shape)
    tol = ctx.tol(L, probs[0])
    errs = [_rel_err(v[g], ref[g], ctx.dtype) for g in range(3)]
    why = ("per-group relative difference to the reference (official: pooled over the groups); "
           + _TOL_TEXT + " as for parity")
    return max(errs) <= tol, max(errs), tol, why, "per-group errors " + ", ".join(f"{e:.3g}" for e in errs)


def check_contract(ctx: _Ctx):
    rng = ctx.rng(12)
    x, yp, yn = ctx.problem(rng, 5, 7, 4, 3, 1.0)
    t = ctx.conv.default_temperature
    before: list = []
    ins, out = ctx.call.raw(x, yp, yn, t, ctx.dtype, snapshot=before)
    ctx.call.to_numpy(out, x.shape)
    for name, arr, orig in zip(("x", "y_pos", "y_neg"), ins, before):
        if not np.array_equal(_as_numpy(arr), orig):
            return False, None, None, "inputs must not be modified", f"the callable modified its argument {name}"
    return True, None, None, "a failure here stops the other checks", f"returned shape {tuple(x.shape)}"


def check_types(ctx: _Ctx):
    rng = ctx.rng(13)
    x, yp, yn = ctx.problem(rng, 4, 5, 6, 2, 1.0)
    t = ctx.conv.default_temperature
    dtypes = ("float32",) if getattr(ctx.call.fn, "__driftlab_precision__", None) == "float32" \
        and ctx.dtype == "float32" else ("float32", "float64")
    seen = []
    for dt in dtypes:
        ins, out = ctx.call.raw(x, yp, yn, t, dt)
        X = ins[0]
        if ctx.call.array == "torch":
            import torch

            if not isinstance(out, torch.Tensor):
                return False, None, None, _TYPES_WHY, f"{dt}: torch in, {type(out).__name__} out"
            if out.dtype != X.dtype or out.device != X.device:
                return False, None, None, _TYPES_WHY, f"{dt}: in {X.dtype} on {X.device}, out {out.dtype} on {out.device}"
        else:
            if not isinstance(out, np.ndarray):
                return False, None, None, _TYPES_WHY, f"{dt}: numpy in, {type(out).__name__} out"
            if out.dtype != X.dtype:
                return False, None, None, _TYPES_WHY, f"{dt}: numpy {X.dtype} in, {out.dtype} out"
        seen.append(dt)
    return True, None, None, _TYPES_WHY, f"{ctx.call.array} {', '.join(seen)} preserved"


_TYPES_WHY = "exact: the output has the input's array type, dtype and device"

_RUNNERS = {
    "contract": check_contract,
    "types": check_types,
    "parity": check_parity,
    "extreme-temperatures": check_extreme,
    "translation": check_translation,
    "rotation": check_rotation,
    "scale": check_scale,
    "swap-antisymmetry": check_swap,
    "identical-sets": check_identical,
    "unbiased": check_unbiased,
    "convergence": check_convergence,
    "far-field-float32": check_far_field,
    "edge-cases": check_edge,
    "negative-weights": check_weights,
    "groups": check_groups,
}


_NO_WEIGHTS = "the callable takes no weights (wrap it with weighted_negatives)"
_NO_GROUPS = "the callable takes no groups (wrap it with grouped)"


def _not_applicable(conv: Convention, fn=None) -> dict:
    out = {}
    if getattr(fn, "__driftlab_weighted__", None) is None:
        out["negative-weights"] = _NO_WEIGHTS
    elif conv.self_mask:
        out["negative-weights"] = "the negatives are the queries (self-masked)"
    if getattr(fn, "__driftlab_grouped__", None) is None:
        out["groups"] = _NO_GROUPS
    if conv.scale_power is None:
        out["scale"] = "the official pipeline clips distances at 1e-4 and the scale at 1e-3 (absolute lengths)"
    if not conv.antisymmetric:
        out["swap-antisymmetry"] = ("the generated batch is always a negative set" if conv.is_official
                                    else "the negatives are the queries (self-masked)")
        out["identical-sets"] = out["swap-antisymmetry"]
    if not conv.unbiased:
        out["unbiased"] = ("the convention itself is biased at p = q (separately normalised means)"
                           if conv.name in ("separate", "kernel-gradient", "gaussian-score")
                           else "not implied by this convention (queries double as negatives)")
    if not conv.has_population:
        out["convergence"] = ("no closed-form population field (column softmax over the queries)"
                              if not conv.self_mask else "the negatives are the queries (self-masked)")
    return out


def check_drift(fn: Callable, convention: Any, *, dtype: str = "float64", budget: str = "quick",
                checks: Any = None, seed: int = 0, array: str = "auto", device: str | None = None,
                params: dict | None = None) -> ConformanceReport:
    """Check a drift implementation against a convention's dense float64 reference and the
    identities, unbiasedness, convergence and far-field behaviour the convention implies.

    Parameters
    ----------
    fn : callable
        ``fn(x, y_pos, y_neg, temperature) -> V`` with arrays of shape (n, d), (m+, d),
        (m-, d) and V of shape (n, d); numpy arrays or torch tensors (detected: numpy when
        the function accepts numpy). For ``"official"`` ``temperature`` is the tuple of
        temperatures. Other signatures: see the adapters (:func:`from_loss`, :func:`grouped`,
        :func:`weighted_negatives`, :func:`self_masked`, :func:`float32_only`).
    convention : str or Convention
        One of :data:`CONVENTIONS`, or a :class:`Convention` from :func:`get_convention`.
    dtype : {"float64", "float32"}
        The working dtype of the checks (the far-field check always runs in float32).
    budget : {"quick", "full"}
        ``"quick"``: 16 parity cases, 1200 Monte Carlo draws, sets up to 1024 points;
        ``"full"``: 96, 12000 and 4096.
    checks : iterable of str, optional
        A subset of :data:`CHECKS` (default: all that the convention implies).
    seed : int
        Seed of every random input (the report is deterministic).
    array : {"auto", "numpy", "torch"}
        What to pass to ``fn``.
    device : str, optional
        Torch device (default "cpu").
    params : dict, optional
        Convention parameters (see :func:`get_convention`), e.g. ``{"kernel": "gaussian"}``.

    Returns
    -------
    ConformanceReport
        ``.passed``, ``.rows`` (id, passed, measured, tolerance, why, message),
        ``.to_json()``, ``.to_markdown()``. The suite never raises because of ``fn``: a
        callable that raises, returns the wrong shape or type, or NaN gets failed rows.

    Raises
    ------
    ValueError, TypeError
        For invalid arguments of ``check_drift`` itself (unknown convention, check id,
        dtype or budget).

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.testing import check_drift
    >>> def separate(x, yp, yn, t):  # separately normalised Laplace mean shifts
    ...     def m(y):
    ...         d = y[None] - x[:, None]
    ...         lk = -np.linalg.norm(d, axis=-1) / t
    ...         w = np.exp(lk - lk.max(1, keepdims=True))
    ...         return (w[..., None] * d).sum(1) / w.sum(1, keepdims=True)
    ...     return m(yp) - m(yn)
    >>> report = check_drift(separate, "separate", checks=["parity", "translation"])
    >>> report.passed
    True
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if budget not in _BUDGETS:
        raise ValueError(f"budget must be 'quick' or 'full', got {budget!r}")
    if array not in ("auto", "numpy", "torch"):
        raise ValueError(f"array must be 'auto', 'numpy' or 'torch', got {array!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    params = dict(params or {})
    if getattr(fn, "__driftlab_self_mask__", False) and not (isinstance(convention, Convention)
                                                             or "self_mask" in params):
        params["self_mask"] = True
    conv = get_convention(convention, **params)
    if getattr(fn, "__driftlab_self_mask__", False) and not conv.self_mask:
        raise ValueError(f"fn is self-masked (its negatives are the queries) but convention {conv.describe()} "
                         "is not: use get_convention(name, self_mask=True)")
    na = _not_applicable(conv, fn)
    if checks is None:
        wanted = [c for c in CHECKS if c not in na]
        for key, why in (("negative-weights", _NO_WEIGHTS), ("groups", _NO_GROUPS)):
            if na.get(key) == why:  # not worth a row unless asked for
                del na[key]
    else:
        if isinstance(checks, str):
            checks = [checks]
        wanted = list(dict.fromkeys(checks))
        unknown = [c for c in wanted if c not in CHECKS]
        if unknown:
            raise ValueError(f"unknown check(s) {unknown}; choose from {', '.join(CHECKS)}")
        na = {k: v for k, v in na.items() if k in wanted}
        wanted = [c for c in CHECKS if c in wanted and c not in na]
    precision = getattr(fn, "__driftlab_precision__", None) or dtype
    if precision not in ("float32", "float64"):
        precision = dtype
    probe_rng = np.random.default_rng([seed, 99])
    probe = (probe_rng.normal(size=(3, 2)), probe_rng.normal(size=(4, 2)), probe_rng.normal(size=(5, 2)),
             conv.default_temperature)
    if conv.self_mask:
        probe = (probe[0], probe[1], probe[0], probe[3])
    kind = _detect_array(fn, probe) if array == "auto" else array
    ctx = _Ctx(conv, _Caller(fn, kind, device), dtype, precision, _BUDGETS[budget], int(seed))
    report = ConformanceReport(conv.describe(), [], na, dtype, kind, budget)
    order = ["contract"] + [c for c in wanted if c != "contract"]
    contract_failed = None
    # the contract always runs first, asked for or not: it gates the rest (and is reported
    # only if asked for or failed)
    for cid in order:
        t0 = time.perf_counter()
        if contract_failed is not None and cid != "contract":
            row = CheckResult(cid, False, None, None, CHECKS[cid], f"not run: {contract_failed}")
        else:
            try:
                ok, meas, tol, why, msg = _RUNNERS[cid](ctx)
                row = CheckResult(cid, bool(ok), meas, tol, why, msg)
            except _CallError as e:
                row = CheckResult(cid, False, None, None, CHECKS[cid], str(e))
            except Exception as e:  # noqa: BLE001 - the suite never crashes on a bad callable
                tb = traceback.extract_tb(e.__traceback__)
                where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
                row = CheckResult(cid, False, None, None, CHECKS[cid],
                                  f"check error {type(e).__name__}: {e}{where}")
        row.seconds = time.perf_counter() - t0
        if cid == "contract":
            if not row.passed:
                contract_failed = f"the contract check failed ({row.message})"
            if cid not in wanted and row.passed:
                continue
        report.rows.append(row)
    return report
