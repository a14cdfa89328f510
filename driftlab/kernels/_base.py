"""The radial-kernel interface shared by every field, estimator and spectral routine."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftlab import _backend as B
from driftlab._validation import check_int, check_points, check_same_backend

__all__ = ["RadialKernel", "FastForm"]


@dataclass(frozen=True)
class FastForm:
    r"""A kernel's log-profile in one of the closed forms that fast engine backends evaluate.

    A fast backend (fused torch tiles, Triton) supports a kernel through this description
    alone, never by asking which class it is.

    ``kind``:

    - ``"sq_exp"``: :math:`\log\varphi = -a r^2` (Gaussian, :math:`a = 1/(2s^2)`);
    - ``"exp"``: :math:`\log\varphi = -a r` (Laplace, Matérn-1/2, :math:`a = 1/\tau`);
    - ``"poly_exp"``: :math:`\log\varphi = -z + \log\sum_i c_i z^i`, :math:`z = a r`
      (half-integer Matérn; ``poly`` holds :math:`c_0, c_1, \dots` in ascending order);
    - ``"imq"``: :math:`\log\varphi = -\beta\,\mathrm{log1p}(a r^2)` (inverse
      multiquadric, :math:`a = 1/c^2`).

    Examples
    --------
    >>> from driftlab.kernels import Gaussian
    >>> Gaussian(0.5).fast_form
    FastForm(kind='sq_exp', a=2.0, beta=0.0, poly=())
    """

    kind: str
    a: float
    beta: float = 0.0
    poly: tuple[float, ...] = ()


class RadialKernel(ABC):
    r"""A translation- and rotation-invariant kernel :math:`k(x, y) = \varphi(|x - y|)`.

    Profiles are normalised so that :math:`\varphi(0) = 1`. Every method that takes
    distances accepts numpy arrays or torch tensors and returns the same type; the Fourier
    methods are numpy-only (they serve the spectral theory, not the hot path).

    Subclasses implement :meth:`log_profile`, :meth:`dlog_profile` and, where a closed form
    exists, :meth:`_fourier_closed`.

    Attributes
    ----------
    name : str
        Short identifier used by the CLI and in tables (``"gaussian"``, ``"laplace"``, ...).
    length_scale : float
        The characteristic length of the profile (bandwidth, temperature, ...).
    support_radius : float or None
        Radius beyond which the profile is exactly zero (compactly supported kernels only).
    """

    name: str = "kernel"
    support_radius: float | None = None

    # ----- profile -------------------------------------------------------------------
    @abstractmethod
    def log_profile(self, r):
        r"""Return :math:`\log\varphi(r)` for distances ``r >= 0`` (``-inf`` outside the support)."""

    @abstractmethod
    def dlog_profile(self, r):
        r"""Return :math:`\frac{d}{dr}\log\varphi(r)` (the radial log-derivative, <= 0)."""

    def log_profile_sq(self, r2):
        r"""Return :math:`\log\varphi(\sqrt{r^2})` from squared distances.

        Kernels that are functions of :math:`r^2` (Gaussian, inverse multiquadric) override
        this to avoid the square root; the default takes it.
        """
        return self.log_profile(B.ops(r2).sqrt(r2))

    #: True when :meth:`log_profile_sq` is cheaper than :meth:`log_profile` (no sqrt).
    prefers_squared_distance: bool = False

    @property
    def fast_form(self) -> FastForm | None:
        """The closed form fast backends evaluate (:class:`FastForm`), or None (generic path)."""
        return None

    def profile(self, r):
        r""":math:`\varphi(r)`."""
        return B.ops(r).exp(self.log_profile(r))

    def radial_derivative(self, r):
        r""":math:`\varphi'(r) = \varphi(r)\,\frac{d}{dr}\log\varphi(r)`."""
        return self.profile(r) * self.dlog_profile(r)

    # ----- parameters ----------------------------------------------------------------
    @property
    @abstractmethod
    def length_scale(self) -> float: ...

    @property
    @abstractmethod
    def params(self) -> dict[str, float]:
        """The kernel's parameters by name (as passed to the constructor)."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.params == other.params  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.params.items()))))

    # ----- pairwise evaluation (small inputs only) -------------------------------------
    def pairwise(self, x, y):
        """Dense kernel matrix ``k(x_i, y_j)``, shape ``(n, m)``.

        For tests and small problems only: the estimators in :mod:`driftlab.fields` never
        build this matrix.
        """
        x = check_points(x, "x")
        y = check_points(y, "y", dim=x.shape[1])
        check_same_backend({"x": x, "y": y})
        diff = x[:, None, :] - y[None, :, :]
        r2 = (diff * diff).sum(-1)
        return B.ops(r2).exp(self.log_profile_sq(r2))

    # ----- Fourier transform -----------------------------------------------------------
    def _fourier_closed(self, k: np.ndarray, dim: int) -> np.ndarray | None:
        """Closed-form normalised transform, or None when there is none."""
        return None

    def fourier(self, k: Any, dim: int, method: str = "auto") -> np.ndarray:
        r"""Normalised d-dimensional Fourier transform :math:`E(|k|) = \hat\varphi(k)/\hat\varphi(0)`.

        Parameters
        ----------
        k : array_like
            Non-negative wave numbers :math:`|k|`.
        dim : int
            Dimension :math:`d \geq 1` of the ambient space.
        method : {"auto", "closed", "numerical"}
            ``"closed"`` uses the closed form (raises if the kernel has none),
            ``"numerical"`` the radial (Hankel) transform of the profile, ``"auto"`` the
            closed form where one exists.

        Returns
        -------
        numpy.ndarray
            :math:`E(|k|)`, with :math:`E(0) = 1`, same shape as ``k``.
        """
        kk = _check_wavenumbers(k)
        dim = check_int(dim, "dim", minimum=1)
        if method not in ("auto", "closed", "numerical"):
            raise ValueError(f"method must be 'auto', 'closed' or 'numerical', got {method!r}")
        if method != "numerical":
            out = self._fourier_closed(kk, dim)
            if out is not None:
                return out
            if method == "closed":
                raise ValueError(f"{type(self).__name__} has no closed-form Fourier transform")
        from driftlab.kernels._hankel import radial_fourier

        return radial_fourier(self, kk, dim)


def _check_wavenumbers(k: Any) -> np.ndarray:
    if B.is_torch(k):
        k = B.to_numpy(k)
    kk = np.asarray(k, dtype=np.float64)
    if not np.isfinite(kk).all():
        raise ValueError("k must be finite")
    if (kk < 0).any():
        raise ValueError("k must be >= 0 (wave-number magnitudes)")
    return kk


def _log_gamma_ratio_norm(nu: float) -> float:
    """log(2^(1-nu) / Gamma(nu)), the Matérn normaliser."""
    return (1.0 - nu) * math.log(2.0) - math.lgamma(nu)
