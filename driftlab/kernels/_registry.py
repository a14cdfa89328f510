"""The kernel registry: CLI names -> how to build the kernel from a length scale.

A kernel family registers itself once (a class decorator, or a call for a variant such as
the Laplace companion kernel); :func:`make_kernel`, :func:`kernel_names` and every CLI
command's kernel choices read this table, so a new kernel is one class in one file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["KernelEntry", "register_kernel", "unregister_kernel", "kernel_entry", "kernel_names",
           "make_kernel"]


@dataclass(frozen=True)
class KernelEntry:
    """One registered kernel name.

    Attributes
    ----------
    name : str
        The primary name (CLI ``--kernel`` value).
    factory : callable
        ``factory(scale, **shape)`` returns the kernel with length scale ``scale``.
    shape : dict
        The shape parameters the factory takes, with their defaults (``{"nu": 1.5}``).
    aliases : tuple of str
        Other accepted names.
    summary : str
        One line for help texts.
    """

    name: str
    factory: Callable[..., Any]
    shape: dict = field(default_factory=dict)
    aliases: tuple = ()
    summary: str = ""


_REGISTRY: dict[str, KernelEntry] = {}  # primary names, in registration order
_ALIASES: dict[str, str] = {}  # every accepted key -> primary name


def _key(name: str) -> str:
    return str(name).strip().lower().replace("_", "-")


def register_kernel(name: str, factory: Callable[..., Any] | None = None, *, shape: dict | None = None,
                    aliases: tuple = (), summary: str = "", replace: bool = False):
    """Register a kernel under ``name``; usable as a class decorator.

    Parameters
    ----------
    name : str
        The primary name (lower case; ``_`` and ``-`` are equivalent).
    factory : callable, optional
        ``factory(scale, **shape)``. Default (decorator use): the class itself, called as
        ``cls(scale, **shape)``.
    shape : dict, optional
        Shape parameters and their defaults, e.g. ``{"nu": 1.5}``.
    aliases : tuple of str
        Further names.
    summary : str
        One line for help texts (default: the first line of the class docstring).
    replace : bool
        Allow re-registering an existing name (otherwise ``ValueError``).

    Examples
    --------
    >>> from driftlab.kernels import Laplace, kernel_names, register_kernel, unregister_kernel
    >>> _ = register_kernel("my-laplace", Laplace)
    >>> "my-laplace" in kernel_names()
    True
    >>> unregister_kernel("my-laplace")
    """
    def add(obj):
        fac = obj if factory is None else factory
        if not callable(fac):
            raise TypeError(f"factory for kernel {name!r} must be callable, got {type(fac).__name__}")
        key = _key(name)
        keys = [key] + [_key(a) for a in aliases]
        if not replace:
            taken = [k for k in keys if k in _ALIASES]
            if taken:
                raise ValueError(f"kernel name(s) {taken} already registered; pass replace=True to override")
        if key in _REGISTRY:
            unregister_kernel(key)
        doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
        entry = KernelEntry(key, fac, dict(shape or {}), tuple(keys[1:]), summary or (doc[0] if doc else ""))
        _REGISTRY[key] = entry
        for k in keys:
            _ALIASES[k] = key
        return obj

    if factory is not None:
        add(factory)
        return _REGISTRY[_key(name)]
    return add


def unregister_kernel(name: str) -> None:
    """Remove a registered name and its aliases (``KeyError`` if unknown)."""
    entry = kernel_entry(name)
    del _REGISTRY[entry.name]
    for k in [k for k, v in _ALIASES.items() if v == entry.name]:
        del _ALIASES[k]


def kernel_entry(name: str) -> KernelEntry:
    """The :class:`KernelEntry` for a name or alias (``ValueError`` listing the choices if unknown)."""
    key = _key(name)
    if key not in _ALIASES:
        raise ValueError(f"unknown kernel name {name!r}; choose one of {', '.join(kernel_names())}")
    return _REGISTRY[_ALIASES[key]]


def kernel_names(aliases: bool = False) -> tuple[str, ...]:
    """The registered primary names in registration order (with ``aliases=True``, every accepted name).

    >>> from driftlab.kernels import kernel_names
    >>> kernel_names()[:3]
    ('gaussian', 'laplace', 'matern')
    """
    return tuple(_ALIASES) if aliases else tuple(_REGISTRY)


def make_kernel(name: str, scale: float, *, nu: float | None = None, beta: float | None = None,
                **shape: Any):
    """Build a registered kernel from its name and its length scale.

    Parameters
    ----------
    name : str
        A name from :func:`kernel_names` (or an alias): ``"gaussian"``, ``"laplace"``,
        ``"companion"``, ``"matern"``, ``"imq"``, ``"wendland"``, or any registered kernel.
    scale : float
        The length scale as the family's constructor reads it: bandwidth (gaussian),
        temperature (laplace, companion), length scale (matern), scale c (imq), support
        radius (wendland).
    nu, beta, **shape : float, optional
        Shape parameters (Matérn nu, default 1.5; IMQ beta, default 0.5). A parameter the
        family does not take is ignored (the CLI passes ``--nu`` and ``--beta`` to every
        kernel); None means the default.

    Returns
    -------
    RadialKernel

    Examples
    --------
    >>> from driftlab.kernels import make_kernel
    >>> make_kernel("matern", 0.5, nu=2.5)
    Matern(nu=2.5, length_scale=0.5)
    """
    entry = kernel_entry(name)
    given = {"nu": nu, "beta": beta, **shape}
    kwargs = {k: (given[k] if given.get(k) is not None else default) for k, default in entry.shape.items()}
    return entry.factory(scale, **kwargs)
