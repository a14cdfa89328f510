r"""Noise schedules as charts of one spacetime ([S], Sec. 2).

A forward process :math:`x_t = \alpha_t x_0 + \sigma_t \varepsilon` enters the denoising
posterior only through :math:`y = x_t/\alpha_t` and :math:`\lambda = \log(\alpha_t^2/\sigma_t^2)`:
:math:`p(x_0 \mid x_t) \propto q(x_0)\exp(-e^{\lambda}|x_0 - y|^2/2)`. VP, VE and flow-matching
schedules are therefore only coordinate charts of the same (y, lambda) manifold; driftlab
works in (y, lambda) and converts at the boundary with :meth:`NoiseSchedule.to_spacetime` and
:meth:`NoiseSchedule.from_spacetime`. (Not to be confused with the bandwidth schedules of
:mod:`driftlab.spectral.schedules`.) ``Schedule`` and ``make_schedule`` are the earlier names of
:class:`NoiseSchedule` and :func:`make_noise_schedule`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from driftlab._validation import check_finite_scalar, check_positive

__all__ = ["NoiseSchedule", "VPLogLinear", "VPLinearBeta", "VE", "FlowMatching", "make_noise_schedule", "Schedule",
           "make_schedule"]


def _t_array(t: Any, name: str = "t") -> np.ndarray:
    arr = np.asarray(t, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    if (arr < 0).any() or (arr > 1).any():
        raise ValueError(f"{name} must lie in [0, 1], got range [{arr.min()}, {arr.max()}]")
    return arr


class NoiseSchedule:
    """Base class of the diffusion noise schedules: subclasses define ``log_alpha(t)``,
    ``lam(t)`` and ``t_of_lam(lam)``.

    ``t`` runs over [0, 1] from data (high SNR) to noise (low SNR); ``lam`` is
    :math:`\\log \\mathrm{SNR}` and is strictly decreasing in ``t``.
    """

    name = "schedule"

    def lam(self, t: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def t_of_lam(self, lam: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def log_alpha(self, t: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def alpha(self, t: Any) -> np.ndarray:
        return np.exp(self.log_alpha(t))

    def sigma(self, t: Any) -> np.ndarray:
        r""":math:`\sigma_t = \alpha_t e^{-\lambda_t/2}`."""
        t = np.asarray(t, dtype=np.float64)
        return np.exp(self.log_alpha(t) - 0.5 * self.lam(t))

    def to_spacetime(self, x: Any, t: Any) -> tuple[np.ndarray, np.ndarray]:
        """(x_t, t) -> (y, lambda) with y = x_t / alpha_t; x shape (n, D), t shape (n,) or scalar."""
        x = np.asarray(x, dtype=np.float64)
        t = _t_array(t)
        a = self.alpha(t)
        a_col = a[..., None] if a.ndim else a
        return x / a_col, self.lam(t)

    def from_spacetime(self, y: Any, lam: Any) -> tuple[np.ndarray, np.ndarray]:
        """(y, lambda) -> (x_t, t) with t = t(lambda), x_t = alpha_t y."""
        y = np.asarray(y, dtype=np.float64)
        t = self.t_of_lam(lam)
        a = self.alpha(t)
        a_col = a[..., None] if a.ndim else a
        return y * a_col, t

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class VPLogLinear(NoiseSchedule):
    r"""Variance preserving, :math:`\lambda` linear in t: :math:`\lambda(t) = \lambda_{max} + (\lambda_{min} - \lambda_{max}) t`.

    :math:`\alpha_t^2 = \mathrm{sigmoid}(\lambda_t)`, :math:`\sigma_t^2 = \mathrm{sigmoid}(-\lambda_t)`.
    The default (10 -> -10) is the schedule of the 1-D toy of [S].
    """

    name = "vp-loglinear"

    def __init__(self, lambda_max: float = 10.0, lambda_min: float = -10.0) -> None:
        self.lambda_max = check_finite_scalar(lambda_max, "lambda_max")
        self.lambda_min = check_finite_scalar(lambda_min, "lambda_min")
        if not self.lambda_max > self.lambda_min:
            raise ValueError(f"lambda_max must be > lambda_min, got {lambda_max} <= {lambda_min}")

    def lam(self, t):
        t = _t_array(t)
        return self.lambda_max + (self.lambda_min - self.lambda_max) * t

    def t_of_lam(self, lam):
        lam = np.asarray(lam, dtype=np.float64)
        t = (lam - self.lambda_max) / (self.lambda_min - self.lambda_max)
        return _t_array(t, "t(lambda) (lambda outside the schedule's range)")

    def log_alpha(self, t):
        # log sigmoid(lam)/2, computed stably
        return -0.5 * np.logaddexp(0.0, -self.lam(t))

    def __repr__(self) -> str:
        return f"VPLogLinear(lambda_max={self.lambda_max}, lambda_min={self.lambda_min})"


class VPLinearBeta(NoiseSchedule):
    r"""Variance preserving with linear :math:`\beta(t) = \beta_{min} + (\beta_{max}-\beta_{min})t` (DDPM/score-SDE).

    :math:`\log\alpha_t = -\tfrac12 B(t)`, :math:`B(t) = \beta_{min}t + (\beta_{max}-\beta_{min})t^2/2`,
    :math:`\mathrm{SNR} = 1/(e^{B} - 1)`.
    """

    name = "vp-linear-beta"

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0) -> None:
        self.beta_min = check_positive(beta_min, "beta_min")
        self.beta_max = check_positive(beta_max, "beta_max")
        if not self.beta_max > self.beta_min:
            raise ValueError("beta_max must be > beta_min")

    def _B(self, t):
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t * t

    def lam(self, t):
        t = _t_array(t)
        if (t <= 0).any():
            raise ValueError("t must be > 0 for a VP schedule (lambda = +inf at t = 0)")
        return -np.log(np.expm1(self._B(t)))

    def t_of_lam(self, lam):
        lam = np.asarray(lam, dtype=np.float64)
        B = np.log1p(np.exp(-lam))
        a = 0.5 * (self.beta_max - self.beta_min)
        t = (-self.beta_min + np.sqrt(self.beta_min**2 + 4 * a * B)) / (2 * a)
        return _t_array(t, "t(lambda) (lambda outside the schedule's range)")

    def log_alpha(self, t):
        t = _t_array(t)
        return -0.5 * self._B(t)

    def __repr__(self) -> str:
        return f"VPLinearBeta(beta_min={self.beta_min}, beta_max={self.beta_max})"


class VE(NoiseSchedule):
    r"""Variance exploding: :math:`\alpha = 1`, :math:`\sigma_t = \sigma_{min}(\sigma_{max}/\sigma_{min})^t`, :math:`\lambda = -2\log\sigma`."""

    name = "ve"

    def __init__(self, sigma_min: float = 0.002, sigma_max: float = 80.0) -> None:
        self.sigma_min = check_positive(sigma_min, "sigma_min")
        self.sigma_max = check_positive(sigma_max, "sigma_max")
        if not self.sigma_max > self.sigma_min:
            raise ValueError("sigma_max must be > sigma_min")

    def lam(self, t):
        t = _t_array(t)
        return -2.0 * (math.log(self.sigma_min) + t * math.log(self.sigma_max / self.sigma_min))

    def t_of_lam(self, lam):
        lam = np.asarray(lam, dtype=np.float64)
        t = (-0.5 * lam - math.log(self.sigma_min)) / math.log(self.sigma_max / self.sigma_min)
        return _t_array(t, "t(lambda) (lambda outside the schedule's range)")

    def log_alpha(self, t):
        return np.zeros_like(_t_array(t))

    def __repr__(self) -> str:
        return f"VE(sigma_min={self.sigma_min}, sigma_max={self.sigma_max})"


class FlowMatching(NoiseSchedule):
    r"""Rectified flow / flow matching: :math:`\alpha_t = 1 - t`, :math:`\sigma_t = t`, :math:`\lambda = 2\log((1-t)/t)`."""

    name = "flow-matching"

    def lam(self, t):
        t = _t_array(t)
        if (t <= 0).any() or (t >= 1).any():
            raise ValueError("t must lie in (0, 1) for flow matching (lambda = +-inf at the ends)")
        return 2.0 * (np.log1p(-t) - np.log(t))

    def t_of_lam(self, lam):
        lam = np.asarray(lam, dtype=np.float64)
        return 1.0 / (1.0 + np.exp(0.5 * lam))

    def log_alpha(self, t):
        t = _t_array(t)
        return np.log1p(-t)


def make_noise_schedule(name: str, **kwargs: Any) -> NoiseSchedule:
    """A noise schedule by name: ``vp`` / ``vp-loglinear``, ``vp-linear-beta``, ``ve``, ``fm`` / ``flow-matching``."""
    table = {"vp": VPLogLinear, "vp-loglinear": VPLogLinear, "vp-linear-beta": VPLinearBeta,
             "ve": VE, "fm": FlowMatching, "flow-matching": FlowMatching}
    if not isinstance(name, str) or name.lower() not in table:
        raise ValueError(f"schedule must be one of {sorted(table)}, got {name!r}")
    return table[name.lower()](**kwargs)


#: The earlier name of :class:`NoiseSchedule` (kept so existing code keeps working).
Schedule = NoiseSchedule
#: The earlier name of :func:`make_noise_schedule` (kept so existing code keeps working).
make_schedule = make_noise_schedule
