r"""Denoising posteriors indexed by spacetime points z = (y, lambda) ([S], Sec. 3).

The posterior :math:`p(x_0 \mid z) \propto q(x_0)\exp(-e^{\lambda}|x_0-y|^2/2)` is an
exponential family with natural parameter :math:`\eta(z) = (s\,y, -s/2)`, :math:`s = e^{\lambda}`,
sufficient statistic :math:`T(x_0) = (x_0, |x_0|^2)` and expectation parameter
:math:`\mu(z) = (E[x_0\mid z], E[|x_0|^2\mid z])`. Its Fisher-Rao metric pulled back to z is

.. math::  G(z) = J_\eta^\top \frac{\partial\mu}{\partial z} = J_\eta^\top\,\mathrm{Cov}[T\mid z]\,J_\eta,
           \qquad J_\eta = \begin{pmatrix} sI & s\,y \\ 0 & -s/2 \end{pmatrix},

(the second form because :math:`\partial\mu/\partial\eta = \mathrm{Cov}[T]` in an exponential
family). Arrays of spacetime points have shape ``(n, D + 1)``: columns ``0..D-1`` are y and
the last column is lambda.

Posteriors provided here:

* :class:`GaussianMixturePosterior` -- exact for Gaussian-mixture data in any D (closed-form
  mixture posterior, hence exact mu and Cov[T]).
* :class:`GridPosterior` -- exact up to quadrature for a density (e.g. a Boltzmann target
  :math:`q \propto e^{-\beta U}`) tabulated on a regular grid in low dimension.
* :class:`DenoiserPosterior` -- any callable x0-predictor (a trained model): mu from
  Tweedie and second-order Tweedie, :math:`E|x_0|^2 = \nabla_y\!\cdot\!D/s + |D|^2`, with the
  divergence exact (D backward passes) or by Hutchinson's estimator; torch autograd.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
from scipy import special as sp

from driftlab._validation import check_int, check_points, check_positive
from driftlab.distributions import GaussianMixture, as_generator
from driftlab.spacetime.schedules import VE, FlowMatching, NoiseSchedule, VPLinearBeta, VPLogLinear

__all__ = [
    "SpacetimePosterior",
    "GaussianMixturePosterior",
    "GridPosterior",
    "DenoiserPosterior",
    "natural_parameters",
    "eta_jacobian",
]

_LOG_2PI = math.log(2.0 * math.pi)


# ----------------------------------------------------------------------------------------
# eta and its Jacobian (closed forms, shared by every posterior)
# ----------------------------------------------------------------------------------------
def _eta(z: np.ndarray) -> np.ndarray:
    s = np.exp(z[:, -1])
    return np.concatenate([s[:, None] * z[:, :-1], -0.5 * s[:, None]], axis=1)


def _eta_jac(z: np.ndarray) -> np.ndarray:
    n, D1 = z.shape
    s = np.exp(z[:, -1])
    J = np.zeros((n, D1, D1))
    idx = np.arange(D1 - 1)
    J[:, idx, idx] = s[:, None]
    J[:, :-1, -1] = s[:, None] * z[:, :-1]
    J[:, -1, -1] = -0.5 * s
    return J


def _check_z(z: Any, dim: int | None = None, name: str = "z") -> np.ndarray:
    z = check_points(z, name, dim=None if dim is None else dim + 1)
    z = np.asarray(z, dtype=np.float64)
    if z.shape[1] < 2:
        raise ValueError(f"{name} must have shape (n, D + 1) with D >= 1 (last column lambda), got {z.shape}")
    if (np.abs(z[:, -1]) > 700).any():
        raise ValueError(f"{name}: lambda = log SNR must lie in [-700, 700] (exp overflows), got {z[:, -1].max()}")
    return z


def natural_parameters(z: Any) -> np.ndarray:
    r"""Natural parameters :math:`\eta(z) = (e^{\lambda} y, -e^{\lambda}/2)`, shape (n, D + 1).

    Examples
    --------
    >>> natural_parameters([[1.0, 0.0]])
    array([[ 1. , -0.5]])
    """
    return _eta(_check_z(z))


def eta_jacobian(z: Any) -> np.ndarray:
    r""":math:`J_\eta = \partial\eta/\partial z`, shape (n, D + 1, D + 1) (rows: eta, columns: z)."""
    return _eta_jac(_check_z(z))


# ----------------------------------------------------------------------------------------
# base class
# ----------------------------------------------------------------------------------------
class SpacetimePosterior:
    """A family of denoising posteriors p(x0 | z) over spacetime points z = (y, lambda).

    Subclasses implement ``_moments(z, need_cov)`` returning ``mu`` (n, D+1) and, when
    ``need_cov`` and ``has_cov``, ``Cov[T]`` (n, D+1, D+1).
    """

    dim: int
    has_cov: bool = True  # exact Cov[T] (and hence an analytic energy gradient) available

    def _moments(self, z: np.ndarray, need_cov: bool):  # pragma: no cover - abstract
        raise NotImplementedError

    def _check(self, z: Any) -> np.ndarray:
        return _check_z(z, self.dim)

    # --- public, validating ---------------------------------------------------------
    def eta(self, z: Any) -> np.ndarray:
        """Natural parameters, shape (n, D + 1)."""
        return _eta(self._check(z))

    def mu(self, z: Any) -> np.ndarray:
        r"""Expectation parameters :math:`(E[x_0|z], E[|x_0|^2|z])`, shape (n, D + 1)."""
        return self._moments(self._check(z), False)[0]

    def denoise(self, z: Any) -> np.ndarray:
        r"""Posterior mean :math:`E[x_0 \mid z]`, shape (n, D) (the ideal denoiser)."""
        return self.mu(z)[:, :-1]

    def cov_T(self, z: Any) -> np.ndarray:
        r""":math:`\mathrm{Cov}[T(x_0) \mid z]`, shape (n, D + 1, D + 1)."""
        if not self.has_cov:
            raise NotImplementedError(f"{type(self).__name__} has no closed-form Cov[T]; use metric(form='jacobian')")
        return self._moments(self._check(z), True)[1]

    def mu_jacobian(self, z: Any, step: float = 1e-4) -> np.ndarray:
        r""":math:`\partial\mu/\partial z` by 4th-order central differences, shape (n, D+1, D+1).

        Independent of Cov[T]: used for the first form of the metric. Truncation error
        :math:`O(h^4)`, round-off :math:`O(\epsilon|\mu|/h)`.
        """
        z = self._check(z)
        h = check_positive(step, "step")
        n, D1 = z.shape
        J = np.empty((n, D1, D1))
        for j in range(D1):
            e = np.zeros(D1)
            e[j] = h
            f = [self._moments(z + c * e, False)[0] for c in (-2, -1, 1, 2)]
            J[:, :, j] = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h)
        return J

    def metric(self, z: Any, form: str = "cov") -> np.ndarray:
        r"""Fisher-Rao metric G(z), shape (n, D + 1, D + 1).

        ``form="cov"``: :math:`J_\eta^\top \mathrm{Cov}[T] J_\eta` (posterior moments only);
        ``form="jacobian"``: :math:`J_\eta^\top\,\partial\mu/\partial z` with the Jacobian of mu
        by finite differences (autograd for :class:`DenoiserPosterior`), symmetrised.
        """
        z = self._check(z)
        J = _eta_jac(z)
        if form == "cov":
            C = self.cov_T(z)
            return np.einsum("nai,nab,nbj->nij", J, C, J)
        if form == "jacobian":
            M = self.mu_jacobian(z)
            G = np.einsum("nai,naj->nij", J, M)
            return 0.5 * (G + np.swapaxes(G, 1, 2))
        raise ValueError(f"form must be 'cov' or 'jacobian', got {form!r}")


# ----------------------------------------------------------------------------------------
# Gaussian-mixture data (exact, any D)
# ----------------------------------------------------------------------------------------
class GaussianMixturePosterior(SpacetimePosterior):
    r"""Exact spacetime posteriors of Gaussian-mixture data :math:`q = \sum_k w_k N(m_k, \Sigma_k)`.

    With :math:`v = e^{-\lambda}` and :math:`\Sigma_k = Q_k \mathrm{diag}(e_k) Q_k^\top`, the
    posterior is the mixture with weights :math:`\propto w_k N(y; m_k, \Sigma_k + vI)`, means
    :math:`m_k + \Sigma_k(\Sigma_k+vI)^{-1}(y-m_k)` and covariances
    :math:`C_k = Q_k\,\mathrm{diag}(e_k v/(e_k+v))\,Q_k^\top` (as
    :meth:`GaussianMixture.gaussian_posterior`, vectorised over per-point noise levels).
    Per component, :math:`\mathrm{Cov}[x_0,|x_0|^2] = 2C\bar m` and
    :math:`\mathrm{Var}|x_0|^2 = 2\,\mathrm{tr}\,C^2 + 4\bar m^\top C\bar m`; the mixture adds the
    between-component spread. [S]

    Examples
    --------
    >>> from driftlab.distributions import GaussianMixture
    >>> post = GaussianMixturePosterior(GaussianMixture([[0.0]], 1.0))
    >>> post.mu([[1.0, 0.0]])  # SNR 1: mean y/2, E x^2 = 1/2 + 1/4
    array([[0.5 , 0.75]])
    """

    def __init__(self, data: GaussianMixture) -> None:
        if not isinstance(data, GaussianMixture):
            raise TypeError(f"data must be a driftlab GaussianMixture, got {type(data).__name__}")
        self.data = data
        self.dim = data.dim
        e, Q = np.linalg.eigh(data.covariances)  # (K, d), (K, d, d)
        self._e = np.maximum(e, 0.0)
        self._Q = Q
        self._mr = np.einsum("kij,ki->kj", Q, data.means)  # Q^T m
        self._logw = np.log(data.weights)

    def __repr__(self) -> str:
        return f"GaussianMixturePosterior({self.data!r})"

    def _components(self, z: np.ndarray):
        y, lam = z[:, :-1], z[:, -1]
        v = np.exp(-lam)[:, None, None]
        yr = np.einsum("kij,ni->nkj", self._Q, y)
        r = yr - self._mr[None]
        den = self._e[None] + v
        logp = self._logw[None] - 0.5 * np.sum(_LOG_2PI + np.log(den) + r * r / den, axis=-1)
        logpi = logp - sp.logsumexp(logp, axis=1, keepdims=True)
        mrot = self._mr[None] + (self._e[None] / den) * r  # component means, rotated
        c = self._e[None] * v / den  # component covariance eigenvalues
        return np.exp(logpi), mrot, c

    def _moments(self, z: np.ndarray, need_cov: bool):
        pi, mrot, c = self._components(z)
        m = np.einsum("kij,nkj->nki", self._Q, mrot)  # back to data coordinates
        sq = np.sum(mrot * mrot, axis=-1) + np.sum(c, axis=-1)  # E_k |x|^2
        Tk = np.concatenate([m, sq[..., None]], axis=-1)  # (n, K, D+1)
        mu = np.einsum("nk,nka->na", pi, Tk)
        if not need_cov:
            return mu, None
        n, K, d = m.shape
        Ck = np.einsum("kij,nkj,klj->nkil", self._Q, c, self._Q)  # (n, K, d, d)
        cm = np.einsum("kij,nkj->nki", self._Q, c * mrot)  # C m
        within = np.zeros((n, K, d + 1, d + 1))
        within[..., :d, :d] = Ck
        within[..., :d, d] = 2 * cm
        within[..., d, :d] = 2 * cm
        within[..., d, d] = 2 * np.sum(c * c, axis=-1) + 4 * np.sum(mrot * c * mrot, axis=-1)
        dev = Tk - mu[:, None, :]
        cov = np.einsum("nk,nkab->nab", pi, within) + np.einsum("nk,nka,nkb->nab", pi, dev, dev)
        return mu, 0.5 * (cov + np.swapaxes(cov, 1, 2))


# ----------------------------------------------------------------------------------------
# tabulated densities (Boltzmann targets on a grid)
# ----------------------------------------------------------------------------------------
class GridPosterior(SpacetimePosterior):
    r"""Posteriors of a density tabulated on a regular grid (1-D or 2-D; exact up to quadrature).

    :math:`p(x_0 = x_g \mid z) \propto q_g \exp(-e^{\lambda}|x_g - y|^2/2)` over the grid nodes
    :math:`x_g`; mu and Cov[T] are weighted sums. For a Boltzmann target pass
    ``log_density = -beta * U`` (see :meth:`from_energy`). The restraint width
    :math:`e^{-\lambda/2}` must be at least ``min_resolution`` grid spacings (else ValueError:
    the posterior would be under-resolved), and the posterior may put at most ``edge_tol`` of
    its mass on the box's edge nodes (else ValueError: the box truncates it). Restraint
    centres y may lie outside the box; geodesic endpoints may not.

    Parameters
    ----------
    axes : sequence of 1-D arrays
        Increasing, equally spaced node coordinates per dimension.
    log_density : array_like, shape (len(axes[0]), ..., len(axes[-1]))
        Unnormalised log-density at the nodes (``indexing="ij"``); must be finite.
    """

    def __init__(self, axes: Any, log_density: Any, min_resolution: float = 1.0, chunk: int = 2_000_000,
                 edge_tol: float = 1e-4) -> None:
        if isinstance(axes, np.ndarray) and axes.ndim == 1:
            axes = [axes]
        axes = [np.asarray(a, dtype=np.float64) for a in axes]
        if not 1 <= len(axes) <= 3:
            raise ValueError(f"axes must describe a 1-, 2- or 3-D grid, got {len(axes)} axes")
        self.spacing = []
        for i, a in enumerate(axes):
            if a.ndim != 1 or a.size < 3 or not np.isfinite(a).all():
                raise ValueError(f"axes[{i}] must be a finite 1-D array with >= 3 nodes")
            dif = np.diff(a)
            if (dif <= 0).any() or not np.allclose(dif, dif[0], rtol=1e-8):
                raise ValueError(f"axes[{i}] must be increasing and equally spaced")
            self.spacing.append(float(dif[0]))
        logq = np.asarray(log_density, dtype=np.float64)
        shape = tuple(a.size for a in axes)
        if logq.shape != shape:
            raise ValueError(f"log_density must have shape {shape}, got {logq.shape}")
        if not np.isfinite(logq).all():
            bad = int((~np.isfinite(logq)).sum())
            raise ValueError(f"log_density (energies) contains {bad} non-finite values: NaN/inf energies are not allowed")
        self.axes = axes
        self.dim = len(axes)
        self.lo = np.array([a[0] for a in axes])
        self.hi = np.array([a[-1] for a in axes])
        mesh = np.meshgrid(*axes, indexing="ij")
        self.nodes = np.stack([m.ravel() for m in mesh], axis=1)  # (G, d)
        self.log_q = logq.ravel() - logq.max()
        self._sq = np.sum(self.nodes**2, axis=1)
        self._T_centre = np.concatenate([self.nodes.mean(axis=0), [self._sq.mean()]])
        self.min_resolution = check_positive(min_resolution, "min_resolution")
        self.edge_tol = check_positive(edge_tol, "edge_tol")
        #: largest lambda whose restraint width exp(-lambda/2) spans min_resolution grid spacings
        self.lam_max = -2.0 * math.log(self.min_resolution * max(self.spacing))
        self.chunk = check_int(chunk, "chunk", minimum=1)

    @staticmethod
    def resolvable_lambda(lo: Any, hi: Any, n: Any, min_resolution: float = 1.0) -> float:
        r"""The ``lam_max`` of a grid on [lo, hi] with n nodes per axis, without building it.

        :math:`\lambda_{max} = -2 \log(r\, h_{max})`, :math:`h_{max}` the largest node spacing
        :math:`(hi - lo) / (n - 1)` and ``r = min_resolution``: the largest lambda whose restraint
        width :math:`e^{-\lambda/2}` spans ``r`` grid spacings (what :meth:`log_weights` accepts).

        >>> round(GridPosterior.resolvable_lambda([0.0], [1.0], 101), 4)
        9.2103
        """
        lo, hi = np.atleast_1d(np.asarray(lo, dtype=np.float64)), np.atleast_1d(np.asarray(hi, dtype=np.float64))
        nn = np.broadcast_to(np.asarray(n), lo.shape)
        spacing = max(float(np.linspace(lo[i], hi[i], check_int(int(nn[i]), "n", minimum=3))[1] - lo[i])
                      for i in range(lo.size))
        return -2.0 * math.log(check_positive(min_resolution, "min_resolution") * spacing)

    @classmethod
    def from_energy(cls, energy: Callable[[np.ndarray], np.ndarray], beta: float, lo: Any, hi: Any,
                    n: Any, **kw: Any) -> "GridPosterior":
        r"""Boltzmann target :math:`q \propto e^{-\beta U}` on the box [lo, hi] with n nodes per axis."""
        beta = check_positive(beta, "beta")
        lo = np.atleast_1d(np.asarray(lo, dtype=np.float64))
        hi = np.atleast_1d(np.asarray(hi, dtype=np.float64))
        nn = np.broadcast_to(np.asarray(n), lo.shape)
        axes = [np.linspace(lo[i], hi[i], check_int(int(nn[i]), "n", minimum=3)) for i in range(lo.size)]
        mesh = np.meshgrid(*axes, indexing="ij")
        pts = np.stack([m.ravel() for m in mesh], axis=1)
        U = np.asarray(energy(pts), dtype=np.float64).reshape(mesh[0].shape)
        if not np.isfinite(U).all():
            raise ValueError("energy returned non-finite values on the grid (NaN/inf energies are not allowed)")
        return cls(axes, -beta * U, **kw)

    def __repr__(self) -> str:
        return f"GridPosterior(shape={tuple(a.size for a in self.axes)}, box={self.lo.tolist()}..{self.hi.tolist()})"

    def _check(self, z: Any) -> np.ndarray:
        z = _check_z(z, self.dim)
        width = np.exp(-0.5 * z[:, -1])
        h = max(self.spacing)
        if (width < self.min_resolution * h).any():
            lam_max = -2 * math.log(self.min_resolution * h)
            raise ValueError(f"z: lambda = {z[:, -1].max():.3g} exceeds {lam_max:.3g}: the restraint width "
                             f"exp(-lambda/2) is below {self.min_resolution} grid spacing(s) {h:.3g}; refine the grid")
        self._edge_check(z)
        return z

    def check_inside(self, y: Any, name: str = "y") -> None:
        """Raise ValueError unless the points y (n, D) lie inside the grid box (used for endpoints)."""
        y = np.atleast_2d(np.asarray(y, dtype=np.float64))
        out = (y < self.lo - 1e-12) | (y > self.hi + 1e-12)
        if out.any():
            i = int(np.argmax(out.any(axis=1)))
            raise ValueError(f"{name} = {y[i].tolist()} lies outside the grid box [{self.lo.tolist()}, {self.hi.tolist()}]")

    def _edge_check(self, z: np.ndarray) -> None:
        """Raise if the posterior puts more than ``edge_tol`` of its mass on the grid's edge nodes.

        Restraint centres y may lie outside the box (at low SNR geodesics wander far in y);
        what matters for the quadrature is that the posterior mass stays inside the box.
        """
        lw = self._logw(z).reshape((z.shape[0],) + tuple(a.size for a in self.axes))
        w = np.exp(lw)
        edge = np.zeros(z.shape[0])
        for ax in range(1, self.dim + 1):
            edge += np.take(w, 0, axis=ax).reshape(z.shape[0], -1).sum(1)
            edge += np.take(w, -1, axis=ax).reshape(z.shape[0], -1).sum(1)
        if (edge > self.edge_tol).any():
            i = int(np.argmax(edge))
            raise ValueError(f"z[{i}] = {z[i].tolist()}: the posterior puts mass {edge[i]:.2g} > edge_tol = "
                             f"{self.edge_tol:g} on the edge of the grid box (y lies outside the grid or the "
                             f"box is too small for this target); enlarge the box")

    def log_weights(self, z: Any) -> np.ndarray:
        """Normalised log posterior weights on the grid nodes, shape (n, G)."""
        z = self._check(z)
        return self._logw(z)

    def _logw(self, z: np.ndarray) -> np.ndarray:
        # elementwise (no BLAS: threaded BLAS on tiny products is slow on a busy machine)
        s = np.exp(z[:, -1])
        d2 = np.zeros((z.shape[0], self.nodes.shape[0]))
        for j in range(self.dim):
            d2 += (self.nodes[None, :, j] - z[:, j, None]) ** 2
        lw = self.log_q[None, :] - 0.5 * s[:, None] * d2
        return lw - sp.logsumexp(lw, axis=1, keepdims=True)

    def _moments(self, z: np.ndarray, need_cov: bool):
        if self.dim == 2:
            out = self._moments_2d(z, need_cov)
            if out is not None:
                return out
        self._edge_check(z)  # the separable path checks this itself
        return self._moments_dense(z, need_cov)

    def _moments_2d(self, z: np.ndarray, need_cov: bool):
        r"""Separable evaluation on a 2-D tensor grid: :math:`w_{ij} \propto q_{ij} a_i b_j`.

        With the restraint factors :math:`a_i = e^{-s(x_i-y_1)^2/2}`, :math:`b_j = e^{-s(x_j-y_2)^2/2}`,
        every raw moment :math:`\sum_{ij} q_{ij}\,x_i^p a_i\,y_j^q b_j` is one matrix product;
        coordinates are centred at the box centre c and mu, Cov[T] mapped back linearly.
        Returns None (-> dense path) if the total weight underflows.
        """
        ax, ay = self.axes
        c1, c2 = 0.5 * (ax[0] + ax[-1]), 0.5 * (ay[0] + ay[-1])
        xs, ys = ax - c1, ay - c2
        s = np.exp(z[:, -1])[:, None]
        la = -0.5 * s * (ax[None, :] - z[:, 0:1]) ** 2
        lb = -0.5 * s * (ay[None, :] - z[:, 1:2]) ** 2
        a = np.exp(la - la.max(axis=1, keepdims=True))
        b = np.exp(lb - lb.max(axis=1, keepdims=True))
        if not hasattr(self, "_Q2"):
            self._Q2 = np.exp(self.log_q.reshape(ax.size, ay.size))
        pmax = 4 if need_cov else 2
        n = z.shape[0]
        A = np.concatenate([a * xs[None, :] ** p for p in range(pmax + 1)], axis=0)  # ((pmax+1) n, nx)
        AQ = (A @ self._Q2).reshape(pmax + 1, n, ay.size)
        M = {}
        for p in range(pmax + 1):
            for q in range(pmax + 1 - p):
                M[p, q] = np.einsum("nj,nj->n", AQ[p], b * ys[None, :] ** q)
        Z = M[0, 0]
        if not (Z > 1e-250).all():
            return None
        edge = (a[:, 0] * (self._Q2[0] @ b.T) + a[:, -1] * (self._Q2[-1] @ b.T)
                + b[:, 0] * (a @ self._Q2[:, 0]) + b[:, -1] * (a @ self._Q2[:, -1])) / Z
        if (edge > self.edge_tol).any():
            self._edge_check(z)  # raises with a full message
        for k in M:
            M[k] = M[k] / Z
        mx, my = M[1, 0], M[0, 1]
        rho = M[2, 0] + M[0, 2]
        c = np.array([c1, c2])
        mu = np.stack([mx + c1, my + c2, rho + 2 * (c1 * mx + c2 * my) + c @ c], axis=1)
        if not need_cov:
            return mu, None
        C = np.empty((n, 3, 3))
        C[:, 0, 0] = M[2, 0] - mx * mx
        C[:, 1, 1] = M[0, 2] - my * my
        C[:, 0, 1] = C[:, 1, 0] = M[1, 1] - mx * my
        C[:, 0, 2] = C[:, 2, 0] = M[3, 0] + M[1, 2] - mx * rho
        C[:, 1, 2] = C[:, 2, 1] = M[2, 1] + M[0, 3] - my * rho
        C[:, 2, 2] = M[4, 0] + 2 * M[2, 2] + M[0, 4] - rho * rho
        L = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [2 * c1, 2 * c2, 1.0]])
        return mu, np.einsum("ia,nab,jb->nij", L, C, L)

    def _moments_dense(self, z: np.ndarray, need_cov: bool):
        n, D1 = z.shape
        G = self.nodes.shape[0]
        step = max(1, self.chunk // G)
        mu = np.empty((n, D1))
        cov = np.empty((n, D1, D1)) if need_cov else None
        T = np.concatenate([self.nodes, self._sq[:, None]], axis=1)  # (G, D+1)
        for i0 in range(0, n, step):
            w = np.exp(self._logw(z[i0:i0 + step]))
            m = np.einsum("ng,ga->na", w, T)
            mu[i0:i0 + step] = m
            if need_cov:
                # E[T T^T] - mu mu^T, with T centred at the grid's mean statistic to limit cancellation
                Tc = T - self._T_centre
                mc = m - self._T_centre
                second = np.einsum("ng,ga,gb->nab", w, Tc, Tc)
                cov[i0:i0 + step] = second - mc[:, :, None] * mc[:, None, :]
        return mu, cov

    def sample(self, z: Any, n_samples: int, rng: Any = None) -> np.ndarray:
        """Draw grid nodes from p(x0 | z) for a single z; shape (n_samples, D)."""
        z = self._check(z)
        if z.shape[0] != 1:
            raise ValueError("sample takes a single spacetime point z of shape (1, D + 1)")
        gen = as_generator(rng)
        p = np.exp(self._logw(z)[0])
        return self.nodes[gen.choice(p.size, size=check_int(n_samples, "n_samples", minimum=0), p=p / p.sum())]


# ----------------------------------------------------------------------------------------
# learned denoisers (torch; imported lazily)
# ----------------------------------------------------------------------------------------
class DenoiserPosterior(SpacetimePosterior):
    r"""Spacetime geometry of any x0-predictor :math:`\hat x_0 = D(y, \lambda)` (e.g. a trained model).

    Tweedie gives :math:`\mu_{1:D} = D(y,\lambda)`; second-order Tweedie
    :math:`\mathrm{Cov}[x_0|z] = e^{-\lambda}\,\partial D/\partial y` gives
    :math:`\mu_{D+1} = e^{-\lambda}\,\nabla_y\!\cdot D + |D|^2`. The divergence is exact
    (``divergence="exact"``, D vector-Jacobian products) or Hutchinson's unbiased estimate
    :math:`E_v[v^\top (\partial D/\partial y) v]` with ``n_probes`` Rademacher probes
    (``"hutchinson"``). Cov[T] needs third and fourth posterior moments that a denoiser does not
    provide, so the metric uses the Jacobian form with autograd and geodesics use autograd.

    Parameters
    ----------
    denoiser : callable
        ``denoiser(y, lam)`` with torch tensors y of shape (n, D) and lam of shape (n,),
        returning (n, D); must be differentiable in y and lam.
    dim : int
        Data dimension D.
    """

    has_cov = False

    def __init__(self, denoiser: Callable, dim: int, divergence: str = "exact", n_probes: int = 16,
                 seed: int = 0, dtype: Any = None) -> None:
        if not callable(denoiser):
            raise TypeError("denoiser must be callable: denoiser(y, lam) -> x0_hat")
        self.denoiser = denoiser
        self.dim = check_int(dim, "dim", minimum=1)
        if divergence not in ("exact", "hutchinson"):
            raise ValueError(f"divergence must be 'exact' or 'hutchinson', got {divergence!r}")
        self.divergence = divergence
        self.n_probes = check_int(n_probes, "n_probes", minimum=1)
        self.seed = check_int(seed, "seed")
        self._dtype = dtype

    @classmethod
    def from_schedule(cls, model: Callable, schedule: Any, dim: int, **kw: Any) -> "DenoiserPosterior":
        r"""Wrap a model ``model(x_t, t) -> x0_hat`` trained in a schedule's native coordinates.

        The boundary conversion is :math:`t = t(\lambda)`, :math:`x_t = \alpha_t y`.
        """
        if not isinstance(schedule, NoiseSchedule):
            raise TypeError(f"schedule must be a driftlab NoiseSchedule, got {type(schedule).__name__}")

        def fn(y, lam):
            t, log_alpha = _torch_schedule(schedule, lam)
            return model(y * log_alpha.exp()[:, None], t)

        return cls(fn, dim, **kw)

    def torch_mu(self, z, generator=None, create_graph: bool = True):
        """mu(z) for a torch tensor z of shape (n, D+1), differentiable in z."""
        import torch

        with torch.enable_grad():
            if not z.requires_grad:
                z = z.clone().requires_grad_(True)
            y = z[:, :-1]
            lam = z[:, -1]
            if not y.requires_grad:
                y = y.requires_grad_(True)
            x0 = self.denoiser(y, lam)
            if x0.shape != y.shape:
                raise ValueError(f"denoiser returned shape {tuple(x0.shape)}, expected {tuple(y.shape)}")
            if self.divergence == "exact":
                div = torch.zeros_like(lam)
                for j in range(self.dim):
                    (g,) = torch.autograd.grad(x0[:, j].sum(), y, create_graph=create_graph, retain_graph=True)
                    div = div + g[:, j]
            else:
                div = torch.zeros_like(lam)
                for _ in range(self.n_probes):
                    v = torch.randint(0, 2, y.shape, generator=generator, dtype=torch.int64).to(y) * 2 - 1
                    (g,) = torch.autograd.grad((x0 * v).sum(), y, create_graph=create_graph, retain_graph=True)
                    div = div + (g * v).sum(dim=1)
                div = div / self.n_probes
            sq = torch.exp(-lam) * div + (x0 * x0).sum(dim=1)
            return torch.cat([x0, sq[:, None]], dim=1)

    def _moments(self, z: np.ndarray, need_cov: bool):
        import torch

        if need_cov:
            raise NotImplementedError("DenoiserPosterior has no Cov[T]")
        gen = torch.Generator().manual_seed(self.seed)
        zt = torch.as_tensor(z, dtype=self._dtype or torch.float64)
        return self.torch_mu(zt, generator=gen, create_graph=False).detach().cpu().numpy().astype(np.float64), None

    def mu_jacobian(self, z: Any, step: float = 0.0) -> np.ndarray:
        r""":math:`\partial\mu/\partial z` by autograd (``step`` unused), shape (n, D+1, D+1)."""
        import torch

        z = self._check(z)
        zt = torch.as_tensor(z, dtype=self._dtype or torch.float64).requires_grad_(True)
        gen = torch.Generator().manual_seed(self.seed)
        mu = self.torch_mu(zt, generator=gen, create_graph=True)
        rows = []
        for a in range(mu.shape[1]):
            (g,) = torch.autograd.grad(mu[:, a].sum(), zt, retain_graph=True)
            rows.append(g)
        return torch.stack(rows, dim=1).detach().numpy().astype(np.float64)


def _torch_schedule(schedule: Any, lam):
    """(t, log alpha_t) as differentiable torch functions of lambda for driftlab's schedules."""
    import torch

    if isinstance(schedule, VPLogLinear):
        t = (lam - schedule.lambda_max) / (schedule.lambda_min - schedule.lambda_max)
        return t, -0.5 * torch.nn.functional.softplus(-lam)
    if isinstance(schedule, VPLinearBeta):
        B = torch.nn.functional.softplus(-lam)
        a = 0.5 * (schedule.beta_max - schedule.beta_min)
        t = (-schedule.beta_min + torch.sqrt(schedule.beta_min**2 + 4 * a * B)) / (2 * a)
        return t, -0.5 * B
    if isinstance(schedule, VE):
        t = (-0.5 * lam - math.log(schedule.sigma_min)) / math.log(schedule.sigma_max / schedule.sigma_min)
        return t, torch.zeros_like(lam)
    if isinstance(schedule, FlowMatching):
        t = torch.sigmoid(-0.5 * lam)
        return t, torch.log1p(-t)
    raise TypeError(f"no torch conversion for schedule {schedule!r}")
