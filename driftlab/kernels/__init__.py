"""Radial kernels as objects.

Every kernel gives its log-profile, radial log-derivative, normalised d-dimensional Fourier
transform (closed form where one exists, numerical Hankel transform otherwise), its spectral
behaviour (closed-form linear rate, fastest mode and spectrum inverse where they exist),
rescaling to a new length scale, capability flags and the closed form the fast engine
backends evaluate; and it validates its parameters. See :class:`RadialKernel` for the
interface. Every constructor takes the length scale as its first argument or as ``scale=``
(in :data:`~driftlab._validation.LENGTH_SCALE_RANGE`).

Kernels are reachable by name through one registry (:func:`register_kernel`,
:func:`make_kernel`, :func:`kernel_names`); the CLI's kernel choices come from it.

>>> from driftlab.kernels import Laplace, make_kernel
>>> make_kernel("laplace", 0.05) == Laplace(0.05)
True
"""

from driftlab.kernels._base import FastForm, RadialKernel
from driftlab.kernels._hankel import radial_fourier, radial_fourier_derivative, sphere_average
from driftlab.kernels._profiles import Companion, Gaussian, InverseMultiquadric, Laplace, Matern, Wendland
from driftlab.kernels._registry import (
    KernelEntry,
    kernel_entry,
    kernel_names,
    make_kernel,
    register_kernel,
    unregister_kernel,
)

__all__ = [
    "Companion",
    "RadialKernel",
    "FastForm",
    "Gaussian",
    "Laplace",
    "Matern",
    "InverseMultiquadric",
    "Wendland",
    "make_kernel",
    "kernel_names",
    "kernel_entry",
    "register_kernel",
    "unregister_kernel",
    "KernelEntry",
    "radial_fourier",
    "radial_fourier_derivative",
    "sphere_average",
]
