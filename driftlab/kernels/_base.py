"""The radial-kernel interface shared by every field, estimator and spectral routine."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftlab import _backend as B
from driftlab._validation import check_int, check_length_scale, check_points, check_same_backend

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

    Subclasses implement :meth:`log_profile`, :meth:`dlog_profile`, :attr:`length_scale`,
    :attr:`params` and, where closed forms exist, :meth:`_fourier_closed`,
    :meth:`linear_rate`, :meth:`rate_peak` and :meth:`inverse_spectrum`. Everything that
    depends on the kernel family (spectral rates, peaks, annealing by rescaling, the fast
    engine paths) asks the kernel through these methods, never by its class, so a new
    kernel is one class (registered with :func:`~driftlab.kernels.register_kernel` to be
    reachable by name from :func:`~driftlab.kernels.make_kernel` and the CLI).

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
    #: the key of :attr:`params` that holds the length scale (the default
    #: :meth:`with_length_scale` rebuilds the kernel with that entry replaced)
    scale_parameter: str = "scale"

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

    @property
    def scale(self) -> float:
        """The length scale (same as :attr:`length_scale`; the constructors' common keyword).

        A subclass may also store its own ``scale`` attribute (``self.scale = c``).
        """
        stored = self.__dict__.get("_scale_attribute")
        return self.length_scale if stored is None else stored

    @scale.setter
    def scale(self, value: float) -> None:
        self.__dict__["_scale_attribute"] = value

    def with_length_scale(self, scale: float) -> "RadialKernel":
        """A new kernel of the same family and shape with length scale ``scale``.

        The default rebuilds ``type(self)(**params)`` with ``params[scale_parameter]``
        replaced; a kernel whose constructor does not take its :attr:`params` back overrides
        this. Annealing (a bandwidth schedule) uses it, whatever the parameter is called.
        """
        s = check_length_scale(scale, "scale")
        params = dict(self.params)
        if self.scale_parameter not in params:
            raise TypeError(
                f"cannot rescale {self!r}: its params have no {self.scale_parameter!r} entry; set the "
                "class attribute scale_parameter to the key holding the length scale or override "
                "with_length_scale"
            )
        params[self.scale_parameter] = s
        return type(self)(**params)

    # ----- spectral behaviour (closed forms where they exist) ---------------------------
    def check_spectrum(self, dim: int) -> None:
        """Raise ``ValueError`` when the normalised spectrum :math:`E(k)` does not exist in ``dim``.

        The default accepts every dimension (integrable profiles); heavy-tailed kernels
        (the inverse multiquadric) override it.
        """

    def linear_rate(self, k: np.ndarray, dim: int) -> np.ndarray | None:
        r"""Closed-form linear rate :math:`\lambda(k) = -|k|\,E'(|k|)`, or None (numerical path).

        ``k`` is a validated float64 array of wave numbers :math:`\geq 0`; the result has its
        shape, is finite for every finite ``k`` and underflows to 0 where the rate is below
        the smallest float64 (never NaN). See :func:`driftlab.spectral.rate`.
        """
        return None

    def rate_peak(self, dim: int) -> tuple[float, float] | None:
        r"""Closed-form fastest mode :math:`(k^*, \lambda_{\max})`, or None (numerical search)."""
        return None

    def inverse_spectrum(self, value: float, dim: int) -> float | None:
        r"""The argument :math:`z = \ell|k|` at which the spectrum takes ``value`` in (0, 1), or None.

        Every radial kernel has :math:`E(k) = F(\ell k)` for a shape function F; this is
        :math:`F^{-1}` in closed form (None: callers find the root numerically).
        """
        return None

    @property
    def capabilities(self) -> frozenset[str]:
        """What the kernel provides in closed form or natively, as flags.

        ``"closed_fourier"``, ``"closed_rate"``, ``"closed_peak"``, ``"closed_inverse"``
        (overridden :meth:`_fourier_closed`, :meth:`linear_rate`, :meth:`rate_peak`,
        :meth:`inverse_spectrum`), ``"fast_form"`` (a :class:`FastForm` for the fast engine
        backends), ``"torch"`` (profiles on torch tensors), ``"compact_support"``. Closed forms
        that exist only in some dimensions (the inverse multiquadric's, for beta > d/2) are
        flagged and refused by :meth:`check_spectrum` elsewhere.

        Examples
        --------
        >>> from driftlab.kernels import Gaussian, Wendland
        >>> "closed_rate" in Gaussian(1.0).capabilities, "closed_rate" in Wendland(1.0).capabilities
        (True, False)
        """
        cls = type(self)
        flags = {"torch"}
        for flag, meth in (("closed_fourier", "_fourier_closed"), ("closed_rate", "linear_rate"),
                           ("closed_peak", "rate_peak"), ("closed_inverse", "inverse_spectrum")):
            if getattr(cls, meth) is not getattr(RadialKernel, meth):
                flags.add(flag)
        if self.fast_form is not None:
            flags.add("fast_form")
        if self.support_radius is not None:
            flags.add("compact_support")
        return frozenset(flags)

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
        self.check_spectrum(dim)
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
