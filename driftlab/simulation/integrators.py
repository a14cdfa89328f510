r"""Time integrators of the particle dynamics :math:`\dot x = V(x; s(t))`, chosen by name.

An integrator is a small object with a ``name`` and a ``step`` method (the
:class:`Integrator` protocol); :data:`INTEGRATORS` maps the names the configuration stores
(``SimulationConfig.integrator`` stays a JSON string) to the objects, and
:func:`get_integrator` looks one up with a clear error. A new scheme is one class plus one
:func:`register_integrator` call.

For a linear mode with decay rate :math:`\lambda` and step :math:`\eta` the amplification
factor per step is :math:`1 - \eta\lambda` (:class:`Euler`) and
:math:`1 - \eta\lambda + (\eta\lambda)^2/2` (:class:`Heun`).

>>> from driftlab.simulation.integrators import INTEGRATORS, get_integrator
>>> sorted(INTEGRATORS)
['euler', 'heun']
>>> get_integrator("heun").evaluations
2
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

__all__ = ["Integrator", "Euler", "Heun", "INTEGRATORS", "get_integrator", "register_integrator"]

#: ``field(x, t) -> V``: the drift at positions ``x`` and time ``t``
Field = Callable[[Any, float], Any]
#: ``wrap(x) -> x``: positions mapped back into the domain (identity in R^d, mod L on a torus)
Wrap = Callable[[Any], Any]


@runtime_checkable
class Integrator(Protocol):
    """One step of an explicit scheme for :math:`\\dot x = V(x, t)`.

    Attributes
    ----------
    name : str
        The key in :data:`INTEGRATORS` (what ``SimulationConfig.integrator`` holds).
    evaluations : int
        Field evaluations per step (the one at ``(x, t)`` included).
    """

    name: str
    evaluations: int

    def step(self, field: Field, x: Any, t: float, eta: float, v: Any, wrap: Wrap) -> Any:
        """Positions at ``t + eta`` from ``x`` at ``t``.

        Parameters
        ----------
        field : callable(x, t) -> V
            The drift (called for any evaluation beyond the first).
        x : array (N, d)
            Positions at time ``t``.
        t, eta : float
            Current time and time step.
        v : array (N, d)
            ``field(x, t)``, already computed by the caller (it is also observed).
        wrap : callable(x) -> x
            Maps positions into the domain; applied to every intermediate position.

        Returns
        -------
        array (N, d)
        """
        ...  # pragma: no cover


class Euler:
    r"""Explicit Euler: :math:`x \leftarrow x + \eta V(x, t)` (one field evaluation)."""

    name = "euler"
    evaluations = 1

    def step(self, field: Field, x: Any, t: float, eta: float, v: Any, wrap: Wrap) -> Any:
        return wrap(x + eta * v)

    def __repr__(self) -> str:
        return "Euler()"


class Heun:
    r"""Heun (explicit trapezoid): predictor :math:`\tilde x = x + \eta V(x, t)`, then
    :math:`x \leftarrow x + \tfrac{\eta}{2}\,(V(x, t) + V(\tilde x, t + \eta))` (two evaluations;
    the corrector's field is taken at the *next* time, so an annealed bandwidth enters at
    :math:`s(t + \eta)`)."""

    name = "heun"
    evaluations = 2

    def step(self, field: Field, x: Any, t: float, eta: float, v: Any, wrap: Wrap) -> Any:
        predicted = wrap(x + eta * v)
        v_next = field(predicted, t + eta)
        return wrap(x + (0.5 * eta) * (v + v_next))

    def __repr__(self) -> str:
        return "Heun()"


#: name -> integrator (the names are what configurations and checkpoints store)
INTEGRATORS: dict[str, Integrator] = {}


def register_integrator(integrator: Integrator) -> Integrator:
    """Add ``integrator`` to :data:`INTEGRATORS` under ``integrator.name``.

    Raises
    ------
    TypeError
        If ``integrator`` does not have a string ``name``, an integer ``evaluations`` and a
        ``step`` method.
    ValueError
        If the name is already taken by another integrator.
    """
    if not isinstance(integrator, Integrator) or not isinstance(integrator.name, str):
        raise TypeError(f"integrator must have a str name, an int evaluations and a step method, got {integrator!r}")
    known = INTEGRATORS.get(integrator.name)
    if known is not None and known is not integrator:
        raise ValueError(f"integrator name {integrator.name!r} is already registered ({known!r})")
    INTEGRATORS[integrator.name] = integrator
    return integrator


def get_integrator(name: str) -> Integrator:
    """The integrator registered as ``name``.

    Raises
    ------
    ValueError
        If no integrator has that name (the message lists the registered ones).
    """
    try:
        return INTEGRATORS[name]
    except (KeyError, TypeError):  # TypeError: an unhashable name
        raise ValueError(f"integrator must be one of {sorted(INTEGRATORS)}, got {name!r}") from None


register_integrator(Euler())
register_integrator(Heun())
