r"""The engine's backend protocol and registry.

A backend is one object, registered once (at the import of its module), that says

* whether it can run here (:meth:`Backend.unavailable`: a reason string, or None),
* whether it computes a given call (:meth:`Backend.unsupported`: a reason, or None),
* how much the automatic choice prefers it for that call (:meth:`Backend.auto_rank`:
  a number, higher first, or None to never be chosen automatically), and
* the sums themselves (:meth:`Backend.sums`).

Everything about a call except the arrays is one :class:`SumsCall`. The dispatcher
(:func:`driftlab.engine.kernel_sums_trusted`) converts the arrays to the backend's kind
(:attr:`Backend.arrays`) and, for backends that do not handle a torus themselves
(:attr:`Backend.periodic` false), expands the lattice images first; so a backend only ever
sees what it declared. Adding a backend is one module that subclasses :class:`Backend` and
calls :func:`register` (the built-in ones are imported by :mod:`driftlab.engine`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from driftlab import _backend as B

__all__ = ["Backend", "SumsCall", "register", "unregister", "get_backend", "registered", "BACKENDS",
           "choose", "torch_importable"]


@dataclass(frozen=True)
class SumsCall:
    """Everything a backend needs to know about one kernel-sum call except the arrays.

    Attributes
    ----------
    kernel : RadialKernel
    n, m, d : int
        Queries, references (before any lattice expansion) and dimension.
    device : str
        ``"cpu"`` for numpy input, else the torch device type (``"cpu"``, ``"cuda"``, ...).
    dtype : str
        ``"float32"`` or ``"float64"`` (the input's).
    is_torch : bool
        Whether the input arrays are torch tensors.
    need_log_total : bool
        Whether the row log-normalisers are wanted.
    mask_self : bool
        Drop the pairs ``i == j``.
    period : float or None
        Side of the torus, None for R^d.
    wrap : {"lattice", "minimum_image"}
    images : int
        Lattice images per direction (``wrap="lattice"``).
    tile_rows, tile_cols : int or None
        Tile sizes (chunked backends).
    distance : {"auto", "direct", "expand"}
    """

    kernel: Any
    n: int
    m: int
    d: int
    device: str = "cpu"
    dtype: str = "float64"
    is_torch: bool = False
    need_log_total: bool = True
    mask_self: bool = False
    period: float | None = None
    wrap: str = "lattice"
    images: int = 1
    tile_rows: int | None = None
    tile_cols: int | None = None
    distance: str = "auto"

    @classmethod
    def of(cls, x, y, kernel, **options) -> "SumsCall":
        """The call for arrays ``x`` (n, d) and ``y`` (m, d) (numpy arrays or torch tensors)."""
        is_t = B.is_torch(x)
        dtype = str(x.dtype).removeprefix("torch.") if is_t else x.dtype.name
        return cls(kernel, int(x.shape[0]), int(y.shape[0]), int(x.shape[1]), x.device.type if is_t else "cpu",
                   dtype, is_t, **options)

    @property
    def lattice(self) -> bool:
        """A torus periodised by the lattice sum (``wrap="lattice"``)."""
        return self.period is not None and self.wrap == "lattice"

    @property
    def minimum_image(self) -> bool:
        """A torus with nearest-image displacements (``wrap="minimum_image"``)."""
        return self.period is not None and self.wrap == "minimum_image"

    @property
    def copies(self) -> int:
        """Copies of the references the lattice sum visits: ``(2 images + 1)^d`` (else 1)."""
        return (2 * self.images + 1) ** self.d if self.lattice else 1

    @property
    def pairs(self) -> int:
        """Kernel evaluations: ``n * m * copies``."""
        return self.n * self.m * self.copies


class Backend:
    """One way to compute the kernel sums (subclass it and :func:`register` an instance).

    Class attributes
    ----------------
    name : str
        The ``backend=`` value that selects it.
    arrays : {"torch", "numpy"}
        What :meth:`sums` receives: torch tensors (numpy input is wrapped without a copy) or
        numpy arrays (torch input is copied to the host).
    periodic : bool
        True: :meth:`sums` handles a torus itself (``call.period``, ``call.wrap``,
        ``call.images``) on the points as given. False: on a lattice torus the points are
        wrapped into ``[0, L)`` and the references' images appended before :meth:`sums`,
        which then works in R^d; only a minimum-image torus reaches it (``call.minimum_image``).
    """

    name: str = ""
    arrays: str = "torch"
    periodic: bool = False

    def unavailable(self, x: Any = None) -> str | None:
        """Why this backend cannot run here (for the device of ``x`` when given), or None."""
        return None

    def available(self, x: Any = None) -> bool:
        """Whether it can run here (:meth:`unavailable` is None)."""
        return self.unavailable(x) is None

    def unsupported(self, call: SumsCall) -> str | None:
        """Why it does not compute ``call`` (kernel, dtype, torus, size, ...), or None."""
        return None

    def supports(self, call: SumsCall) -> bool:
        """Whether it computes ``call`` (:meth:`unsupported` is None)."""
        return self.unsupported(call) is None

    def auto_rank(self, call: SumsCall) -> float | None:
        """Preference of ``backend="auto"`` for ``call`` (highest wins), None: never automatic."""
        return None

    def sums(self, call: SumsCall, x, y, log_weights):
        """``(log_total (n,) or None, shift (n, d))`` in the arrays of :attr:`arrays`."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<driftlab engine backend {self.name!r}>"


_REGISTRY: dict[str, Backend] = {}


def register(backend: Backend, *, replace: bool = False) -> Backend:
    """Add ``backend`` to the registry under ``backend.name`` (returned, for use as a decorator).

    Raises ValueError for a name already taken (unless ``replace``) or a reserved/empty one.
    """
    if not isinstance(backend, Backend):
        raise TypeError(f"backend must be a driftlab.engine.Backend instance, got {type(backend).__name__}")
    name = backend.name
    if not isinstance(name, str) or not name or name == "auto":
        raise ValueError(f"a backend needs a non-empty name other than 'auto', got {name!r}")
    if backend.arrays not in ("torch", "numpy"):
        raise ValueError(f"backend {name!r}: arrays must be 'torch' or 'numpy', got {backend.arrays!r}")
    if name in _REGISTRY and not replace:
        raise ValueError(f"an engine backend named {name!r} is already registered")
    _REGISTRY[name] = backend
    return backend


def unregister(name: str) -> Backend:
    """Remove and return the backend called ``name`` (ValueError if there is none)."""
    if name not in _REGISTRY:
        raise ValueError(f"no engine backend named {name!r}; registered: {tuple(_REGISTRY)}")
    return _REGISTRY.pop(name)


def get_backend(name: str) -> Backend:
    """The registered backend called ``name`` (ValueError naming the valid ones otherwise)."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"backend must be one of {tuple(BACKENDS)}, got {name!r}") from None


def registered() -> tuple[Backend, ...]:
    """The registered backends, in registration order."""
    return tuple(_REGISTRY.values())


class _BackendNames(Sequence):
    """``("auto", *registered names)``, read from the registry at each use (a live view)."""

    def _names(self) -> tuple[str, ...]:
        return ("auto", *_REGISTRY)

    def __getitem__(self, i):
        return self._names()[i]

    def __len__(self) -> int:
        return len(_REGISTRY) + 1

    def __contains__(self, name) -> bool:
        return name == "auto" or (isinstance(name, str) and name in _REGISTRY)

    def __eq__(self, other) -> bool:
        return isinstance(other, (tuple, list, _BackendNames)) and tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._names())


#: the valid ``backend=`` values: ``"auto"`` and every registered backend (a live view)
BACKENDS = _BackendNames()


def choose(call: SumsCall, x: Any) -> str:
    """The automatic choice: the available backend that supports ``call`` with the highest
    :meth:`Backend.auto_rank` (ties: the first registered)."""
    best, best_rank = None, None
    for be in _REGISTRY.values():
        rank = be.auto_rank(call)
        if rank is None or (best_rank is not None and rank <= best_rank):
            continue
        if be.available(x) and be.supports(call):
            best, best_rank = be.name, rank
    if best is None:
        raise ValueError(f"no registered engine backend computes this call automatically ({call}); "
                         f"pass backend= explicitly")
    return best


_TORCH_IMPORTABLE: bool | None = None


def torch_importable() -> bool:
    """Whether torch can be imported (checked once, without importing it)."""
    global _TORCH_IMPORTABLE
    if _TORCH_IMPORTABLE is None:
        _TORCH_IMPORTABLE = importlib.util.find_spec("torch") is not None
    return _TORCH_IMPORTABLE
