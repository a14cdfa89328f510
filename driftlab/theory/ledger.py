r"""The claims ledger: every theoretical claim of [T], [L], [F], [KG] as an executable check.

A :class:`Claim` names the paper, states the claim, and carries a check ``check(quick) ->
Outcome`` with its tolerance and *why* that tolerance is right. Verdicts:

* ``verified``: the measurement is within tolerance;
* ``refuted``: the measurement contradicts the claim beyond tolerance (some claims of the
  brief are *expected* to be refuted; their statement then says what holds instead);
* ``inconclusive``: the measurement cannot decide (e.g. a confidence interval too wide);
* ``error``: the check raised.

``driftlab verify`` runs them (:func:`run_claims`) and exits with status 1 when a claim's
verdict differs from its expected verdict. Every claim is also a pytest case
(``tests/test_theory_ledger.py``), and every family has a mutation test (a perturbed formula
must not verify).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["Outcome", "Claim", "ClaimResult", "CLAIMS", "get_claim", "run_claims", "VERDICTS"]

VERDICTS = ("verified", "refuted", "inconclusive", "error")


@dataclass(frozen=True)
class Outcome:
    """What a check measured: a headline number, its display string, the verdict, details."""

    value: float
    display: str
    verdict: str
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    id: str
    family: str
    paper: str
    statement: str
    tolerance: str
    why: str
    check: Callable[[bool], Outcome]
    expected: str = "verified"
    quick: bool = True  # part of `driftlab verify --quick`
    slow_in_tests: bool = False  # pytest marks it slow (still run by `driftlab verify --quick`)
    note: str = ""  # what holds instead / in what sense (for refuted or partial claims)


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    outcome: Outcome
    seconds: float

    @property
    def ok(self) -> bool:
        return self.outcome.verdict == self.claim.expected

    def as_dict(self) -> dict:
        c, o = self.claim, self.outcome
        return {"id": c.id, "family": c.family, "paper": c.paper, "statement": c.statement,
                "measured": o.display, "value": o.value, "tolerance": c.tolerance, "why": c.why,
                "verdict": o.verdict, "expected": c.expected, "ok": self.ok,
                "seconds": round(self.seconds, 2), "detail": o.detail}


# ----- verdict helpers ------------------------------------------------------------------
def _below(value: float, tol: float, fmt: str = "{:.2e}", detail: dict | None = None) -> Outcome:
    verdict = "verified" if value <= tol else "refuted"
    return Outcome(float(value), fmt.format(value), verdict, detail or {})


def _symbolic(fn: Callable, *args) -> Outcome:
    from driftlab.theory.symbolic import is_zero

    ok = is_zero(fn(*args))
    return Outcome(0.0 if ok else 1.0, "0 (exact)" if ok else "non-zero", "verified" if ok else "refuted")


def _precise(fn: Callable, **kw) -> Outcome:
    res = fn(**kw)
    return _below(res.max_rel_error, 1e-30, detail={"dps": res.dps, "n_points": res.n_points})


# ----- check bodies (module-level so tests can call them with mutated formulas) ------------
def check_tweedie_quadrature(quick: bool, factor: float = 1.0) -> Outcome:
    """fields quadrature (2-D, Gaussian kernel) vs s^2 x closed-form score of p_s."""
    from driftlab.distributions import GaussianMixture
    from driftlab.fields import population_mean_shift
    from driftlab.kernels import Gaussian

    p = GaussianMixture([[-1.0, 0.3], [1.2, -0.4]], [[0.5, 0.3], [0.4, 0.6]], [0.4, 0.6])
    s = 0.6
    x = np.random.default_rng(1).normal(size=(3 if quick else 10, 2))
    est = population_mean_shift(p, x, Gaussian(s), method="quadrature")
    ref = factor * s * s * p.smooth(s).score(x)
    err = float(np.max(np.abs(est.value - ref)) / np.max(np.abs(ref)))
    return _below(err, 1e-7)


def check_equal_covariance(quick: bool, factor: float = 1.0) -> Outcome:
    """Equal covariances: V = s^2 (S + s^2 I)^-1 (mu_p - mu_q) at every x (posterior-mean route)."""
    from driftlab.theory.fisher import gaussian_mean_shift

    S = np.array([[0.8, 0.3, 0.0], [0.3, 0.5, 0.1], [0.0, 0.1, 1.1]])
    mp_, mq_ = np.array([1.0, -0.5, 0.2]), np.array([-0.3, 0.4, 0.0])
    s = 0.7
    x = np.random.default_rng(2).normal(scale=3.0, size=(50, 3))
    V = gaussian_mean_shift(mp_, S, x, s) - gaussian_mean_shift(mq_, S, x, s)
    const = factor * s * s * np.linalg.solve(S + s * s * np.eye(3), mp_ - mq_)
    return _below(float(np.max(np.abs(V - const[None]))), 1e-12)


def check_repo_laplace_fourier(quick: bool) -> Outcome:
    """driftlab.kernels.Laplace.fourier (closed and numerical) vs 40-digit Hankel quadrature."""
    import mpmath as mp

    from driftlab.kernels import Laplace

    tau = 0.9
    worst = 0.0
    with mp.workdps(30):
        for d in (1, 2, 3) if quick else (1, 2, 3, 5, 8):
            nu = mp.mpf(d) / 2 - 1
            norm0 = mp.gamma(d) * mp.mpf(tau) ** d / (2**nu * mp.gamma(mp.mpf(d) / 2))
            for k in (1.3,) if quick else (0.5, 1.7):
                f = lambda r: mp.exp(-r / tau) * mp.besselj(nu, k * r) * r ** (mp.mpf(d) / 2)  # noqa: E731
                ref = float(mp.mpf(k) ** (-nu) * mp.quad(f, [0] + [j * mp.pi / k for j in range(1, 40)] + [mp.inf]) / norm0)
                for method in ("closed", "numerical"):
                    val = float(Laplace(tau).fourier(np.array([k]), d, method=method)[0])
                    tol_scale = 1.0 if method == "closed" else 1e5  # numerical Hankel: ~1e-9 accurate
                    worst = max(worst, abs(val - ref) / ref / tol_scale)
    return _below(worst, 1e-13, detail={"note": "numerical-method errors divided by 1e5 (its 1e-8 target)"})


def check_subordination_vs_direct(quick: bool) -> Outcome:
    """Scale-mixture (1-D sigma quadrature) Laplace moments vs direct finite sums, d = 1 ... 1024."""
    from driftlab.distributions import EmpiricalMeasure
    from driftlab.theory.laplace import direct_empirical, laplace_moments

    rng = np.random.default_rng(0)
    worst = 0.0
    for d in (1, 3, 64) if quick else (1, 2, 5, 50, 1024):
        pts = rng.normal(size=(20, d))
        w = rng.uniform(0.2, 1.0, 20)
        w /= w.sum()
        x = rng.normal(size=(4, d)) * 1.3
        for tau in (0.05, 0.5, 3.0):
            mom = laplace_moments(EmpiricalMeasure(pts, w), x, tau)
            m, g, rb = direct_empirical(pts, w, x, tau)
            for a, b in ((mom.mean_shift, m), (mom.score, g), (mom.rbar, rb)):
                worst = max(worst, float(np.max(np.abs(a - b)) / np.max(np.abs(b))))
    return _below(worst, 1e-10)


def check_fields_laplace_quadrature(quick: bool) -> Outcome:
    """fields' 2-D polar quadrature of the Laplace mean shift vs the scale-mixture evaluator."""
    from driftlab.distributions import GaussianMixture
    from driftlab.fields import population_mean_shift
    from driftlab.kernels import Laplace
    from driftlab.theory.laplace import laplace_moments

    p = GaussianMixture([[-1.0, 0.3], [1.2, -0.4]], [[0.5, 0.3], [0.4, 0.6]], [0.4, 0.6])
    x = np.random.default_rng(3).normal(size=(2 if quick else 6, 2))
    tau = 0.4
    est = population_mean_shift(p, x, Laplace(tau), method="quadrature")
    ref = laplace_moments(p, x, tau).mean_shift
    return _below(float(np.max(np.abs(est.value - ref)) / np.max(np.abs(ref))), 1e-6)


def check_low_temperature_exponent(quick: bool, constant: float | None = None) -> Outcome:
    from driftlab.theory.laplace import temperature_law

    fits = []
    for d in (2,) if quick else (1, 2, 8):
        c = None if constant is None else constant * (d + 1)
        fits.append((d, temperature_law(d, constant=c)["error_fit"]))
    worst = max(fits, key=lambda t: abs(t[1].slope - 2.0))
    f = worst[1]
    contains = f.ci_low <= 2.0 <= f.ci_high
    verdict = "verified" if (contains or abs(f.slope - 2) < 0.1) else ("refuted" if abs(f.slope - 2) > 0.5 else "inconclusive")
    return Outcome(f.slope, f"slope {f.slope:.3f} [{f.ci_low:.3f}, {f.ci_high:.3f}] (d={worst[0]})", verdict,
                   {str(d): fit.as_dict() for d, fit in fits})


def check_constant_preconditioner(quick: bool, constant: float | None = None) -> Outcome:
    """|m - (d+1) tau^2 grad log pi_k| / |m| = O(tau^2): fitted exponent 2."""
    from driftlab.theory.laplace import constant_preconditioner_law

    fits = {}
    for d in (2,) if quick else (1, 2, 8):
        fits[d] = constant_preconditioner_law(d, constant=None if constant is None else constant * (d + 1))["fit"]
    d, f = max(fits.items(), key=lambda kv: abs(kv[1].slope - 2.0))
    contains = f.ci_low <= 2.0 <= f.ci_high
    verdict = "verified" if (contains or abs(f.slope - 2) < 0.1) else ("refuted" if abs(f.slope - 2) > 0.5 else "inconclusive")
    return Outcome(f.slope, f"slope {f.slope:.3f} [{f.ci_low:.3f}, {f.ci_high:.3f}] (d={d})", verdict,
                   {str(k): v.as_dict() for k, v in fits.items()})


def _residual_limit(quick: bool):
    from driftlab.theory.laplace import fit_loglog, temperature_law

    out = {}
    for d in (2,) if quick else (1, 2, 8):
        r = temperature_law(d, taus=np.geomspace(0.005, 0.04, 4))
        out[d] = (r["rel_residual"], fit_loglog(r["taus"], r["rel_residual"]))
    return out


def check_residual_vanishes_low_temperature(quick: bool) -> Outcome:
    """[L]: the residual is small at low temperature — relative to m it must -> 0 as tau -> 0."""
    out = _residual_limit(quick)
    d, (res, fit) = max(out.items(), key=lambda kv: kv[1][1].slope)
    if fit.ci_low > 0.5:
        verdict = "verified"
    elif fit.slope < 0.25 and abs(res[0] * (d + 1) - 1) < 0.05:
        verdict = "refuted"
    else:
        verdict = "inconclusive"
    return Outcome(res[0], f"|C|/|m| = {res[0]:.4f} at tau=0.005 (d={d}); slope {fit.slope:.3f}", verdict,
                   {str(k): {"rel_residual": v[0], "fit": v[1].as_dict()} for k, v in out.items()})


def check_residual_limit(quick: bool, limit: Callable[[int], float] | None = None) -> Outcome:
    """Derived correction: |Cov(r,u)|/|m| -> 1/(d+1) as tau -> 0."""
    limit = (lambda d: 1.0 / (d + 1)) if limit is None else limit
    out = _residual_limit(quick)
    worst = max(abs(v[0][0] / limit(d) - 1) for d, v in out.items())
    return _below(worst, 0.01, fmt="rel. deviation {:.2e}",
                  detail={str(d): v[0][0] for d, v in out.items()})


def _dim_law(quick: bool):
    from driftlab.theory.laplace import dimension_law

    dims = (2, 8, 32, 128, 512, 1024) if quick else (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
    return dimension_law(dims=dims, tau=1.0, n_points=6 if quick else 12)


def check_dimension_roughly_inverse(quick: bool) -> Outcome:
    r = _dim_law(quick)
    f = r["fit_all"]
    inside = -1.5 <= f.ci_low and f.ci_high <= -0.5
    outside = f.ci_high < -1.5 or f.ci_low > -0.5
    verdict = "verified" if inside else ("refuted" if outside else "inconclusive")
    return Outcome(f.slope, f"slope {f.slope:.3f} [{f.ci_low:.3f}, {f.ci_high:.3f}] over d={r['dims'][0]}..{r['dims'][-1]}",
                   verdict, {"dims": r["dims"], "rel_residual": r["rel_residual"]})


def check_dimension_asymptotic(quick: bool, claimed: float = -1.0) -> Outcome:
    """Local exponent of the relative residual over d = 1024 ... 4096 (the asymptotic regime)."""
    from driftlab.theory.laplace import dimension_law

    r = dimension_law(dims=(1024, 2048, 4096), tau=1.0, n_points=8 if quick else 24)
    f = r["fit_all"]
    dev = abs(f.slope - claimed)
    verdict = "verified" if dev <= 0.15 else ("refuted" if dev > 0.3 else "inconclusive")
    return Outcome(f.slope, f"slope {f.slope:.3f} [{f.ci_low:.3f}, {f.ci_high:.3f}] over d=1024..4096", verdict,
                   {"dims": r["dims"], "rel_residual": r["rel_residual"]})


def check_one_scalar(quick: bool) -> Outcome:
    from driftlab.theory.laplace import cancellation

    c = cancellation(dim=2, tau=0.5, n_points=60 if quick else 400)
    v = c["median_rel_error_natural"]
    verdict = "verified" if v < 0.05 else ("refuted" if v > 0.1 else "inconclusive")
    return Outcome(v, f"median rel. error {v:.2f} (best scalar {c['median_rel_error_best_scalar']:.2f})", verdict, c)


def check_identifiability(quick: bool, factor: float = 1.0) -> Outcome:
    from driftlab.distributions import GaussianMixture
    from driftlab.theory.identifiability import recover_difference_1d

    p = GaussianMixture([[-1.5], [1.0], [2.5]], [0.4, 0.3, 0.5], [0.3, 0.5, 0.2])
    q = GaussianMixture([[0.0]], [1.5])
    r = recover_difference_1d(p, q, 0.5, cutoff=1e-5, factor=factor)
    return _below(r["rel_linf_error"], 1e-2, detail={"drift_linf": r["drift_linf"]})


def check_identifiability_2d(quick: bool, factor: float = 1.0) -> Outcome:
    from driftlab.distributions import GaussianMixture
    from driftlab.theory.identifiability import recover_difference_2d

    p = GaussianMixture([[-1.5, 0.0], [1.5, 0.5]], [0.5, 0.3])
    q = GaussianMixture([[0.3, -0.4]], [[[1.2, 0.4], [0.4, 0.7]]])
    r = recover_difference_2d(p, q, 0.5, n=256, cutoff=1e-4, factor=factor)
    return _below(r["rel_linf_error"], 5e-3)


def check_collapse(quick: bool) -> Outcome:
    from driftlab.distributions import GaussianMixture
    from driftlab.theory.identifiability import collapse_counterexample

    p = GaussianMixture([[-1.5, 0.0], [1.5, 0.5]], [0.5, 0.3])
    c = collapse_counterexample(p, 0.6, [[1.2, 0.3]])
    ok = c["loss"] < 1e-24 and c["w2_squared"] > 1.0
    return Outcome(c["loss"], f"loss {c['loss']:.1e}, W2^2(q,p) = {c['w2_squared']:.2f}",
                   "verified" if ok else "refuted", {"x_star": c["x_star"]})


def check_collapse_jacobian(quick: bool, shift: float = 0.0) -> Outcome:
    from driftlab.distributions import GaussianMixture
    from driftlab.theory.identifiability import collapse_counterexample

    p = GaussianMixture([[-1.5, 0.0], [1.5, 0.5]], [0.5, 0.3])
    c = collapse_counterexample(p, 0.6, [[1.2, 0.3]])
    diff = float(np.max(np.abs(c["jacobian"] + shift * np.eye(2) - c["jacobian_posterior"])))
    ok = diff <= 1e-10 and c["jacobian_eigs"].min() > 0 and c["collapsed_motion_eigs"].max() < 0
    return Outcome(diff, f"|J - Cov/s^2| = {diff:.1e}; eig(J) = {np.round(c['jacobian_eigs'], 3).tolist()}",
                   "verified" if ok else "refuted",
                   {"jacobian_eigs": c["jacobian_eigs"], "collapsed_motion_eigs": c["collapsed_motion_eigs"]})


_GP = dict(mu_p=np.array([1.0, -0.5]), S_p=np.array([[1.0, 0.3], [0.3, 0.5]]),
           mu_q=np.array([-0.5, 0.5]), S_q=np.array([[0.3, 0.0], [0.0, 0.8]]), s=0.7)


def check_reverse_fisher_mc(quick: bool, power: float = 4.0) -> Outcome:
    from driftlab.theory.fisher import reverse_fisher_closed, reverse_fisher_montecarlo

    g = _GP
    c = reverse_fisher_closed(g["mu_p"], g["S_p"], g["mu_q"], g["S_q"], g["s"], power=power)
    m, se = reverse_fisher_montecarlo(g["mu_p"], g["S_p"], g["mu_q"], g["S_q"], g["s"], n=20000 if quick else 400000)
    z = (m - c) / se
    verdict = "verified" if abs(z) <= 4 else ("refuted" if abs(z) > 6 else "inconclusive")
    return Outcome(z, f"z = {z:+.2f} (MC {m:.5f} +- {se:.5f}, closed {c:.5f})", verdict)


def check_gaussian_flow_particles(quick: bool, perturb: float = 0.0) -> Outcome:
    from driftlab.theory.fisher import gaussian_flow_euler_moments, particle_flow

    g = _GP
    N, dt, n = (500, 0.05, 40) if quick else (1500, 0.05, 60)
    x0 = np.random.default_rng(0).multivariate_normal(g["mu_q"], g["S_q"], size=N)
    pm, pS = particle_flow(g["mu_p"], g["S_p"], x0, g["s"], dt, n)
    em, eS = gaussian_flow_euler_moments(g["mu_p"], g["S_p"] * (1 + perturb), pm[0], pS[0], g["s"], dt, n)
    err = float(max(np.max(np.abs(pm - em)), np.max(np.abs(pS - eS))))
    tol = 1.0 / np.sqrt(N)
    return _below(err, tol, detail={"N": N, "tolerance": tol, "moved": float(np.max(np.abs(em[-1] - em[0])))})


def check_gaussian_flow_ode(quick: bool) -> Outcome:
    """Euler moment recursion -> ODE at first order: err(dt)/err(dt/2) -> 2."""
    from driftlab.theory.fisher import gaussian_flow_euler_moments, gaussian_flow_ode

    g = _GP
    T = 2.0
    errs = []
    for dt in (0.02, 0.01, 0.005):
        n = int(round(T / dt))
        em, eS = gaussian_flow_euler_moments(g["mu_p"], g["S_p"], g["mu_q"], g["S_q"], g["s"], dt, n)
        om, oS = gaussian_flow_ode(g["mu_p"], g["S_p"], g["mu_q"], g["S_q"], g["s"], [0.0, T])
        errs.append(max(np.max(np.abs(em[-1] - om[-1])), np.max(np.abs(eS[-1] - oS[-1]))))
    ratio = errs[1] / errs[2]
    return _below(abs(ratio - 2.0), 0.05, fmt="|ratio - 2| = {:.3f}", detail={"errors": errs})


def check_dmd_numeric(quick: bool, weight: float | None = None) -> Outcome:
    from driftlab.distributions import GaussianMixture
    from driftlab.theory.fisher import dmd_direction

    p = GaussianMixture([[-1.0, 0.3], [1.2, -0.4]], [[0.5, 0.3], [0.4, 0.6]], [0.4, 0.6])
    q = GaussianMixture([[0.2, 0.1]], [[[0.7, 0.2], [0.2, 0.9]]])
    s = 0.8
    x = np.random.default_rng(4).normal(size=(40, 2))
    V = p.gaussian_posterior(x, s * s).mean() - q.gaussian_posterior(x, s * s).mean()
    D = dmd_direction(p, q, x, s, weight=weight)
    return _below(float(np.max(np.abs(V - D)) / np.max(np.abs(V))), 1e-12)


def _asym(kind: str, quick: bool) -> float:
    from driftlab.distributions import GaussianMixture
    from driftlab.theory.conservativity import drift_field, jacobian_asymmetry

    p = GaussianMixture([[-1.5, 0.0], [1.5, 0.5]], [0.5, 0.3])
    q = GaussianMixture([[0.3, -0.4]], [[[1.2, 0.4], [0.4, 0.7]]])
    x = np.random.default_rng(0).normal(size=(3 if quick else 10, 2))
    return jacobian_asymmetry(drift_field(kind, p, q, 0.5), x)


def check_conservative(kind: str) -> Callable[[bool], Outcome]:
    return lambda quick: _below(_asym(kind, quick), 1e-6)


def check_not_conservative(quick: bool) -> Outcome:
    a = _asym("laplace", quick)
    return Outcome(a, f"{a:.2e}", "verified" if a > 1e-3 else "refuted")


def check_kernel_gradient_batch(quick: bool) -> Outcome:
    """fields.batch_drift(method='kernel_gradient') on samples: Jacobian asymmetry ~ 0."""
    from driftlab.fields import batch_drift
    from driftlab.kernels import Laplace
    from driftlab.theory.conservativity import jacobian_asymmetry

    rng = np.random.default_rng(5)
    pos, neg = rng.normal(size=(60, 2)) + [1.0, 0.0], rng.normal(size=(80, 2)) * 0.7
    f = lambda x: np.asarray(batch_drift(x, pos, neg, Laplace(0.5), method="kernel_gradient"))  # noqa: E731
    lap = lambda x: np.asarray(batch_drift(x, pos, neg, Laplace(0.5), method="joint"))  # noqa: E731
    x = rng.normal(size=(4, 2)) * 0.8 + 0.05
    a, b = jacobian_asymmetry(f, x, h=1e-5), jacobian_asymmetry(lap, x, h=1e-5)
    ok = a < 1e-5 and b > 1e-3
    return Outcome(a, f"kernel-gradient {a:.1e} vs joint Laplace {b:.1e}", "verified" if ok else "refuted")


# ----- the registry ------------------------------------------------------------------------
def _precise_q(name: str, quick_kw: dict, full_kw: dict) -> Callable[[bool], Outcome]:
    def run(quick: bool) -> Outcome:
        from driftlab.theory import precise

        return _precise(getattr(precise, name), **(quick_kw if quick else full_kw))

    return run


def _sym(name: str) -> Callable[[bool], Outcome]:
    def run(quick: bool) -> Outcome:
        from driftlab.theory.symbolic import PROOFS

        return _symbolic(PROOFS[name])

    return run


_EXACT = "exact symbolic 0"
_WHY_SYM = "an identity is exact: sympy must simplify the difference to 0 (any perturbation leaves a non-zero expression)"
_WHY_MP = ("40-digit mpmath arithmetic; mpmath.diff / mpmath.quad lose a few digits, so agreement to 1e-30 "
           "means exact up to working precision, while any O(1) error in the formula shows at O(1)")

CLAIMS: list[Claim] = [
    # --- Gaussian kernel: drift = score difference (Tweedie) ------------------------------
    Claim("gauss.tweedie.symbolic", "tweedie", "[T, L]",
          "Gaussian-kernel mean shift = s^2 d/dx log p_s for an arbitrary 1-D density p (Tweedie)",
          _EXACT, _WHY_SYM, _sym("tweedie_general_1d")),
    Claim("gauss.tweedie.h-kernel", "tweedie", "[T, L]",
          "For the kernel exp(-|z|^2/h) the Tweedie factor is h/2", _EXACT, _WHY_SYM, _sym("tweedie_h_kernel")),
    Claim("gauss.tweedie.gaussian-2d", "tweedie", "[T]",
          "For p = N(mu, S) (generic symmetric S, d = 2): m(x) = -s^2 (S + s^2 I)^-1 (x - mu)",
          _EXACT, _WHY_SYM, _sym("tweedie_gaussian_2d")),
    Claim("gauss.tweedie.mpmath-empirical", "tweedie", "[T]",
          "Tweedie holds for empirical measures (batch field = s^2 x KDE score difference), d = 3",
          "rel. error < 1e-30", _WHY_MP, _precise_q("tweedie_empirical", {}, {"n": 30, "dim": 5})),
    Claim("gauss.tweedie.mpmath-gmm", "tweedie", "[T]",
          "Tweedie on a 1-D Gaussian mixture: quadrature mean shift = s^2 x closed-form score of p_s",
          "rel. error < 1e-30", _WHY_MP, _precise_q("tweedie_gmm_1d", {}, {"seed": 1}), slow_in_tests=True),
    Claim("gauss.tweedie.quadrature-2d", "tweedie", "[T]",
          "Independent implementation: driftlab.fields 2-D quadrature of the mean shift = s^2 score of p_s",
          "rel. error < 1e-7",
          "fields' adaptive polar quadrature targets rtol 1e-9 of the kernel length; 1e-7 leaves a 100x margin "
          "for its error estimate while a 1e-6 relative change of s^2 already fails",
          check_tweedie_quadrature),
    Claim("gauss.equal-covariance", "tweedie", "[T]",
          "Equal covariances give the constant field V = s^2 (S + s^2 I)^-1 (mu_p - mu_q) (d = 3)",
          "max abs deviation < 1e-12", "float64 round-off of two 3x3 solves on O(1) data (~1e-15) with margin",
          check_equal_covariance),
    # --- Fourier transform of the Laplace kernel ------------------------------------------
    Claim("laplace.fourier.symbolic-d", "fourier", "[T]",
          "Normalised d-dim Fourier transform of exp(-|z|/tau) is (1 + tau^2 k^2)^(-(d+1)/2), symbolic d",
          _EXACT, _WHY_SYM, _sym("laplace_fourier_general_dim")),
    Claim("laplace.fourier.radial-2d", "fourier", "[T]",
          "Same transform by the direct radial (Hankel) integral, d = 2", _EXACT, _WHY_SYM,
          _sym("laplace_fourier_radial_2d")),
    Claim("laplace.fourier.radial-3d", "fourier", "[T]",
          "Same transform by the direct radial integral, d = 3", _EXACT, _WHY_SYM, _sym("laplace_fourier_radial_3d")),
    Claim("laplace.fourier.mpmath", "fourier", "[T]",
          "Hankel-transform quadrature of exp(-r/tau) matches (1 + tau^2 k^2)^(-(d+1)/2) for d = 1, 2, 3, 5",
          "rel. error < 1e-30", _WHY_MP,
          _precise_q("laplace_fourier_numeric", {"dims": (1, 2, 3), "ks": (1.3,)}, {}), slow_in_tests=True),
    Claim("laplace.fourier.repo-kernel", "fourier", "[T]",
          "driftlab.kernels.Laplace.fourier (closed form and numerical Hankel) matches 30-digit quadrature",
          "rel. error < 1e-13 (closed), < 1e-8 (numerical)",
          "closed form: float64 round-off of a power; numerical: the Hankel routine's documented ~1e-9 accuracy",
          check_repo_laplace_fourier, slow_in_tests=True),
    # --- Laplace = Gaussian scale mixture ---------------------------------------------------
    Claim("laplace.scale-mixture.symbolic", "scale-mixture", "[L]",
          "exp(-r/tau) = E_{v ~ tau^2 chi^2_1} exp(-r^2/(2v))", _EXACT, _WHY_SYM, _sym("laplace_scale_mixture")),
    Claim("laplace.scale-mixture.mpmath", "scale-mixture", "[L]",
          "Same identity by 40-digit quadrature at r = 0.1 ... 5", "rel. error < 1e-30", _WHY_MP,
          _precise_q("scale_mixture_kernel", {"rs": (0.3, 2.0)}, {})),
    Claim("laplace.scale-mixture.tweedie-mixture", "scale-mixture", "[L]",
          "The Laplace mean shift is the posterior mixture over v of Tweedie fields v grad log Z_v",
          "rel. error < 1e-30", _WHY_MP,
          _precise_q("scale_mixture_mean_shift", {"n": 5, "dim": 2}, {"n": 8, "dim": 3}), slow_in_tests=True),
    Claim("laplace.scale-mixture.any-dim", "scale-mixture", "[L]",
          "Scale-mixture evaluator (1-D quadrature over the subordinator) = direct sums, d = 1 ... 1024",
          "rel. error < 1e-10",
          "trapezoid in log(sigma) converges exponentially (observed 1e-12 ... 1e-15); 1e-10 allows for "
          "float64 log-sum-exp round-off growing with d",
          check_subordination_vs_direct),
    Claim("laplace.scale-mixture.vs-fields", "scale-mixture", "[L]",
          "Independent implementation: driftlab.fields 2-D quadrature of the Laplace mean shift = scale-mixture value",
          "rel. error < 1e-6",
          "fields' polar quadrature has a kink at r = 0 for the Laplace kernel; its error estimate is ~1e-8",
          check_fields_laplace_quadrature),
    # --- Laplace decomposition --------------------------------------------------------------
    Claim("laplace.decomposition.mpmath", "laplace-decomposition", "[L] (derived)",
          "grad log pi_k = E_post[u]/tau, |grad log pi_k| <= 1/tau, and m = tau rbar grad log pi_k + Cov_post(r, u)",
          "rel. error < 1e-30", _WHY_MP, _precise_q("laplace_decomposition", {}, {"n": 30, "dim": 5})),
    Claim("laplace.decomposition.mpmath-gmm", "laplace-decomposition", "[L] (derived)",
          "Same decomposition on a 1-D Gaussian mixture (40-digit quadrature; grad log pi_k by mpmath.diff)",
          "rel. error < 1e-30", _WHY_MP, _precise_q("laplace_decomposition", {"gmm_1d": True}, {"gmm_1d": True, "seed": 1}),
          quick=False),
    Claim("laplace.companion.symbolic", "laplace-decomposition", "[F, L]",
          "grad_x[(tau + r) exp(-r/tau)] = (y - x)/tau exp(-r/tau) (d = 3)", _EXACT, _WHY_SYM,
          _sym("companion_gradient_3d")),
    Claim("laplace.companion.mpmath", "laplace-decomposition", "[F, L] (derived)",
          "m_Laplace = tau (tau + rbar) grad log pi_companion exactly (empirical measure, d = 3)",
          "rel. error < 1e-30", _WHY_MP, _precise_q("companion_identity", {}, {"n": 30, "dim": 5})),
    Claim("laplace.companion.mpmath-gmm", "laplace-decomposition", "[F, L] (derived)",
          "Same companion identity on a 1-D Gaussian mixture (40-digit quadrature)", "rel. error < 1e-30", _WHY_MP,
          _precise_q("companion_identity", {"gmm_1d": True}, {"gmm_1d": True, "seed": 1}), quick=False),
    Claim("laplace.second-moment", "laplace-residual", "[L] (derived)",
          "The Laplace kernel's per-axis second moment is (d+1) tau^2 (the Gaussian-equivalent s^2)",
          _EXACT, _WHY_SYM, _sym("laplace_second_moment")),
    Claim("laplace.low-temperature.exponent", "laplace-residual", "[L] (derived)",
          "V/((d+1) tau^2) -> grad log p - grad log q with relative error O(tau^2) (fitted exponent 2)",
          "95% CI of the log-log slope contains 2 (or |slope - 2| < 0.1)",
          "the data are deterministic (quadrature to 1e-12); the CI measures departure from a pure power law "
          "over tau = 0.005 ... 0.08 (higher-order terms), so containing 2 is the right test",
          check_low_temperature_exponent),
    Claim("laplace.residual.low-temperature-small", "laplace-residual", "[L]",
          "The residual Cov(r,u) of the exact decomposition m = tau rbar grad log pi_k + Cov(r,u) is small relative "
          "to m at low temperature (-> 0 as tau -> 0)",
          "refuted when |C|/|m| stays within 5% of 1/(d+1) with slope < 0.25",
          "derivation: m -> (d+1) tau^2 g and tau rbar g -> d tau^2 g, so |C|/|m| -> 1/(d+1), not 0; only the "
          "absolute residual is O(tau^2) (as is m)",
          check_residual_vanishes_low_temperature, expected="refuted",
          note="Holds only in part. With the brief's exact decomposition (preconditioner tau*rbar) the residual "
               "tends to m/(d+1): small only in high dimension. With the constant preconditioner (d+1) tau^2 the "
               "residual is O(tau^4), i.e. relatively O(tau^2) (claim laplace.residual.constant-preconditioner)."),
    Claim("laplace.residual.low-temperature-limit", "laplace-residual", "correction (derived here)",
          "|Cov(r,u)| / |m| -> 1/(d+1) as tau -> 0 (the residual is a fixed fraction of m, small only in high d)",
          "|ratio (d+1) - 1| < 0.01 at tau = 0.005",
          "the approach is O(tau^2) (relative 1e-3 at tau = 0.005 from the fitted curve); 0.01 gives margin",
          check_residual_limit),
    Claim("laplace.residual.constant-preconditioner", "laplace-residual", "[L] (what holds)",
          "With the constant preconditioner (d+1) tau^2 the residual m - (d+1) tau^2 grad log pi_k is small at low "
          "temperature: relative size O(tau^2)",
          "95% CI of the log-log slope contains 2 (or |slope - 2| < 0.1)",
          "deterministic quadrature values; the CI measures curvature over tau = 0.005 ... 0.08",
          check_constant_preconditioner),
    Claim("laplace.residual.dimension-rough", "laplace-residual", "[L] (derived)",
          "At fixed tau the relative residual |Cov(r,u)|/|m| decays roughly like 1/d (d = 2 ... 1024)",
          "95% CI of the log-log slope inside [-1.5, -0.5]",
          "'roughly 1/d' read as an exponent within 0.5 of -1; quadrature values are deterministic so the CI "
          "reflects curvature of the log-log curve",
          check_dimension_roughly_inverse,
          note="Pre-asymptotically the decay is faster than 1/d (fitted exponent about -1.23 over d = 2 ... 1024); "
               "the local exponent tends to -1 only at d >= 1024 (laplace.residual.dimension-asymptotic)."),
    Claim("laplace.residual.dimension-asymptotic", "laplace-residual", "(derived) refined",
          "... and asymptotically exactly like 1/d: local log-log slope over d = 1024 ... 4096 is -1",
          "|slope + 1| <= 0.15 (refuted if > 0.3)",
          "pre-asymptotic local slopes are -1.2 ... -1.3 at d = 32 ... 512 and drift towards -1 (-1.08 at "
          "d = 2048 ... 4096); 0.15 separates 'tends to 1/d' from a different power",
          check_dimension_asymptotic),
    Claim("laplace.one-scalar", "laplace-residual", "[L] (caution in brief)",
          "V_Laplace = c(x) (grad log p_k - grad log q_k) with one common preconditioner c = tau (rbar_p + rbar_q)/2",
          "verified if median rel. error < 5%, refuted if > 10%",
          "the p and q preconditioners tau rbar differ (ratio 0.6 ... 1.5 here) and the residuals do not cancel",
          check_one_scalar, expected="refuted",
          note="V is not a scalar multiple of grad log p_k - grad log q_k in d >= 2: with the natural common "
               "preconditioner the median error is ~26% (d = 2, tau = 0.5), and even the best scalar per point "
               "leaves ~11%. Cancellation: the residual relative to V has a heavy tail where m_p and m_q nearly "
               "cancel (d = 2: median 0.16, 90th percentile 0.43; d = 8: median 0.08 against 0.03 relative to "
               "m_p). In 1-D the best scalar is trivially exact."),
    # --- identifiability ---------------------------------------------------------------------
    Claim("ident.fourier-inversion", "identifiability", "[T]",
          "V (Gaussian kernel) on R and q determine p: p - q recovered by integrating V/s^2 and Fourier deconvolution",
          "relative L-inf error < 1e-2",
          "spectral cut where exp(-s^2 k^2/2) < 1e-5 (drops |p^| < 1e-6) amplifies the O(h^2) trapezoid error "
          "by up to 1e5: observed 1.6e-3; a 1% error in s^2 gives 30%",
          check_identifiability),
    Claim("ident.fourier-inversion-2d", "identifiability", "[T]",
          "Same in 2-D: path-integrate V/s^2 (a gradient field), deconvolve p_s by the 2-D FFT, recover p - q",
          "relative L-inf error < 5e-3",
          "cut where exp(-s^2|k|^2/2) < 1e-4 on a 256^2 grid (h = 0.07) drops |p^| < ~1e-5 and amplifies the "
          "O(h^2) path-integration error by <= 1e4: observed 7e-4; a 1% error in s^2 gives 1.5e-2",
          check_identifiability_2d),
    Claim("ident.collapse", "identifiability", "[T] (caveat)",
          "A point mass q at a mode x* of p_s has V(x*) = 0: zero loss E_q|V|^2 while q != p",
          "loss < 1e-24 and W2^2(q, p) > 1", "loss is float64 round-off squared (~1e-32); W2^2 is O(1) by construction",
          check_collapse),
    Claim("ident.collapse-jacobian", "identifiability", "(derived)",
          "At x*, the field's Jacobian I + s^2 Hess log p_s equals Cov_post(y|x*)/s^2 (PSD: splits grow), while the "
          "collapsed atom moves by s^2 grad log p_s (Jacobian negative definite at a mode)",
          "max |J - Cov/s^2| < 1e-10", "float64 round-off in Hessian vs posterior covariance (~1e-15) with margin",
          check_collapse_jacobian),
    # --- reverse Fisher, Gaussian flow, DMD -----------------------------------------------------
    Claim("fisher.closed-form.symbolic", "reverse-fisher", "[T]",
          "E_q V^2 = s^4 E_q |grad log p_s - grad log q_s|^2 = s^4[(B-A)^2 v_q + A^2 (mu_p - mu_q)^2] (1-D Gaussians)",
          _EXACT, _WHY_SYM, _sym("reverse_fisher_1d"), slow_in_tests=True),
    Claim("fisher.closed-form.montecarlo", "reverse-fisher", "[T]",
          "Same closed form (2-D, full covariances) against Monte Carlo of |m_p - m_q|^2 under q",
          "|z| <= 4 (refuted if > 6)", "Monte Carlo standard error from the sample; 4 sigma keeps false alarms < 1e-4",
          check_reverse_fisher_mc),
    Claim("fisher.gaussian-flow.particles", "reverse-fisher", "(derived)",
          "The population drifting flow keeps q Gaussian: mean/covariance recursion = a self-consistent particle run",
          "max moment deviation < N^-1/2",
          "particles see the KDE of their own empirical law (fluctuation O(N^-1/2)); the recursion starts from the "
          "sample moments so sampling of x0 cancels; measured deviation ~0.2 N^-1/2 (3 seeds at each of "
          "N = 250, 500, 1000, 2000), so N^-1/2 is a 5x margin, and a 20% error in S_p fails",
          check_gaussian_flow_particles),
    Claim("fisher.gaussian-flow.ode", "reverse-fisher", "(derived)",
          "mu' = s^2 A (mu_p - mu), S' = M S + S M^T, M = s^2 (B_t - A): the Euler recursion converges to this ODE at order 1",
          "|err(dt)/err(dt/2) - 2| < 0.05", "first-order Euler: the ratio is 2 + O(dt) (dt = 0.01 vs 0.005)",
          check_gaussian_flow_ode),
    Claim("fisher.dmd.symbolic", "reverse-fisher", "[L]",
          "Gaussian drift = s^2 x DMD's real-minus-fake score direction at noise s, evaluated at the clean sample",
          _EXACT, _WHY_SYM, _sym("dmd_identity")),
    Claim("fisher.dmd.numeric", "reverse-fisher", "[L]",
          "Same identity for 2-D Gaussian mixtures (posterior means vs mixture scores)",
          "rel. error < 1e-12", "float64 round-off of two independent closed forms", check_dmd_numeric),
    # --- conservativity ------------------------------------------------------------------------
    Claim("conserv.gaussian", "conservativity", "[T]",
          "The Gaussian drift is conservative (symmetric Jacobian)", "rel. asymmetry < 1e-6",
          "central differences, h = 1e-4: truncation O(h^2) ~ 1e-8 plus round-off eps/h ~ 1e-12", check_conservative("gaussian")),
    Claim("conserv.laplace", "conservativity", "[F]",
          "The normalised Laplace drift is NOT conservative (non-zero curl in 2-D)", "rel. asymmetry > 1e-3",
          "1000x above the finite-difference floor of the conservative fields", check_not_conservative),
    Claim("conserv.sharp", "conservativity", "[F, L]",
          "Laplace numerator over the companion-kernel sum (= tau grad log pi_c) is conservative",
          "rel. asymmetry < 1e-6", "finite-difference floor, as for the Gaussian", check_conservative("sharp")),
    Claim("conserv.kernel-gradient", "conservativity", "[KG]",
          "The kernel-gradient field E[grad_x k]/E[k] = grad log pi_k (Laplace) is conservative",
          "rel. asymmetry < 1e-6", "finite-difference floor, as for the Gaussian", check_conservative("kernel_gradient")),
    Claim("conserv.kernel-gradient-batch", "conservativity", "[KG]",
          "Independent implementation: driftlab.fields batch_drift(method='kernel_gradient') is conservative, "
          "the joint Laplace batch field is not", "asymmetry < 1e-5 (and > 1e-3 for the joint field)",
          "finite differences with h = 1e-5 on finite sums: floor ~1e-9", check_kernel_gradient_batch),
]


def get_claim(claim_id: str) -> Claim:
    for c in CLAIMS:
        if c.id == claim_id:
            return c
    raise KeyError(f"unknown claim {claim_id!r}; known: {', '.join(c.id for c in CLAIMS)}")


def run_claims(ids: list[str] | None = None, quick: bool = False, progress: Callable[[str], None] | None = None) -> list[ClaimResult]:
    """Run the selected claims (all, or the quick subset when ``quick``); never raises."""
    if ids:
        selected = [get_claim(i) for i in ids]
    else:
        selected = [c for c in CLAIMS if c.quick or not quick]
    results = []
    for c in selected:
        if progress:
            progress(c.id)
        t0 = time.perf_counter()
        try:
            out = c.check(quick)
        except Exception as exc:  # noqa: BLE001 - a failing check is a verdict, not a crash
            out = Outcome(float("nan"), f"{type(exc).__name__}: {exc}", "error")
        results.append(ClaimResult(c, out, time.perf_counter() - t0))
    return results
