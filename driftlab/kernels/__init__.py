"""Radial kernels as objects.

Every kernel gives its log-profile, radial log-derivative, normalised d-dimensional Fourier
transform (closed form where one exists, numerical Hankel transform otherwise) and validates
its parameters. See :class:`RadialKernel` for the interface.

>>> from driftlab.kernels import Laplace, make_kernel
>>> make_kernel("laplace", 0.05) == Laplace(0.05)
True
"""

from driftlab.kernels._base import FastForm, RadialKernel
from driftlab.kernels._hankel import radial_fourier, sphere_average
from driftlab.kernels._profiles import Gaussian, InverseMultiquadric, Laplace, Matern, Wendland

__all__ = [
    "RadialKernel",
    "FastForm",
    "Gaussian",
    "Laplace",
    "Matern",
    "InverseMultiquadric",
    "Wendland",
    "make_kernel",
    "KERNEL_NAMES",
    "radial_fourier",
    "sphere_average",
]

KERNEL_NAMES = ("gaussian", "laplace", "companion", "matern", "imq", "wendland")


def make_kernel(name: str, scale: float, *, nu: float | None = None, beta: float | None = None) -> RadialKernel:
    """Build a kernel from its CLI name and its length scale.

    Parameters
    ----------
    name : {"gaussian", "laplace", "companion", "matern", "imq", "wendland"}
    scale : float
        Bandwidth (gaussian), temperature (laplace, companion), length scale (matern),
        scale c (imq) or support radius (wendland).
    nu : float, optional
        Matérn smoothness (default 1.5).
    beta : float, optional
        IMQ exponent (default 0.5).
    """
    key = str(name).lower().replace("_", "-")
    if key == "gaussian":
        return Gaussian(scale)
    if key == "laplace":
        return Laplace(scale)
    if key in ("companion", "laplace-companion", "sharp"):
        return Matern.companion(scale)
    if key == "matern":
        return Matern(1.5 if nu is None else nu, scale)
    if key in ("imq", "inverse-multiquadric"):
        return InverseMultiquadric(scale, 0.5 if beta is None else beta)
    if key == "wendland":
        return Wendland(scale)
    raise ValueError(f"unknown kernel name {name!r}; choose one of {', '.join(KERNEL_NAMES)}")
