"""Argument validation shared by every public function.

The numeric cores (private ``_*`` functions) trust their inputs; the public functions call
these helpers first so that bad input fails loudly, with the argument's name, instead of
producing a silent NaN or a wrong answer.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from driftlab import _backend as B

__all__ = [
    "check_positive",
    "check_nonnegative",
    "check_finite_scalar",
    "check_int",
    "check_points",
    "check_same_backend",
    "check_weights",
    "check_length_scale",
    "LENGTH_SCALE_RANGE",
    "one_of_aliases",
]

#: Representable kernel length scales: s^2 and 1/s^2 are finite normal float64 numbers
#: across the whole interval (and so are s/r and r/s for distances of order s), with
#: margin: about 2e-154 < s < 1e154 is where float64 squares stay normal.
LENGTH_SCALE_RANGE = (1e-150, 1e150)


def check_finite_scalar(value: Any, name: str) -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def check_positive(value: Any, name: str) -> float:
    """Return ``value`` as a float, or raise unless it is finite and > 0."""
    value = check_finite_scalar(value, name)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


def check_length_scale(value: Any, name: str) -> float:
    """Return ``value`` as a float, or raise unless it lies in :data:`LENGTH_SCALE_RANGE`.

    Outside that range squares or reciprocals of the length scale overflow or underflow in
    float64, so a kernel built from it would divide by zero or return a silent 0.
    """
    value = check_positive(value, name)
    lo, hi = LENGTH_SCALE_RANGE
    if not lo <= value <= hi:
        raise ValueError(
            f"{name} must lie in [{lo:g}, {hi:g}] (the representable range of kernel length "
            f"scales in float64), got {value!r}; rescale the data instead"
        )
    return value


def one_of_aliases(owner: str, **candidates: Any) -> tuple[str, Any]:
    """The one keyword given among equivalent aliases: ``(name, value)``, ``(first, None)`` if none.

    Raises ``TypeError`` naming both when more than one is given (for example a kernel
    called with ``scale=`` and ``bandwidth=``).
    """
    given = [(k, v) for k, v in candidates.items() if v is not None]
    if len(given) > 1:
        names = " and ".join(f"{k}=" for k, _ in given)
        raise TypeError(f"{owner} got {names}: they are aliases of one parameter, pass only one")
    if given:
        return given[0]
    return next(iter(candidates)), None


def check_nonnegative(value: Any, name: str) -> float:
    value = check_finite_scalar(value, name)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


def check_int(value: Any, name: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_points(x: Any, name: str, dim: int | None = None, allow_empty: bool = False):
    """Validate a point set of shape ``(n, d)``; 1-D input of shape ``(n,)`` is read as d = 1.

    Accepts numpy arrays, array-likes and torch tensors. Returns an array of the same
    backend with shape ``(n, d)`` and a floating dtype (float32 or float64). Integer input
    is promoted to float64 (numpy) / default dtype (torch).
    """
    if B.is_torch(x):
        torch = B.torch()
        if x.dtype not in (torch.float32, torch.float64):
            if x.dtype.is_floating_point or x.dtype.is_complex:
                raise TypeError(f"{name} must be float32 or float64, got {x.dtype}")
            x = x.to(torch.get_default_dtype())
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2:
            raise ValueError(f"{name} must have shape (n, d) or (n,), got shape {tuple(x.shape)}")
        if not allow_empty and x.shape[0] == 0:
            raise ValueError(f"{name} is empty: it needs at least one point")
        if dim is not None and x.shape[1] != dim:
            raise ValueError(f"{name} has dimension {x.shape[1]}, expected {dim}")
        if x.numel() and not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contains NaN or inf")
        return x
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name} must be an array of points, got {type(x).__name__}")
    arr = np.asarray(x)
    if arr.dtype == object:
        raise TypeError(f"{name} must be a numeric array, got dtype object")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real, got dtype {arr.dtype}")
    if arr.dtype not in (np.float32, np.float64):
        if np.issubdtype(arr.dtype, np.floating):
            raise TypeError(f"{name} must be float32 or float64, got {arr.dtype}")
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
            raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
        arr = arr.astype(np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d) or (n,), got shape {arr.shape}")
    if not allow_empty and arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one point")
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"{name} has dimension {arr.shape[1]}, expected {dim}")
    if arr.size and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def check_same_backend(named_arrays: dict[str, Any]) -> None:
    """Raise unless all arrays share one backend, one dtype and (for torch) one device."""
    items = [(k, v) for k, v in named_arrays.items() if v is not None]
    kinds = {k: ("torch" if B.is_torch(v) else "numpy") for k, v in items}
    if len(set(kinds.values())) > 1:
        desc = ", ".join(f"{k}={b}" for k, b in kinds.items())
        raise TypeError(f"mixed array backends ({desc}): pass all numpy arrays or all torch tensors")
    dtypes = {k: v.dtype for k, v in items}
    if len({str(d) for d in dtypes.values()}) > 1:
        desc = ", ".join(f"{k}={d}" for k, d in dtypes.items())
        raise TypeError(f"mixed dtypes ({desc}): cast to one of float32/float64 first")
    if items and kinds[items[0][0]] == "torch":
        devices = {k: str(v.device) for k, v in items}
        if len(set(devices.values())) > 1:
            desc = ", ".join(f"{k}={d}" for k, d in devices.items())
            raise ValueError(f"arrays on different devices ({desc}): move them to one device")


def check_weights(w: Any, n: int, name: str = "weights") -> np.ndarray:
    """Validate non-negative weights of length ``n`` with a positive sum; return them normalised."""
    arr = np.asarray(w, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    if (arr < 0).any():
        raise ValueError(f"{name} must be non-negative")
    total = arr.sum()
    if total <= 0:
        raise ValueError(f"{name} must have a positive sum")
    return arr / total
