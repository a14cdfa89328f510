r"""An independent periodic grid solver of the drift continuity equation (1-D and 2-D).

The solver knows nothing about :math:`\lambda(k)`: it samples the *periodised* kernel
profile in real space on the grid,

.. math::

    \varphi_{\rm per}(z) = \sum_{m \in \mathbb Z^d} \varphi(|z + mL|),\qquad
    g_{\rm per}(z) = \sum_{m} (z + mL)\,\varphi(|z + mL|),

evaluates the mean shifts :math:`m_\pi = -(g_{\rm per} * \pi)/(\varphi_{\rm per} * \pi)`
by periodic convolution (FFT; the trapezoid rule, spectrally accurate for smooth kernels,
second order for the Laplace kink), the divergence by spectral differentiation, and steps
in time with RK4 or explicit Euler. Two right-hand sides:

* ``"nonlinear"``: :math:`\partial_t q = -\nabla\cdot(q\,(m_p - m_q))` (the full equation);
* ``"linear"``: :math:`\partial_t\delta = -\nabla\cdot(g_{\rm per} * \delta)/\int\varphi_{\rm per}`
  (the linearisation around the uniform target, derived in :mod:`driftlab.spectral.rates`).

The measured per-mode decay rates (:func:`measure_mode_rates`) are then compared with
:func:`driftlab.spectral.rate` at the lattice wave numbers :math:`2\pi n/L` (where the
periodised kernel's spectrum equals :math:`E(k)`).

Examples
--------
>>> import numpy as np
>>> from driftlab.kernels import Gaussian
>>> from driftlab.spectral import rate
>>> from driftlab.spectral.grid import PeriodicGrid, measure_mode_rates
>>> grid = PeriodicGrid(n=64, length=2 * np.pi, dim=1)
>>> res = measure_mode_rates(Gaussian(0.5), grid, modes=[(1,), (3,)], t_end=1.0, dt=0.01)
>>> bool(np.allclose(res["measured"], rate(Gaussian(0.5), res["k"]), rtol=1e-8))
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from driftlab._validation import check_int, check_positive
from driftlab.kernels import RadialKernel
from driftlab.spectral.rates import _check_kernel, scaled_kernel

__all__ = ["PeriodicGrid", "PeriodicKernel", "simulate_modes", "measure_mode_rates", "kernel_reach"]


def kernel_reach(kernel: RadialKernel, rel: float = 1e-18) -> float:
    """Distance beyond which the profile is below ``rel`` (the support radius if compact).

    Raises ``ValueError`` for kernels whose tails are too heavy to periodise (profile above
    ``rel`` at 1e6 length scales, e.g. an inverse multiquadric).
    """
    if kernel.support_radius is not None:
        return float(kernel.support_radius)
    r = kernel.length_scale * np.logspace(-2, 6, 4001)
    logf = np.asarray(kernel.log_profile(r), dtype=np.float64)
    above = np.nonzero(logf > math.log(rel))[0]
    if above.size and above[-1] == r.size - 1:
        raise ValueError(f"{kernel!r} decays too slowly to periodise (profile > {rel} at 1e6 length scales)")
    return float(r[above[-1] + 1]) if above.size else float(r[0])


@dataclass(frozen=True)
class PeriodicGrid:
    """A uniform periodic grid: ``n`` points per axis on ``[0, length)^dim`` (dim 1 or 2)."""

    n: int
    length: float = 2 * math.pi
    dim: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", check_int(self.n, "n", minimum=4))
        object.__setattr__(self, "length", check_positive(self.length, "length"))
        d = check_int(self.dim, "dim", minimum=1)
        if d > 2:
            raise ValueError(f"dim must be 1 or 2 for the grid solver, got {d}")
        object.__setattr__(self, "dim", d)

    @property
    def h(self) -> float:
        return self.length / self.n

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.n,) * self.dim

    def coordinates(self) -> list[np.ndarray]:
        """Meshgrid of the point coordinates (ij indexing)."""
        x = np.arange(self.n) * self.h
        return list(np.meshgrid(*([x] * self.dim), indexing="ij"))

    def displacements(self) -> list[np.ndarray]:
        """Displacements z in [-L/2, L/2) in FFT order (z_j = j h, j - n for j >= n/2)."""
        j = np.fft.fftfreq(self.n, d=1.0 / self.n) * self.h
        return list(np.meshgrid(*([j] * self.dim), indexing="ij"))

    def wavevectors(self) -> list[np.ndarray]:
        """Angular wave vectors 2 pi n / L per axis, in FFT order."""
        kk = 2 * np.pi * np.fft.fftfreq(self.n, d=self.h)
        return list(np.meshgrid(*([kk] * self.dim), indexing="ij"))

    def mode_wavenumber(self, mode) -> float:
        """|k| of the integer lattice mode ``mode`` (a tuple of length dim)."""
        return 2 * math.pi / self.length * math.sqrt(sum(int(m) ** 2 for m in mode))


@dataclass
class PeriodicKernel:
    """FFTs of the sampled periodised kernel and of g = z phi on a grid."""

    kernel: RadialKernel
    grid: PeriodicGrid
    phi_hat: np.ndarray = field(init=False)
    g_hat: list = field(init=False)
    mass: float = field(init=False)
    images: int = field(init=False)

    def __post_init__(self) -> None:
        self.kernel = _check_kernel(self.kernel)
        grid = self.grid
        zs = grid.displacements()
        L = grid.length
        reach = kernel_reach(self.kernel)
        m_max = int(math.ceil(reach / L)) + 1
        self.images = m_max
        phi = np.zeros(grid.shape)
        g = [np.zeros(grid.shape) for _ in range(grid.dim)]
        ranges = [range(-m_max, m_max + 1)] * grid.dim
        for shift in np.array(np.meshgrid(*ranges, indexing="ij")).reshape(grid.dim, -1).T:
            zz = [z + s * L for z, s in zip(zs, shift)]
            r = np.sqrt(sum(z * z for z in zz))
            with np.errstate(invalid="ignore"):
                val = np.exp(np.asarray(self.kernel.log_profile(r), dtype=np.float64))
            phi += val
            for a in range(grid.dim):
                g[a] += zz[a] * val
        vol = grid.h**grid.dim
        self.phi_hat = np.fft.fftn(phi) * vol
        self.g_hat = [np.fft.fftn(ga) * vol for ga in g]
        self.mass = float(np.sum(phi) * vol)

    def convolve(self, f_hat: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """(phi_per * f, [g_per,a * f]) from the FFT of f."""
        return (np.real(np.fft.ifftn(self.phi_hat * f_hat)),
                [np.real(np.fft.ifftn(ga * f_hat)) for ga in self.g_hat])

    def mean_shift(self, density: np.ndarray) -> list[np.ndarray]:
        """m_pi = -(g * pi)/(phi * pi) on the grid."""
        den, nums = self.convolve(np.fft.fftn(density))
        return [-n / den for n in nums]


def _divergence(grid: PeriodicGrid, flux: list[np.ndarray]) -> np.ndarray:
    ks = grid.wavevectors()
    acc = np.zeros(grid.shape, dtype=complex)
    for k, f in zip(ks, flux):
        acc += 1j * k * np.fft.fftn(f)
    return np.real(np.fft.ifftn(acc))


def _rhs(pk: PeriodicKernel, p: np.ndarray, m_p: list[np.ndarray], kind: str):
    grid = pk.grid
    if kind == "linear":
        def f(delta):
            _, nums = pk.convolve(np.fft.fftn(delta))
            return -_divergence(grid, [n / pk.mass for n in nums])
    else:
        def f(q):
            m_q = pk.mean_shift(q)
            return -_divergence(grid, [q * (a - b) for a, b in zip(m_p, m_q)])
    return f


def simulate_modes(kernel: RadialKernel, grid: PeriodicGrid, modes, amplitude: float = 1e-4,
                   t_end: float = 1.0, dt: float = 0.01, kind: str = "linear", method: str = "rk4",
                   record_every: int = 1, schedule=None) -> dict:
    """Evolve a uniform target plus a small sum of cosine modes; record each mode's amplitude.

    Parameters
    ----------
    kernel : RadialKernel
    grid : PeriodicGrid
    modes : sequence of int tuples
        Lattice modes (length ``grid.dim``), e.g. ``[(1,), (4,)]`` or ``[(1, 0), (2, 1)]``.
    amplitude : float
        Perturbation size of each mode (relative to the uniform density 1).
    t_end, dt : float
        Final time and step.
    kind : {"linear", "nonlinear"}
    method : {"rk4", "euler"}
    record_every : int
    schedule : driftlab.spectral.BandwidthSchedule, optional
        Time-dependent bandwidth (the kernel's length scale becomes ``schedule.bandwidth(t)``
        at every RK4 stage); then each mode should decay like :math:`e^{-A_k(t)}`.

    Returns
    -------
    dict
        ``t`` (n_rec,), ``amp`` (n_rec, n_modes) = |Fourier coefficient| / its initial value,
        ``k`` (n_modes,) wave numbers.
    """
    kernel = _check_kernel(kernel)
    if not isinstance(grid, PeriodicGrid):
        raise TypeError("grid must be a PeriodicGrid")
    if kind not in ("linear", "nonlinear"):
        raise ValueError(f"kind must be 'linear' or 'nonlinear', got {kind!r}")
    if method not in ("rk4", "euler"):
        raise ValueError(f"method must be 'rk4' or 'euler', got {method!r}")
    amplitude = check_positive(amplitude, "amplitude")
    t_end = check_positive(t_end, "t_end")
    dt = check_positive(dt, "dt")
    record_every = check_int(record_every, "record_every", minimum=1)
    modes = [tuple(int(v) for v in m) for m in modes]
    if not modes or any(len(m) != grid.dim for m in modes):
        raise ValueError(f"modes must be non-empty tuples of length dim={grid.dim}")
    if any(all(v == 0 for v in m) for m in modes):
        raise ValueError("the zero mode (total mass) is conserved: pass non-zero modes")
    if any(max(abs(v) for v in m) >= grid.n // 2 for m in modes):
        raise ValueError(f"modes must be below the Nyquist index {grid.n // 2}")
    if amplitude * len(modes) >= 1:
        raise ValueError("amplitude * len(modes) must be < 1 (positive density)")

    pk = PeriodicKernel(kernel, grid)
    cache: dict = {}

    def rhs_at(t: float):
        if schedule is None:
            return f
        s_t = float(schedule.bandwidth(t))
        if s_t not in cache:
            pk_t = PeriodicKernel(scaled_kernel(kernel, s_t), grid)
            cache.clear()
            cache[s_t] = _rhs(pk_t, p, pk_t.mean_shift(p), kind)
        return cache[s_t]

    xs = grid.coordinates()
    pert = np.zeros(grid.shape)
    for m in modes:
        pert += amplitude * np.cos(sum(2 * np.pi * mi * x / grid.length for mi, x in zip(m, xs)))
    p = np.ones(grid.shape)
    m_p = pk.mean_shift(p)
    state = pert.copy() if kind == "linear" else p + pert
    f = _rhs(pk, p, m_p, kind)
    idx = [tuple(mi % grid.n for mi in m) for m in modes]

    def amps(u):
        uh = np.fft.fftn(u)
        return np.array([abs(uh[i]) for i in idx])

    a0 = amps(state if kind == "linear" else state - p)
    n_steps = int(round(t_end / dt))
    ts, rec = [0.0], [np.ones(len(modes))]
    for step in range(1, n_steps + 1):
        # stage times nudged inside (t0, t0 + dt) so that a step schedule switching exactly at
        # a grid time is seen on the correct side by every stage
        t0 = (step - 1) * dt
        ta, tb = t0 + 1e-9 * dt, t0 + (1 - 1e-9) * dt
        if method == "euler":
            state = state + dt * rhs_at(ta)(state)
        else:
            k1 = rhs_at(ta)(state)
            k2 = rhs_at(t0 + 0.5 * dt)(state + 0.5 * dt * k1)
            k3 = rhs_at(t0 + 0.5 * dt)(state + 0.5 * dt * k2)
            k4 = rhs_at(tb)(state + dt * k3)
            state = state + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        if step % record_every == 0 or step == n_steps:
            ts.append(step * dt)
            rec.append(amps(state if kind == "linear" else state - p) / a0)
    return {"t": np.array(ts), "amp": np.array(rec), "k": np.array([grid.mode_wavenumber(m) for m in modes]),
            "modes": modes}


def measure_mode_rates(kernel: RadialKernel, grid: PeriodicGrid, modes, t_end: float = 1.0,
                       dt: float = 0.01, kind: str = "linear", method: str = "rk4",
                       amplitude: float = 1e-4) -> dict:
    """Per-mode decay rates: least-squares slope of -log(amplitude) against t.

    Returns the :func:`simulate_modes` record plus ``measured`` (n_modes,).
    """
    out = simulate_modes(kernel, grid, modes, amplitude, t_end, dt, kind, method)
    t, la = out["t"], np.log(out["amp"])
    tc = t - t.mean()
    out["measured"] = -(tc @ (la - la.mean(axis=0))) / (tc @ tc)
    return out
