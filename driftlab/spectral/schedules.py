r"""Bandwidth schedules s(t) and the damping they accumulate on each mode.

Under a time-dependent bandwidth each mode of the linearised dynamics obeys
:math:`\partial_t\hat\delta_k = -\lambda(k; s(t))\,\hat\delta_k`, so after time t it is
damped by :math:`e^{-A_k(t)}` with the *accumulated damping*

.. math::  A_k(t) = \int_0^t \lambda(k; s(u))\,du .

Every radial kernel has :math:`E(k; s) = F(sk)` (s = the kernel's ``length_scale``), hence
:math:`\lambda(k; s) = -sk F'(sk)` and, along any schedule,
:math:`\frac{d}{dt}E(k; s(t)) = -\lambda(k; s(t))\,\dot s/s`. For the exponential schedule
:math:`s(t) = s_0 e^{-rt}` (:math:`\dot s/s = -r`) this gives the closed form

.. math::  A_k(t) = \frac{1}{r}\big[E(k; s(t)) - E(k; s_0)\big] \;<\; \frac{1}{r},

for *every* kernel (Gaussian: :math:`\frac1r[e^{-s(t)^2k^2/2} - e^{-s_0^2k^2/2}]`, the
stated formula; Laplace: :math:`\frac1r[(1+\tau(t)^2k^2)^{-(d+1)/2} - (1+\tau_0^2k^2)^{-(d+1)/2}]`).
Constant and step schedules are closed form too; linear and cosine schedules are integrated
by Gauss-Legendre quadrature (a ``quadrature`` method exists on every schedule and serves as
the independent check of the closed forms).

Every schedule is an immutable object with ``bandwidth(t)``, ``accumulated_damping(kernel,
k, t, dim)`` and ``final_bandwidth`` (the bandwidth as t -> infinity; 0 for unfloored
exponential annealing). The kernel argument fixes the *shape*; its length scale is replaced
by ``bandwidth(t)`` (see :func:`driftlab.spectral.scaled_kernel`).

Examples
--------
>>> from driftlab.kernels import Gaussian
>>> from driftlab.spectral.schedules import ExponentialSchedule
>>> sch = ExponentialSchedule(s0=2.0, r=0.1)
>>> a = sch.accumulated_damping(Gaussian(1.0), 3.0, 50.0)
>>> round(float(a), 10)  # (1/r)[exp(-s(50)^2 9/2) - exp(-18)], s(50) = 2 e^-5
9.9918311985

References: [T] Turan & Ovsjanikov (2026): annealing s(t) = s0 exp(-r t).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from driftlab._validation import check_int, check_nonnegative, check_positive
from driftlab.kernels import RadialKernel
from driftlab.spectral.rates import _check_k, _check_kernel, rate

__all__ = [
    "BandwidthSchedule",
    "ConstantSchedule",
    "ExponentialSchedule",
    "LinearSchedule",
    "CosineSchedule",
    "StepSchedule",
    "make_bandwidth_schedule",
    "Schedule",
    "make_schedule",
    "rate_at_scale",
    "spectrum_at_scale",
]

_GL_X, _GL_W = np.polynomial.legendre.leggauss(32)


def rate_at_scale(kernel: RadialKernel, k, s, dim: int = 1) -> np.ndarray:
    r"""The kernel shape's rate at length scale s: :math:`\lambda(k; s) = \lambda_{\rm ref}(k s/\ell_{\rm ref})`.

    ``k`` and ``s`` broadcast (no validation: the schedules' hot path; pass wave numbers
    >= 0 and length scales > 0). The kernel fixes the shape; its own length scale is only
    the reference :math:`\ell_{\rm ref}`.

    Examples
    --------
    >>> from driftlab.kernels import Laplace
    >>> float(rate_at_scale(Laplace(3.0), 1.0, 1.0))  # Laplace(1): 2 * 1 / 2^2
    0.5
    """
    ell = kernel.length_scale
    return rate(kernel, np.asarray(k) * (np.asarray(s) / ell), dim)


def spectrum_at_scale(kernel: RadialKernel, k, s, dim: int = 1) -> np.ndarray:
    r"""The kernel shape's spectrum at length scale s: :math:`E(k; s) = E_{\rm ref}(k s/\ell_{\rm ref})`."""
    ell = kernel.length_scale
    return kernel.fourier(np.asarray(k) * (np.asarray(s) / ell), dim)


def _check_times(t, name: str = "t") -> np.ndarray:
    tt = np.asarray(t, dtype=np.float64)
    if not np.isfinite(tt).all() or (tt < 0).any():
        raise ValueError(f"{name} must be finite and >= 0")
    return tt


class BandwidthSchedule:
    """Base class: a bandwidth schedule s(t) > 0 for t >= 0 (the kernel's length scale over time).

    Not to be confused with :class:`driftlab.spacetime.NoiseSchedule` (a diffusion noise
    schedule). ``Schedule`` is this class under its earlier name.
    """

    #: Bandwidth as t -> infinity (0 means the bandwidth shrinks without bound).
    final_bandwidth: float

    @property
    def settle_time(self) -> float:
        """Time from which the bandwidth stays at :attr:`final_bandwidth` (inf if never)."""
        raise TypeError(f"{type(self).__name__} does not define settle_time")

    def bandwidth(self, t) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def kind(self) -> str:
        """The :func:`make_bandwidth_schedule` name of this schedule type."""
        return type(self).__name__.replace("Schedule", "").lower()

    def to_dict(self) -> dict:
        """JSON-ready description: ``{"kind": ..., <parameters>}``."""
        return {"kind": self.kind, **{k: (list(v) if isinstance(v, tuple) else v)
                                      for k, v in asdict(self).items()}}

    def _breakpoints(self, t_end: float) -> list[float]:
        """Times where s(t) is not smooth (quadrature panels end there)."""
        return [0.0, t_end]

    def quadrature(self, kernel: RadialKernel, k, t, dim: int = 1, panels: int = 64) -> np.ndarray:
        r""":math:`A_k(t)` by composite 32-point Gauss-Legendre quadrature of :math:`\lambda(k; s(u))`.

        The reference implementation for every schedule; ``k`` and ``t`` broadcast.
        """
        kernel = _check_kernel(kernel)
        dim = check_int(dim, "dim", minimum=1)
        panels = check_int(panels, "panels", minimum=1)
        kk = _check_k(k)
        tt = _check_times(t)
        kk, tt = np.broadcast_arrays(kk, tt)
        out = np.zeros(kk.shape)
        for idx in np.ndindex(kk.shape):
            T = float(tt[idx])
            if T == 0:
                continue
            bps = [b for b in self._breakpoints(T) if 0 <= b <= T]
            edges = np.unique(np.concatenate([np.linspace(a, b, panels + 1) for a, b in zip(bps[:-1], bps[1:])]))
            a, b = edges[:-1, None], edges[1:, None]
            u = 0.5 * (b - a) * _GL_X + 0.5 * (a + b)
            w = 0.5 * (b - a) * _GL_W
            lam = rate_at_scale(kernel, float(kk[idx]), self.bandwidth(u), dim)
            out[idx] = float(np.sum(w * lam))
        return out

    def accumulated_damping(self, kernel: RadialKernel, k, t, dim: int = 1) -> np.ndarray:
        r"""Accumulated damping :math:`A_k(t) = \int_0^t \lambda(k; s(u))\,du` (broadcast over k, t)."""
        return self.quadrature(kernel, k, t, dim)

    def limit_damping(self, kernel: RadialKernel, k, dim: int = 1) -> np.ndarray:
        r""":math:`A_k(\infty)`: finite only for unfloored exponential annealing (inf otherwise)."""
        kk = _check_k(k)
        return np.where(kk > 0, np.inf, 0.0)


@dataclass(frozen=True)
class ConstantSchedule(BandwidthSchedule):
    """A fixed bandwidth: :math:`A_k(t) = \\lambda(k; s)\\, t`."""

    s: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "s", check_positive(self.s, "s"))

    @property
    def final_bandwidth(self) -> float:  # type: ignore[override]
        return self.s

    @property
    def settle_time(self) -> float:
        return 0.0

    def bandwidth(self, t) -> np.ndarray:
        return np.zeros_like(np.asarray(t, dtype=np.float64)) + self.s

    def accumulated_damping(self, kernel, k, t, dim: int = 1) -> np.ndarray:
        kernel = _check_kernel(kernel)
        dim = check_int(dim, "dim", minimum=1)
        kk, tt = np.broadcast_arrays(_check_k(k), _check_times(t))
        return rate_at_scale(kernel, kk, self.s, dim) * tt


@dataclass(frozen=True)
class ExponentialSchedule(BandwidthSchedule):
    r"""Annealing :math:`s(t) = \max(s_0 e^{-rt}, s_{\min})` [T].

    Closed form (any kernel, :math:`t_f = \log(s_0/s_{\min})/r` the time the floor is hit):
    :math:`A_k(t) = \frac1r[E(k; s(t)) - E(k; s_0)]` for :math:`t \le t_f`, plus
    :math:`\lambda(k; s_{\min})(t - t_f)` afterwards. Without a floor
    (``s_min = 0``) every mode's damping saturates at
    :math:`A_k(\infty) = (1 - E(k; s_0))/r < 1/r`.

    Parameters
    ----------
    s0 : float
        Initial bandwidth (> 0).
    r : float
        Annealing rate (> 0).
    s_min : float
        Floor (>= 0, < s0; default 0 = no floor).
    """

    s0: float
    r: float
    s_min: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "s0", check_positive(self.s0, "s0"))
        object.__setattr__(self, "r", check_positive(self.r, "r"))
        object.__setattr__(self, "s_min", check_nonnegative(self.s_min, "s_min"))
        if self.s_min >= self.s0:
            raise ValueError(f"s_min must be < s0, got s_min={self.s_min}, s0={self.s0}")

    @property
    def final_bandwidth(self) -> float:  # type: ignore[override]
        return self.s_min

    @property
    def floor_time(self) -> float:
        """Time at which the floor is reached (inf without a floor)."""
        return math.inf if self.s_min == 0 else math.log(self.s0 / self.s_min) / self.r

    @property
    def settle_time(self) -> float:
        return self.floor_time

    def bandwidth(self, t) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        return np.maximum(self.s0 * np.exp(-self.r * t), self.s_min)

    def _breakpoints(self, t_end: float) -> list[float]:
        tf = self.floor_time
        return [0.0, tf, t_end] if tf < t_end else [0.0, t_end]

    def accumulated_damping(self, kernel, k, t, dim: int = 1) -> np.ndarray:
        kernel = _check_kernel(kernel)
        dim = check_int(dim, "dim", minimum=1)
        kk, tt = np.broadcast_arrays(_check_k(k), _check_times(t))
        tf = self.floor_time
        t1 = np.minimum(tt, tf)
        s1 = self.s0 * np.exp(-self.r * t1)
        s1 = np.maximum(s1, self.s_min)
        a = (spectrum_at_scale(kernel, kk, s1, dim) - spectrum_at_scale(kernel, kk, self.s0, dim)) / self.r
        if self.s_min > 0:
            a = a + rate_at_scale(kernel, kk, self.s_min, dim) * np.maximum(tt - tf, 0.0)
        return a

    def limit_damping(self, kernel, k, dim: int = 1) -> np.ndarray:
        kernel = _check_kernel(kernel)
        dim = check_int(dim, "dim", minimum=1)
        kk = _check_k(k)
        if self.s_min > 0:
            return super().limit_damping(kernel, kk, dim)
        return (1.0 - spectrum_at_scale(kernel, kk, self.s0, dim)) / self.r


@dataclass(frozen=True)
class _TwoLevelSchedule(BandwidthSchedule):
    """From s0 to s1 over ``duration`` along a shape ``_interp(u)``, u in [0, 1]; then s1."""

    s0: float
    s1: float
    duration: float

    def __post_init__(self) -> None:
        for name in ("s0", "s1", "duration"):
            object.__setattr__(self, name, check_positive(getattr(self, name), name))

    @property
    def final_bandwidth(self) -> float:  # type: ignore[override]
        return self.s1

    @property
    def settle_time(self) -> float:
        return self.duration

    def _interp(self, u: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def bandwidth(self, t) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        return self._interp(np.clip(t / self.duration, 0.0, 1.0))

    def _breakpoints(self, t_end: float) -> list[float]:
        return [0.0, self.duration, t_end] if self.duration < t_end else [0.0, t_end]


@dataclass(frozen=True)
class LinearSchedule(_TwoLevelSchedule):
    r"""Linear decay :math:`s(t) = s_0 + (s_1 - s_0)\,t/D` for :math:`t < D`, then :math:`s_1`."""

    def _interp(self, u: np.ndarray) -> np.ndarray:
        return self.s0 + (self.s1 - self.s0) * u


@dataclass(frozen=True)
class CosineSchedule(_TwoLevelSchedule):
    r"""Cosine decay :math:`s(t) = s_1 + (s_0 - s_1)(1 + \cos(\pi t/D))/2` for :math:`t < D`, then :math:`s_1`."""

    def _interp(self, u: np.ndarray) -> np.ndarray:
        return self.s1 + (self.s0 - self.s1) * 0.5 * (1.0 + np.cos(math.pi * u))


@dataclass(frozen=True)
class StepSchedule(BandwidthSchedule):
    r"""Piecewise-constant bandwidths ``values[i]`` for ``durations[i]``; the last value is kept forever.

    Closed form: :math:`A_k(t) = \sum_i \lambda(k; s_i)\,|[t_i, t_{i+1}) \cap [0, t)|`.
    ``StepSchedule.halving(s0, n, dt)`` builds the coarse-to-fine ladder s0, s0/2, ...
    """

    values: tuple
    durations: tuple

    def __post_init__(self) -> None:
        vals = tuple(check_positive(v, f"values[{i}]") for i, v in enumerate(self.values))
        durs = tuple(check_positive(v, f"durations[{i}]") for i, v in enumerate(self.durations))
        if not vals:
            raise ValueError("values must not be empty")
        if len(durs) != len(vals) - 1:
            raise ValueError(
                f"durations must have len(values) - 1 = {len(vals) - 1} entries "
                f"(the last value lasts forever), got {len(durs)}"
            )
        object.__setattr__(self, "values", vals)
        object.__setattr__(self, "durations", durs)

    @classmethod
    def halving(cls, s0: float, n_levels: int, dwell: float) -> "StepSchedule":
        """s0, s0/2, ..., s0/2^(n_levels-1), each held for ``dwell`` (the last forever)."""
        s0 = check_positive(s0, "s0")
        n = check_int(n_levels, "n_levels", minimum=1)
        dwell = check_positive(dwell, "dwell")
        return cls(tuple(s0 / 2**i for i in range(n)), tuple([dwell] * (n - 1)))

    @property
    def final_bandwidth(self) -> float:  # type: ignore[override]
        return self.values[-1]

    @property
    def settle_time(self) -> float:
        return float(self.switch_times[-1])

    @property
    def switch_times(self) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(self.durations)])

    def bandwidth(self, t) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        idx = np.searchsorted(self.switch_times, t, side="right") - 1
        return np.asarray(self.values)[np.clip(idx, 0, len(self.values) - 1)]

    def _breakpoints(self, t_end: float) -> list[float]:
        return [0.0] + [b for b in self.switch_times[1:] if b < t_end] + [t_end]

    def accumulated_damping(self, kernel, k, t, dim: int = 1) -> np.ndarray:
        kernel = _check_kernel(kernel)
        dim = check_int(dim, "dim", minimum=1)
        kk, tt = np.broadcast_arrays(_check_k(k), _check_times(t))
        starts = self.switch_times
        ends = np.concatenate([starts[1:], [np.inf]])
        out = np.zeros(kk.shape)
        for s, a, b in zip(self.values, starts, ends):
            overlap = np.clip(np.minimum(tt, b) - a, 0.0, None)
            out = out + rate_at_scale(kernel, kk, s, dim) * overlap
        return out


def make_bandwidth_schedule(kind: str, s0: float, *, r: float | None = None, s1: float | None = None,
                            duration: float | None = None, s_min: float = 0.0) -> BandwidthSchedule:
    """Build a schedule by name: ``constant`` (s0), ``exponential`` (s0, r, s_min), ``linear``/``cosine``
    (s0, s1, duration), ``step`` (geometric ladder s0 -> s1 with level ratios <= 2, each level
    held for ``duration``, the last one forever).

    Examples
    --------
    >>> float(make_bandwidth_schedule("exponential", 2.0, r=0.1).bandwidth(0.0))
    2.0
    """
    key = str(kind).lower()
    if key == "constant":
        return ConstantSchedule(s0)
    if key == "exponential":
        if r is None:
            raise ValueError("the exponential schedule needs r")
        return ExponentialSchedule(s0, r, s_min)
    if key in ("linear", "cosine"):
        if s1 is None or duration is None:
            raise ValueError(f"the {key} schedule needs s1 and duration")
        return (LinearSchedule if key == "linear" else CosineSchedule)(s0, s1, duration)
    if key == "step":
        if s1 is None or duration is None:
            raise ValueError("the step schedule needs s1 and duration")
        s0 = check_positive(s0, "s0")
        s1 = check_positive(s1, "s1")
        duration = check_positive(duration, "duration")
        # geometric ladder from s0 to exactly s1 with ratios of at most 2 between levels
        n = max(2, int(math.ceil(abs(math.log2(s0 / s1)) - 1e-12)) + 1)
        values = tuple(float(v) for v in np.geomspace(s0, s1, n))
        return StepSchedule(values, (duration,) * (n - 1))
    raise ValueError(f"unknown schedule {kind!r}; choose constant, exponential, linear, cosine or step")


#: The earlier name of :class:`BandwidthSchedule` (kept so existing code keeps working).
Schedule = BandwidthSchedule
#: The earlier name of :func:`make_bandwidth_schedule` (kept so existing code keeps working).
make_schedule = make_bandwidth_schedule
