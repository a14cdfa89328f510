"""The drift conventions a user's implementation is checked against, with the properties each keeps."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftlab.testing import _references as R

__all__ = ["Convention", "CONVENTIONS", "get_convention", "population_field"]

#: name -> one-line description (the catalogue in docs/conformance.md says more)
CONVENTIONS: dict[str, str] = {
    "alg2": "[D] Algorithm 2: A = sqrt(row softmax x column softmax) over [Y+ | Y-]; self-masked "
            "when the negatives are the queries; unbiased at p = q (unmasked)",
    "joint": "row softmax over the joint set [Y+ | Y-], W+- = A+- rowsum(A-+); a <= 1/4 multiple of "
             "the centroid difference; unbiased at p = q",
    "separate": "separately normalised mean shifts m+ - m-; biased at p = q when the set sizes differ",
    "official": "the official multi-temperature pipeline of [D]: targets [gen, neg, pos], gen "
                "self-masked (+offset), data-dependent distance scale, affinity floor, per-temperature "
                "RMS normalisation, summed",
    "gaussian-score": "mean shift with a Gaussian kernel of bandwidth s = s^2 (grad log KDE+ - grad log "
                      "KDE-), KDEs of bandwidth s",
    "kernel-gradient": "[KG]: grad log p_k - grad log q_k with separately normalised kernel sums "
                       "(units 1/length)",
}

_BATCH = {
    "alg2": R.alg2_reference,
    "joint": R.joint_reference,
    "separate": R.separate_reference,
    "kernel-gradient": R.kernel_gradient_reference,
    "gaussian-score": R.gaussian_score_reference,
}


@dataclass(frozen=True)
class Convention:
    """A named convention with its parameters and the dense float64 reference it is checked with.

    Build one with :func:`get_convention`. For the batch conventions the callable is
    called as ``fn(x, y_pos, y_neg, temperature)`` with ``temperature`` a float (the kernel's
    length scale); for ``"official"`` ``temperature`` is the tuple of temperatures ``R``.
    """

    name: str
    params: dict = field(default_factory=dict)

    @property
    def is_official(self) -> bool:
        return self.name == "official"

    @property
    def kernel(self) -> str:
        return self.params.get("kernel", "laplace")

    @property
    def self_mask(self) -> bool:
        return bool(self.params.get("self_mask", False))

    def reference(self, x, y_pos, y_neg, temperature, weight_neg=None):
        """``(V, L)``: the dense float64 field and the largest weighted |logit|.

        ``weight_neg``: official only (batch conventions express weights as multiplicities)."""
        if self.is_official:
            p = self.params
            return R.official_reference(x, y_pos, y_neg, tuple(temperature), floor=p["floor"],
                                        self_mask_offset=p["self_mask_offset"],
                                        distance_scale=p["distance_scale"], weight_neg=weight_neg)
        if weight_neg is not None:
            raise ValueError("batch conventions take weights as multiplicities: repeat the points")
        return _BATCH[self.name](x, y_pos, y_neg, temperature, kernel=self.kernel, self_mask=self.self_mask)

    # --- the properties each convention keeps (which checks apply) ------------------------
    @property
    def scale_power(self) -> int | None:
        """V(2x; 2Y+, 2Y-, 2t) = 2^p V(x; Y+, Y-, t); None when no exact law holds."""
        if self.is_official:
            return None  # the 1e-4 distance clip and the 1e-3 scale clip are absolute lengths
        return -1 if self.name == "kernel-gradient" else 1

    @property
    def antisymmetric(self) -> bool:
        return not self.is_official and not self.self_mask

    @property
    def unbiased(self) -> bool:
        return self.name in ("joint", "alg2") and not self.self_mask

    @property
    def has_population(self) -> bool:
        return self.name in ("joint", "separate", "gaussian-score", "kernel-gradient") and not self.self_mask

    @property
    def default_temperature(self):
        return tuple(self.params["temperatures"]) if self.is_official else 1.0

    def describe(self) -> str:
        extra = ", ".join(f"{k}={v!r}" for k, v in sorted(self.params.items()))
        return f"{self.name}({extra})"


def get_convention(name: Any, **params) -> Convention:
    """The convention ``name`` with its parameters validated.

    Parameters
    ----------
    name : str or Convention
        One of :data:`CONVENTIONS` (``"kernel_gradient"`` is accepted for ``"kernel-gradient"``).
    kernel : {"laplace", "gaussian"}, optional
        Batch conventions: the kernel family (default ``"laplace"``; ``"gaussian-score"`` is
        Gaussian only).
    self_mask : bool, optional
        Batch conventions except ``"gaussian-score"``: the negatives are the queries and the
        self-pairs are dropped (default False).
    temperatures, floor, self_mask_offset, distance_scale : optional
        ``"official"``: the default temperature tuple (used by the checks that do not vary
        it; default ``(0.02, 0.05, 0.2)``), the affinity floor (1e-6), the self-mask offset
        (100) and a fixed distance scale (None: data-dependent).
    """
    if isinstance(name, Convention):
        if params:
            merged = dict(name.params)
            merged.update(params)
            return get_convention(name.name, **merged)
        return name
    if not isinstance(name, str):
        raise TypeError(f"convention must be a name (str) or a Convention, got {type(name).__name__}")
    key = name.strip().lower().replace("_", "-")
    if key not in CONVENTIONS:
        raise ValueError(f"unknown convention {name!r}; choose one of {', '.join(CONVENTIONS)}")
    out: dict = {}
    if key == "official":
        allowed = {"temperatures", "floor", "self_mask_offset", "distance_scale"}
        bad = set(params) - allowed
        if bad:
            raise ValueError(f"convention 'official' takes {sorted(allowed)}, got {sorted(bad)}")
        temps = params.get("temperatures", (0.02, 0.05, 0.2))
        if isinstance(temps, (str, bytes)) or not hasattr(temps, "__iter__"):
            raise TypeError(f"temperatures must be a sequence of positive floats, got {temps!r}")
        temps = tuple(float(t) for t in temps)
        if not temps or not all(math.isfinite(t) and t > 0 for t in temps):
            raise ValueError(f"temperatures must be a non-empty sequence of finite positive floats, got {temps!r}")
        floor = float(params.get("floor", 1e-6))
        if not 0.0 <= floor < 1.0:
            raise ValueError(f"floor must be in [0, 1), got {floor!r}")
        offset = float(params.get("self_mask_offset", 100.0))
        if not (math.isfinite(offset) and offset >= 0):
            raise ValueError(f"self_mask_offset must be finite and >= 0, got {offset!r}")
        ds = params.get("distance_scale")
        if ds is not None:
            ds = float(ds)
            if not (math.isfinite(ds) and ds > 0):
                raise ValueError(f"distance_scale must be None or a finite positive float, got {ds!r}")
        out = {"temperatures": temps, "floor": floor, "self_mask_offset": offset, "distance_scale": ds}
    else:
        allowed = {"kernel", "self_mask"}
        bad = set(params) - allowed
        if bad:
            raise ValueError(f"convention {key!r} takes {sorted(allowed)}, got {sorted(bad)}")
        kernel = str(params.get("kernel", "gaussian" if key == "gaussian-score" else "laplace")).lower()
        if kernel not in R.KERNELS:
            raise ValueError(f"kernel must be one of {R.KERNELS}, got {kernel!r}")
        if key == "gaussian-score" and kernel != "gaussian":
            raise ValueError("convention 'gaussian-score' has the Gaussian kernel only")
        self_mask = params.get("self_mask", False)
        if not isinstance(self_mask, (bool, np.bool_)):
            raise TypeError(f"self_mask must be True or False, got {self_mask!r}")
        if key == "gaussian-score" and self_mask:
            raise ValueError("convention 'gaussian-score' has no self-masked form")
        out = {"kernel": kernel, "self_mask": bool(self_mask)}
    return Convention(key, out)


# --- population fields of Gaussian laws N(mu, sigma^2 I) ----------------------------------------

def _gauss_moments(x, mu, sigma, s):
    """Gaussian kernel of bandwidth s against N(mu, sigma^2 I): log E k and the mean shift (closed form)."""
    d = x.shape[1]
    v = s * s + sigma * sigma
    sq = ((x - mu) ** 2).sum(1)
    log_k = 0.5 * d * math.log(s * s / v) - sq / (2.0 * v)
    # the kernel-weighted law is N((s^2 mu + sigma^2 x) / v, .): mean shift s^2 (mu - x) / v
    return log_k, (s * s / v) * (mu[None, :] - x)


def _laplace_moments_1d(x, mu, sigma, tau):
    """Laplace kernel against N(mu, sigma^2) in d = 1 by adaptive quadrature (split at the kink)."""
    from scipy import integrate

    logk, shift, grad = [], [], []
    for xi in x[:, 0]:
        def dens(y, xi=xi):
            return math.exp(-abs(xi - y) / tau - 0.5 * ((y - mu[0]) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))

        lo, hi = mu[0] - 40 * sigma, mu[0] + 40 * sigma
        pts = sorted({min(max(xi, lo), hi)})
        K = sum(integrate.quad(dens, a, b, epsabs=0, epsrel=1e-12, limit=200)[0]
                for a, b in zip([lo] + pts, pts + [hi]))
        M = sum(integrate.quad(lambda y, xi=xi: dens(y) * (y - xi), a, b, epsabs=0, epsrel=1e-12, limit=200)[0]
                for a, b in zip([lo] + pts, pts + [hi]))
        Gp = integrate.quad(dens, xi, hi, epsabs=0, epsrel=1e-12, limit=200)[0] if xi < hi else 0.0
        Gm = integrate.quad(dens, lo, xi, epsabs=0, epsrel=1e-12, limit=200)[0] if xi > lo else 0.0
        logk.append(math.log(K))
        shift.append(M / K)
        grad.append((Gp - Gm) / (tau * K))
    return np.array(logk), np.array(shift)[:, None], np.array(grad)[:, None]


def population_field(conv: Convention, x, mu_p, mu_q, sigma: float, temperature: float) -> np.ndarray:
    """The population field of ``conv`` between N(mu_p, sigma^2 I) and N(mu_q, sigma^2 I) at ``x``,
    for equal set sizes (closed form for the Gaussian kernel, quadrature in d = 1 for Laplace)."""
    x = np.asarray(x, np.float64)
    mu_p, mu_q = np.asarray(mu_p, np.float64), np.asarray(mu_q, np.float64)
    if conv.kernel == "gaussian":
        lp, mp = _gauss_moments(x, mu_p, sigma, temperature)
        lq, mq = _gauss_moments(x, mu_q, sigma, temperature)
        gp, gq = mp / temperature**2, mq / temperature**2
    else:
        if x.shape[1] != 1:
            raise ValueError("the Laplace population field is computed in d = 1 only")
        lp, mp, gp = _laplace_moments_1d(x, mu_p, sigma, temperature)
        lq, mq, gq = _laplace_moments_1d(x, mu_q, sigma, temperature)
    if conv.name in ("separate", "gaussian-score"):
        return mp - mq
    if conv.name == "kernel-gradient":
        return gp - gq
    if conv.name == "joint":
        rho = 1.0 / (1.0 + np.exp(lq - lp))
        return (rho * (1.0 - rho))[:, None] * (mp - mq)
    raise ValueError(f"no population field for convention {conv.name!r}")

