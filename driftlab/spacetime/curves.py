r"""Curves in spacetime: energy, length, initialisations and geodesics ([S], Sec. 4).

A curve is an array ``z`` of shape (N, D + 1) of spacetime points (y, lambda). For an
exponential family the Jeffreys divergence (symmetrised KL) between neighbouring
posteriors is exactly :math:`J_n = (\eta_{n+1}-\eta_n)\cdot(\mu_{n+1}-\mu_n) \ge 0`, so

.. math::  E \approx \frac{N-1}{2}\sum_n J_n, \qquad L \approx \sum_n \sqrt{J_n},

need no SDE solve. Since :math:`J = ds^2 + O(ds^4)`, L converges to the Fisher-Rao length as
the discretisation is refined. Geodesics minimise E with fixed endpoints; curves are
compared by L (E depends on the parametrisation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.integrate import solve_ivp

from driftlab._validation import check_finite_scalar, check_int, check_nonnegative, check_positive
from driftlab.spacetime.posterior import SpacetimePosterior, _eta, _eta_jac

__all__ = [
    "jeffreys_terms",
    "curve_energy",
    "curve_length",
    "straight_curve",
    "tent_curve",
    "ode_tent_curve",
    "probability_flow_path",
    "resample_curve",
    "Geodesic",
    "geodesic",
    "best_geodesic",
]


def _check_post(post: Any) -> SpacetimePosterior:
    if not isinstance(post, SpacetimePosterior):
        raise TypeError(f"posterior must be a SpacetimePosterior, got {type(post).__name__}")
    return post


def _check_curve(post: SpacetimePosterior, z: Any, name: str = "z") -> np.ndarray:
    z = post._check(z)
    if z.shape[0] < 2:
        raise ValueError(f"{name} must have at least 2 points, got {z.shape[0]}")
    return z


def _jeffreys(post: SpacetimePosterior, z: np.ndarray) -> np.ndarray:
    eta = _eta(z)
    mu = post._moments(z, False)[0]
    return np.sum(np.diff(eta, axis=0) * np.diff(mu, axis=0), axis=1)


def jeffreys_terms(posterior: SpacetimePosterior, z: Any) -> np.ndarray:
    r"""Jeffreys divergences :math:`(\eta_{n+1}-\eta_n)\cdot(\mu_{n+1}-\mu_n)` between neighbours, shape (N-1,)."""
    post = _check_post(posterior)
    return _jeffreys(post, _check_curve(post, z))


def curve_energy(posterior: SpacetimePosterior, z: Any) -> float:
    r"""Discrete curve energy :math:`\frac{N-1}{2}\sum_n J_n` ([S], Eq. for E). Depends on the parametrisation.

    Examples
    --------
    >>> from driftlab.distributions import GaussianMixture
    >>> from driftlab.spacetime import GaussianMixturePosterior
    >>> post = GaussianMixturePosterior(GaussianMixture([[0.0]], 1.0))
    >>> curve_energy(post, [[0.0, 0.0], [0.0, 0.0]])
    0.0
    """
    post = _check_post(posterior)
    z = _check_curve(post, z)
    return float(0.5 * (z.shape[0] - 1) * np.sum(_jeffreys(post, z)))


def curve_length(posterior: SpacetimePosterior, z: Any) -> float:
    r"""Discrete Fisher-Rao length :math:`\sum_n \sqrt{J_n}` (parametrisation-free up to O(N^-2))."""
    post = _check_post(posterior)
    z = _check_curve(post, z)
    J = _jeffreys(post, z)
    if (J < -1e-9 * (1 + np.abs(J).max())).any():
        raise ValueError(f"negative Jeffreys divergence {J.min():.3g}: posterior moments are inconsistent")
    return float(np.sum(np.sqrt(np.maximum(J, 0.0))))


# ----------------------------------------------------------------------------------------
# initial curves
# ----------------------------------------------------------------------------------------
def _endpoint(z: Any, name: str) -> np.ndarray:
    arr = np.asarray(z, dtype=np.float64).ravel()
    if arr.size < 2 or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be a finite spacetime point (y_1..y_D, lambda), got {z!r}")
    return arr


def straight_curve(z_a: Any, z_b: Any, n_points: int) -> np.ndarray:
    """The straight segment from z_a to z_b in (y, lambda) coordinates, shape (n_points, D + 1)."""
    a, b = _endpoint(z_a, "z_a"), _endpoint(z_b, "z_b")
    if a.shape != b.shape:
        raise ValueError(f"z_a and z_b have different shapes {a.shape} and {b.shape}")
    n = check_int(n_points, "n_points", minimum=2)
    tau = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - tau) * a + tau * b


def tent_curve(z_a: Any, z_b: Any, n_points: int, lam_peak: float) -> np.ndarray:
    r"""A "tent": y moves linearly while lambda falls linearly to ``lam_peak`` at the midpoint and rises back."""
    a, b = _endpoint(z_a, "z_a"), _endpoint(z_b, "z_b")
    z = straight_curve(a, b, n_points)
    lp = check_finite_scalar(lam_peak, "lam_peak")
    tau = np.linspace(0.0, 1.0, z.shape[0])
    z[:, -1] = np.where(tau <= 0.5, a[-1] + (lp - a[-1]) * 2 * tau, lp + (b[-1] - lp) * (2 * tau - 1))
    return z


def probability_flow_path(posterior: SpacetimePosterior, y0: Any, lam0: float, lam1: float,
                          n_points: int, rtol: float = 1e-9) -> np.ndarray:
    r"""The probability-flow ODE trajectory through (y0, lam0), sampled at n_points lambdas in [lam0, lam1].

    In spacetime coordinates the PF-ODE of every schedule is
    :math:`dy/d\lambda = (E[x_0\mid y,\lambda] - y)/2` (VE form with :math:`\sigma^2 = e^{-\lambda}`).
    """
    post = _check_post(posterior)
    y0 = np.asarray(y0, dtype=np.float64).ravel()
    if y0.size != post.dim or not np.isfinite(y0).all():
        raise ValueError(f"y0 must be a finite point of dimension {post.dim}")
    lam0 = check_finite_scalar(lam0, "lam0")
    lam1 = check_finite_scalar(lam1, "lam1")
    n = check_int(n_points, "n_points", minimum=2)

    def rhs(lam, y):
        z = np.concatenate([y, [lam]])[None]
        return 0.5 * (post._moments(z, False)[0][0, :-1] - y)

    lams = np.linspace(lam0, lam1, n)
    if lam0 == lam1:
        return np.concatenate([np.tile(y0, (n, 1)), lams[:, None]], axis=1)
    sol = solve_ivp(rhs, (lam0, lam1), y0, t_eval=lams, rtol=rtol, atol=1e-12, method="DOP853")
    if not sol.success:
        raise RuntimeError(f"probability-flow ODE failed: {sol.message}")
    return np.concatenate([sol.y.T, lams[:, None]], axis=1)


def ode_tent_curve(posterior: SpacetimePosterior, z_a: Any, z_b: Any, n_points: int, lam_peak: float) -> np.ndarray:
    r"""Initial curve built from probability-flow ODE paths: up from z_a to ``lam_peak``, across, down to z_b.

    Each leg follows the PF-ODE (so the curve lies along the flow, as a sampler's path
    would); the two tops are joined by a straight segment at ``lam_peak``.
    """
    post = _check_post(posterior)
    a, b = _endpoint(z_a, "z_a"), _endpoint(z_b, "z_b")
    n = check_int(n_points, "n_points", minimum=5)
    lp = check_finite_scalar(lam_peak, "lam_peak")
    n_leg = max(2, (n + 2) // 3)
    up = probability_flow_path(post, a[:-1], a[-1], lp, n_leg)
    down = probability_flow_path(post, b[:-1], b[-1], lp, n_leg)[::-1]
    n_mid = n - 2 * n_leg + 2
    mid = straight_curve(up[-1], down[0], max(n_mid, 2))
    z = np.concatenate([up[:-1], mid, down[1:]], axis=0)
    return resample_curve(z, n)


def resample_curve(z: Any, n_points: int, weights: Any = None, chart: str = "z") -> np.ndarray:
    r"""Resample a polyline to n_points, equally spaced in cumulative ``weights`` (default: Euclidean arc length).

    New points are linear interpolants of their two neighbours in the chosen ``chart``:

    * ``"z"``: linear in the coordinates as given (data-space curves, or any array);
    * ``"natural"``: linear in the natural parameters :math:`\eta = (s y, -s/2)`,
      :math:`s = e^{\lambda}`, mapped back to (y, lambda) -- the exponential-family
      (e-)geodesic between neighbouring posteriors, whose densities are the normalised geometric
      means :math:`p_0^{1-u} p_1^{u}`. The inserted point's s lies between its neighbours',
      its tilt :math:`s y` between theirs, and its y is the s-weighted mean
      :math:`((1-u)s_0 y_0 + u s_1 y_1)/((1-u)s_0 + u s_1)`, so between theirs too. Linear
      interpolation in (y, lambda) lacks the tilt property: at low SNR the posterior depends on
      y only through :math:`s y`, geodesics wander far out in y there, and the interpolant
      (y, lambda) = (130, -2.5) between (260, -5) and (0, 0) has tilt 10.7 against 1.75 and 0,
      which can push a grid posterior onto its box edge. (Linear interpolation in
      (s y, lambda) fails the other way: between a high-SNR endpoint and a low-SNR point it
      overshoots y.) Use ``"natural"`` for spacetime curves, e.g. geodesic refinement.

    The weights are per segment, shape (N - 1,), finite and >= 0; with ``chart="natural"``
    the fraction u along each segment is the fraction in the chart, the endpoints are kept
    exactly. A curve of zero total weight resamples to copies of its first point.

    Raises
    ------
    ValueError
        ``z`` not a finite (N >= 1, D) array, ``weights`` of the wrong shape, non-finite or negative.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 1 or z.shape[1] < 1 or not np.isfinite(z).all():
        raise ValueError(f"z must be a finite polyline of shape (N >= 1, D), got shape {z.shape}"
                         + ("" if z.ndim != 2 or np.isfinite(z).all() else " with non-finite entries"))
    n = check_int(n_points, "n_points", minimum=2)
    if chart not in ("z", "natural"):
        raise ValueError(f"chart must be 'z' or 'natural', got {chart!r}")
    if weights is None:
        seg = np.linalg.norm(np.diff(z, axis=0), axis=1)
    else:
        seg = np.asarray(weights, dtype=np.float64)
        if seg.shape != (z.shape[0] - 1,) or not np.isfinite(seg).all() or (seg < 0).any():
            raise ValueError(f"weights must be {z.shape[0] - 1} finite non-negative per-segment weights, "
                             f"got shape {seg.shape}" + (f", min {seg.min():g}" if seg.size else ""))
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] <= 0:
        return np.tile(z[0], (n, 1))
    s /= s[-1]
    t = np.linspace(0.0, 1.0, n)
    if chart == "z":
        return np.stack([np.interp(t, s, z[:, j]) for j in range(z.shape[1])], axis=1)
    # natural chart: interpolate (s y, s); s > 0 stays positive, then y = (s y) / s
    if z.shape[1] < 2:
        raise ValueError("z must be a finite array of spacetime points, shape (N, D + 1), for chart='natural'")
    # shift lambda by its maximum so that s = exp(lambda - lam_ref) <= 1 cannot overflow
    lam_ref = z[:, -1].max()
    sc = np.exp(z[:, -1] - lam_ref)
    w = np.concatenate([sc[:, None] * z[:, :-1], sc[:, None]], axis=1)
    wi = np.stack([np.interp(t, s, w[:, j]) for j in range(w.shape[1])], axis=1)
    out = np.concatenate([wi[:, :-1] / wi[:, -1:], np.log(wi[:, -1:]) + lam_ref], axis=1)
    out[0], out[-1] = z[0], z[-1]
    return out


def _refine(post: SpacetimePosterior, z: np.ndarray, n_points: int) -> np.ndarray:
    """Resample a spacetime curve to n_points at equal Fisher-Rao steps, interpolating in the natural chart.

    Used between the levels of coarse-to-fine geodesic optimisation. Interpolating in (y, lambda)
    instead could create points whose posterior leaves a grid posterior's box (see
    :func:`resample_curve`), which made geodesics on Müller-Brown fail (Müller–Brown sweep).
    """
    J = np.sqrt(np.maximum(_jeffreys(post, z), 0.0))
    return resample_curve(z, n_points, weights=J, chart="natural")


# ----------------------------------------------------------------------------------------
# geodesic optimisation
# ----------------------------------------------------------------------------------------
def _energy_and_grad(post: SpacetimePosterior, z: np.ndarray):
    r"""E and dE/dz for all points (exact posteriors). With :math:`J_\mu = \mathrm{Cov}[T] J_\eta`,

    :math:`\partial E/\partial z_n = \frac{N-1}{2}[J_\eta^\top(2\mu_n-\mu_{n-1}-\mu_{n+1})
    + J_\eta^\top \mathrm{Cov}[T](2\eta_n-\eta_{n-1}-\eta_{n+1})]`.
    """
    N = z.shape[0]
    eta = _eta(z)
    mu, C = post._moments(z, True)
    deta, dmu = np.diff(eta, axis=0), np.diff(mu, axis=0)
    E = 0.5 * (N - 1) * np.sum(deta * dmu)
    lap_mu = np.zeros_like(mu)
    lap_eta = np.zeros_like(eta)
    lap_mu[:-1] -= dmu
    lap_mu[1:] += dmu
    lap_eta[:-1] -= deta
    lap_eta[1:] += deta
    J = _eta_jac(z)
    g = np.einsum("nai,na->ni", J, lap_mu) + np.einsum("nai,nab,nb->ni", J, C, lap_eta)
    return E, 0.5 * (N - 1) * g


@dataclass
class Geodesic:
    """Result of a geodesic optimisation.

    Attributes
    ----------
    z : ndarray, shape (N, D + 1)
        The curve (for the Adam path: the iterate of lowest energy seen).
    length, energy : float
        :func:`curve_length` and :func:`curve_energy` of ``z``.
    init : str
    n_iter : int
        Optimiser iterations (summed over the coarse-to-fine levels for L-BFGS; Adam steps).
    converged : bool
        True only when the stopping criterion named in ``message`` was met (not when the
        iteration budget ran out or a line search failed).
    message : str
    history : list of float
        Adam path: the energy of every iterate, the initial curve first; empty for L-BFGS.
    """

    z: np.ndarray
    length: float
    energy: float
    init: str
    n_iter: int
    converged: bool
    message: str = ""
    history: list = field(default_factory=list)

    @property
    def lam_min(self) -> float:
        """Lowest log-SNR reached (the highest noise level)."""
        return float(self.z[:, -1].min())


def _lbfgs(f, x0, lo, hi, max_iter, gtol, ftol=1e-13, m=20):
    """Minimal L-BFGS (two-loop recursion, Armijo backtracking, box kept by step halving).

    Pure numpy on small vectors: unlike scipy's L-BFGS-B it does not call threaded BLAS,
    which on a busy machine made each iteration ~100x slower.
    """
    x = x0.copy()
    fx, g = f(x)
    S: list = []
    Y: list = []
    small = 0
    for it in range(1, max_iter + 1):
        if np.max(np.abs(g)) <= gtol:
            return x, it - 1, True, "projected gradient below gtol"
        q = g.copy()
        alph = []
        for s_, y_ in zip(reversed(S), reversed(Y)):
            a = np.dot(s_, q) / np.dot(y_, s_)
            alph.append(a)
            q -= a * y_
        gamma = np.dot(S[-1], Y[-1]) / np.dot(Y[-1], Y[-1]) if S else 1.0 / max(1.0, np.linalg.norm(g))
        r = gamma * q
        for (s_, y_), a in zip(zip(S, Y), reversed(alph)):
            b = np.dot(y_, r) / np.dot(y_, s_)
            r += s_ * (a - b)
        d = -r
        slope = np.dot(g, d)
        if not slope < 0:
            S.clear()
            Y.clear()
            d = -g / max(1.0, np.linalg.norm(g))
            slope = np.dot(g, d)
        t = 1.0
        while True:
            xn = x + t * d
            if (xn >= lo).all() and (xn <= hi).all():
                fn, gn = f(xn)
                if np.isfinite(fn) and fn <= fx + 1e-4 * t * slope:
                    break
            t *= 0.5
            if t < 1e-16:
                return x, it, False, "line search failed"
        s_, y_ = xn - x, gn - g
        if np.dot(s_, y_) > 1e-14 * np.dot(y_, y_):
            S.append(s_)
            Y.append(y_)
            if len(S) > m:
                S.pop(0)
                Y.pop(0)
        small = small + 1 if fx - fn <= ftol * max(abs(fx), abs(fn), 1.0) else 0
        x, fx, g = xn, fn, gn
        if small >= 3:
            return x, it, True, "relative reduction of E below ftol"
    return x, max_iter, False, "max_iter reached"


def _optimise_lbfgs(post, z0, max_iter, gtol, lam_bounds, ftol=1e-13):
    """Interior points of the curve by the bounded L-BFGS of :func:`_lbfgs` (numpy), in
    coordinates preconditioned by the Fisher metric at ``z0``; returns (z, iterations,
    converged, message)."""
    N, D1 = z0.shape
    a, b = z0[0], z0[-1]
    # diagonal preconditioner: each point's coordinates scaled by 1/sqrt(diag G) at the start,
    # so that a unit step in the optimiser's variables is a unit Fisher-Rao step
    G = np.einsum("nai,nab,nbj->nij", _eta_jac(z0[1:-1]), post._moments(z0[1:-1], True)[1], _eta_jac(z0[1:-1]))
    scale = 1.0 / np.sqrt(2.0 * (N - 1) * np.maximum(np.diagonal(G, axis1=1, axis2=2), 1e-300))
    base = z0[1:-1]
    lo = np.full_like(base, -np.inf)
    hi = np.full_like(base, np.inf)
    lam_hi = min(lam_bounds[1], getattr(post, "lam_max", np.inf))
    lo[:, -1] = (lam_bounds[0] - base[:, -1]) / scale[:, -1]
    hi[:, -1] = (lam_hi - base[:, -1]) / scale[:, -1]

    def f(x):
        z = np.vstack([a, base + x.reshape(N - 2, D1) * scale, b])
        try:
            E, g = _energy_and_grad(post, z)
        except ValueError:  # e.g. left a grid posterior's box: reject the step
            return np.inf, None
        return E, (g[1:-1] * scale).ravel()

    x, nit, ok, msg = _lbfgs(f, np.zeros((N - 2) * D1), lo.ravel(), hi.ravel(), max_iter, gtol, ftol=ftol)
    z = np.vstack([a, base + x.reshape(N - 2, D1) * scale, b])
    return z, nit, ok, msg


def _optimise_torch(post, z0, max_iter, lr, seed, gtol, ftol):
    import torch

    a = torch.as_tensor(z0[:1])
    b = torch.as_tensor(z0[-1:])
    x = torch.as_tensor(z0[1:-1]).clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    gen = torch.Generator().manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: intra-op threads only add overhead (restored below)
    try:
        return _adam_loop(post, a, b, x, opt, gen, max_iter, gtol, ftol)
    finally:
        torch.set_num_threads(threads)


def torch_curve_energy(posterior: SpacetimePosterior, z, generator=None):
    """Discrete energy of a torch curve z (N, D+1), differentiable (autograd path for learned denoisers)."""
    import torch

    N = z.shape[0]
    s = torch.exp(z[:, -1])
    eta = torch.cat([s[:, None] * z[:, :-1], -0.5 * s[:, None]], dim=1)
    mu = posterior.torch_mu(z, generator=generator, create_graph=True)
    return 0.5 * (N - 1) * ((eta[1:] - eta[:-1]) * (mu[1:] - mu[:-1])).sum()


#: Adam stops (converged) when its best energy fell by at most ftol (relative) over this many steps
ADAM_WINDOW = 50


def _adam_loop(post, a, b, x, opt, gen, max_iter, gtol, ftol, window=ADAM_WINDOW):
    """Adam on the interior points; returns (best z, steps, converged, message, energies).

    Every iterate's energy is evaluated before the step that leaves it, so each recorded
    energy belongs to the curve recorded with it; the final iterate is evaluated too. Stops,
    converged, when the largest gradient entry is at most ``gtol`` or when the best energy
    decreased by at most ``ftol * max(|E|, 1)`` over the last ``window`` steps; otherwise
    reports ``max_iter`` reached (or a non-finite energy) as not converged.
    """
    import torch

    best_e, best_z = math.inf, None
    history: list[float] = []
    best_trace: list[float] = []
    for it in range(max_iter + 1):
        opt.zero_grad()
        z = torch.cat([a, x, b], dim=0)
        E = torch_curve_energy(post, z, gen)
        e = float(E.item())
        history.append(e)
        if not math.isfinite(e):
            if best_z is None:
                raise ValueError("the initial curve has a non-finite energy")
            return best_z, it, False, f"non-finite energy at step {it}", history
        if e < best_e:
            best_e, best_z = e, z.detach().numpy().copy()
        best_trace.append(best_e)
        if it == max_iter:
            break
        E.backward()
        gmax = float(x.grad.abs().max()) if x.numel() else 0.0
        if gmax <= gtol:
            return best_z, it, True, f"largest gradient entry {gmax:.3g} <= gtol", history
        if it >= window and best_trace[it - window] - best_e <= ftol * max(abs(best_e), 1.0):
            return best_z, it, True, f"relative reduction of the best E over {window} steps below ftol", history
        opt.step()
    return best_z, max_iter, False, f"max_iter = {max_iter} steps reached", history


def geodesic(posterior: SpacetimePosterior, z_a: Any, z_b: Any, n_points: int = 64, init: Any = "straight",
             lam_peak: float | None = None, max_iter: int = 2000, gtol: float = 1e-9,
             lr: float = 0.01, seed: int = 0, multiscale: bool = True,
             lam_bounds: tuple[float, float] = (-30.0, 30.0), ftol: float = 1e-13) -> Geodesic:
    r"""Minimise the discrete energy with fixed endpoints z_a, z_b ([S]: geodesics of G).

    Exact posteriors (``has_cov``) use L-BFGS with the analytic gradient
    (:func:`_energy_and_grad`); others (:class:`DenoiserPosterior`) use Adam with autograd
    (learning rate ``lr``, fresh Hutchinson probes from ``seed`` at every step) and return
    the iterate of lowest energy seen (with ``divergence="hutchinson"`` that choice is made
    on the per-step stochastic estimates; ``energy`` is recomputed for the returned curve).

    Parameters
    ----------
    init : {"straight", "tent", "ode"} or array of shape (n_points, D + 1)
        Initial curve; "tent" and "ode" rise to ``lam_peak`` (default: min endpoint lambda - 4).
    max_iter : int
        Iteration budget (per coarse-to-fine level for L-BFGS; Adam steps).
    gtol : float
        Converged when the largest gradient entry is at most gtol (L-BFGS: in its
        Fisher-Rao-scaled variables; Adam: dE/dz itself).
    ftol : float
        L-BFGS: converged after 3 consecutive iterations whose relative energy decrease is
        below ftol. Adam: converged when the best energy fell by at most ftol (relative) over
        the last :data:`ADAM_WINDOW` steps. Running out of ``max_iter`` is reported as not
        converged.

    Returns
    -------
    Geodesic
        Points, discrete length, energy, iterations and convergence flag.

    Examples
    --------
    >>> from driftlab.distributions import GaussianMixture
    >>> from driftlab.spacetime import GaussianMixturePosterior
    >>> post = GaussianMixturePosterior(GaussianMixture([[0.0]], 1.0))
    >>> g = geodesic(post, [-0.5, 4.0], [0.5, 4.0], n_points=64)
    >>> round(g.length, 2)  # closed form 4.7510 (hyperbolic oracle)
    4.75
    """
    post = _check_post(posterior)
    a = post._check(_endpoint(z_a, "z_a")[None])[0]
    b = post._check(_endpoint(z_b, "z_b")[None])[0]
    if hasattr(post, "check_inside"):  # tabulated posteriors: endpoints must lie on the grid
        post.check_inside(a[None, :-1], "z_a")
        post.check_inside(b[None, :-1], "z_b")
    n = check_int(n_points, "n_points", minimum=3)
    lp = min(a[-1], b[-1]) - 4.0 if lam_peak is None else check_finite_scalar(lam_peak, "lam_peak")
    if isinstance(init, str):
        if init == "straight":
            z0 = straight_curve(a, b, n)
        elif init == "tent":
            z0 = tent_curve(a, b, n, lp)
        elif init == "ode":
            z0 = ode_tent_curve(post, a, b, n, lp)
        else:
            raise ValueError(f"init must be 'straight', 'tent', 'ode' or an array, got {init!r}")
        name = init
    else:
        z0 = np.array(init, dtype=np.float64)
        if z0.shape != (n, post.dim + 1):
            raise ValueError(f"init array must have shape {(n, post.dim + 1)}, got {z0.shape}")
        z0[0], z0[-1] = a, b
        name = "given"
    post._check(z0)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    gtol = check_positive(gtol, "gtol")
    ftol = check_nonnegative(ftol, "ftol")
    history: list = []
    if post.has_cov:
        # coarse-to-fine: solve on 9, 17, 33, ... points, resampling at equal Fisher-Rao
        # spacing, so that L-BFGS only has to remove high-frequency error at each level
        levels = [n]
        while multiscale and levels[-1] > 12:
            levels.append((levels[-1] + 1) // 2)
        levels = levels[::-1]
        z = resample_curve(z0, levels[0]) if levels[0] != n else z0
        nit = 0
        for k, m in enumerate(levels):
            if k > 0:
                z = _refine(post, z, m)
            z, it, ok, msg = _optimise_lbfgs(post, z, max_iter, gtol, lam_bounds, ftol)
            nit += it
    else:
        z, nit, ok, msg, history = _optimise_torch(post, z0, max_iter, check_positive(lr, "lr"),
                                                   check_int(seed, "seed"), gtol, ftol)
    return Geodesic(z=z, length=curve_length(post, z), energy=curve_energy(post, z), init=name,
                    n_iter=nit, converged=ok, message=msg, history=history)


def best_geodesic(posterior: SpacetimePosterior, z_a: Any, z_b: Any, n_points: Any = (17, 33, 65),
                  inits: Any = ("straight", "tent", "ode"), lam_peak: float | None = None,
                  max_iter: int = 2000) -> tuple[Geodesic, list[dict]]:
    """Geodesics from several initialisations, refined over increasing point counts.

    For each init the curve is optimised at ``n_points[0]``, resampled (equal Fisher-Rao
    spacing) to the next count and re-optimised. Returns the shortest final geodesic and a
    table (list of dicts: init, n_points, length, energy, n_iter, converged, lam_min,
    length_extrapolated) that shows convergence in the number of points; the discrete length
    converges as :math:`O(N^{-2})`, so ``length_extrapolated`` (Richardson from the previous
    count) is the best estimate of the continuum geodesic length.

    Parameters
    ----------
    n_points : int or sequence of int
        Point counts, each >= 3, strictly increasing (coarse to fine).
    inits : sequence of {"straight", "tent", "ode"}
        At least one initialisation.
    lam_peak, max_iter
        As in :func:`geodesic`.

    Raises
    ------
    ValueError
        ``n_points`` empty, below 3, repeated or not increasing; ``inits`` empty.
    TypeError
        A point count that is not an integer.
    """
    post = _check_post(posterior)
    counts = _check_counts(n_points)
    inits = _check_inits(inits)
    table: list[dict] = []
    best: Geodesic | None = None
    for init in inits:
        g = None
        for n in counts:
            if g is None:
                g = geodesic(post, z_a, z_b, n, init=init, lam_peak=lam_peak, max_iter=max_iter)
            else:
                z0 = _refine(post, g.z, n)
                g = geodesic(post, z_a, z_b, n, init=z0, max_iter=max_iter)
                g.init = init
            row = {"init": init, "n_points": n, "length": g.length, "energy": g.energy,
                   "n_iter": g.n_iter, "converged": g.converged, "lam_min": g.lam_min,
                   "length_extrapolated": float("nan")}
            if table and table[-1]["init"] == init:
                # discretisation error of the sqrt-Jeffreys length is O((N-1)^-2): Richardson
                prev = table[-1]
                r2 = ((n - 1) / (prev["n_points"] - 1)) ** 2
                row["length_extrapolated"] = g.length + (g.length - prev["length"]) / (r2 - 1)
            table.append(row)
        if best is None or g.length < best.length:
            best = g
    return best, table


def _check_counts(n_points: Any) -> list[int]:
    """Point counts of a coarse-to-fine refinement: integers >= 3, strictly increasing."""
    arr = np.atleast_1d(np.asarray(n_points, dtype=object))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"n_points must be a non-empty sequence of point counts, got {n_points!r}")
    counts = [check_int(c, "n_points", minimum=3) for c in arr]
    if any(b <= a for a, b in zip(counts, counts[1:])):
        # Richardson extrapolation between equal counts divides by zero; fewer points are no refinement
        raise ValueError(f"n_points must be strictly increasing (coarse to fine), got {counts}")
    return counts


def _check_inits(inits: Any) -> list:
    if isinstance(inits, str):
        inits = [inits]
    inits = list(inits)
    if not inits:
        raise ValueError("inits must name at least one initialisation ('straight', 'tent', 'ode')")
    return inits
