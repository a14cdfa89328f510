r"""The conservative (KDE-gradient) drifting velocity of [FP] (Balasubramanian 2026).

[FP] K. Balasubramanian, "Finite-Particle Convergence Rates for Conservative and
Non-Conservative Drifting Models", arXiv:2605.22795 (2026).

The velocity is the difference of two kernel-smoothed scores,

.. math::

    v_h(x) = \nabla \log (K_h * p)(x) - \nabla \log (K_h * q)(x),

with :math:`K_h` the Gaussian kernel of standard deviation :math:`h` per coordinate. For the
Gaussian kernel Tweedie's identity gives :math:`\nabla \log (K_h * q)(x) = (m_q(x) - x) / h^2`
with :math:`m_q` the kernel mean of :math:`q` at :math:`x`, so

.. math::

    v_h(x) = \frac{m_p(x) - m_q(x)}{h^2},

the ``"separate"`` drift estimator (each sample set normalised on its own) divided by
:math:`h^2`. Both are computed here from the streamed, log-space engine sums of
:func:`driftlab.fields.batch_mean_shift` / :func:`driftlab.fields.batch_drift`: no
``n x m`` kernel matrix is formed and far data give the finite nearest-point answer instead
of ``0 / 0``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from driftlab import _backend as B
from driftlab._validation import check_length_scale, check_points, check_same_backend
from driftlab.fields.batch import batch_drift, batch_mean_shift
from driftlab.kernels import Gaussian

__all__ = ["kde_score", "conservative_velocity"]


def _finite_or_raise(v, h: float, what: str):
    ok = bool(B.ops(v).isfinite(v).all())
    if not ok:
        raise ValueError(
            f"the {what} overflows for bandwidth={h!r}: the kernel mean shift divided by "
            f"bandwidth**2 is not representable in {v.dtype}; rescale the points or raise the bandwidth"
        )
    return v


def kde_score(x: Any, samples: Any, bandwidth: Any, *, mask_self: bool = False,
              tile_size: int | None = None):
    r"""Score of the Gaussian kernel density estimate of ``samples`` at ``x``.

    .. math::

        \nabla \log \hat q_h(x), \qquad
        \hat q_h(x) = \frac{1}{m} \sum_{j=1}^{m} (2\pi h^2)^{-d/2}
        e^{-|x - y_j|^2 / (2 h^2)}, \qquad
        \nabla \log \hat q_h(x) = \frac{\hat m(x) - x}{h^2},

    with :math:`\hat m(x) - x` the Gaussian kernel mean shift
    (:func:`driftlab.fields.batch_mean_shift`), streamed in log space.

    Parameters
    ----------
    x : array, shape (n, d)
        Query points (numpy array or torch tensor).
    samples : array, shape (m, d)
        The points of the KDE; same backend, dtype and device as ``x``.
    bandwidth : float
        The Gaussian standard deviation :math:`h > 0` (inside the representable length-scale range).
    mask_self : bool
        Leave out the pairs ``i == j`` (``samples`` is ``x``): the leave-one-out KDE score.
    tile_size : int, optional
        Samples per streamed tile.

    Returns
    -------
    array, shape (n, d)
        Same type, dtype and device as ``x``.

    Raises
    ------
    ValueError
        A bandwidth outside the representable range, points of the wrong shape, or a score that
        overflows (displacements of order ``bandwidth**2 * max_float``).

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.fields import kde_score
    >>> kde_score(np.array([[1.0]]), np.array([[0.0]]), 0.5)   # one point: -(x - y) / h^2
    array([[-4.]])
    """
    h = check_length_scale(bandwidth, "bandwidth")
    shift = batch_mean_shift(x, samples, Gaussian(h), mask_self=mask_self, tile_size=tile_size)
    return _finite_or_raise(shift / (h * h), h, "KDE score")


def conservative_velocity(x: Any, data: Any, model: Any, bandwidth: Any, *, mask_self: bool = False,
                          tile_size: int | None = None):
    r"""Conservative KDE-gradient drifting velocity of [FP] at the points ``x``.

    .. math::

        v_h(x) = \nabla \log \hat p_h(x) - \nabla \log \hat q_h(x)
               = \frac{m_p(x) - m_q(x)}{h^2},

    with :math:`\hat p_h, \hat q_h` the Gaussian KDEs (standard deviation :math:`h`) of ``data``
    and ``model`` and :math:`m_p, m_q` their kernel means at :math:`x`. It is the gradient of
    :math:`\log(\hat p_h / \hat q_h)`, hence curl-free (a conservative field), and it vanishes
    identically when ``model`` and ``data`` are the same point set. Computed as the
    ``"separate"`` drift estimator of :func:`driftlab.fields.batch_drift` divided by
    :math:`h^2` (streamed in log space; no kernel matrix is formed).

    Parameters
    ----------
    x : array, shape (n, d)
        Query points (numpy array or torch tensor); in the particle flow, the model particles.
    data : array, shape (m_p, d)
        Samples of the data law :math:`p`.
    model : array, shape (m_q, d)
        Samples of the model law :math:`q` (often ``x`` itself).
    bandwidth : float
        The Gaussian standard deviation :math:`h > 0`; [FP] takes :math:`h \asymp N^{-1/(d+4)}`.
    mask_self : bool
        Leave the pairs ``(x_i, model_i)`` out of the model KDE (``model`` is ``x``). The default
        ``False`` keeps them: the plain KDE of [FP], whose self-interaction is the reciprocal-KDE
        term of its analysis.
    tile_size : int, optional
        Reference points per streamed tile.

    Returns
    -------
    array, shape (n, d)
        Same type, dtype and device as ``x``.

    Raises
    ------
    ValueError
        A bandwidth outside the representable range, points of mismatched shape or backend, or a
        velocity that overflows.

    References
    ----------
    K. Balasubramanian, "Finite-Particle Convergence Rates for Conservative and
    Non-Conservative Drifting Models", arXiv:2605.22795 (2026), Section 2.1.

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.fields import conservative_velocity
    >>> x = np.array([[0.0]])
    >>> conservative_velocity(x, np.array([[1.0]]), np.array([[-1.0]]), 1.0)  # (1 - (-1)) / 1
    array([[2.]])
    """
    h = check_length_scale(bandwidth, "bandwidth")
    if not isinstance(mask_self, (bool, np.bool_)):
        raise TypeError(f"mask_self must be a bool, got {type(mask_self).__name__} {mask_self!r}")
    x = check_points(x, "x")
    data = check_points(data, "data")
    model = check_points(model, "model")
    check_same_backend({"x": x, "data": data, "model": model})
    for name, arr in (("data", data), ("model", model)):
        if arr.shape[1] != x.shape[1]:
            raise ValueError(f"{name} has dimension {arr.shape[1]} but x has dimension {x.shape[1]}")
    if mask_self and model.shape[0] != x.shape[0]:
        raise ValueError(f"mask_self=True needs model to be the query set x (same length), got "
                         f"{model.shape[0]} model points for {x.shape[0]} query points")
    drift = batch_drift(x, data, model, Gaussian(h), method="separate", mask_self=bool(mask_self),
                        tile_size=tile_size)
    return _finite_or_raise(drift / (h * h), h, "conservative velocity")
