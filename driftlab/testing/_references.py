r"""Dense float64 references of the drift conventions, written line by line from the formulas.

These functions are deliberately naive: they form every ``n x m`` matrix, compute in numpy
float64 with log-sum-exp normalisations, and share no code with driftlab's streamed
estimators (:mod:`driftlab.fields`), so that they can check them. Keep the inputs small
(a few hundred points): memory is ``O(n m d)``.

Every reference returns ``(V, L)``: the field, shape ``(n, d)``, and the largest absolute
logit that carries weight in the computation (the conditioning number the conformance
tolerances are scaled by: a logit ``l`` computed with relative error ``eps`` perturbs its
weight by ``eps |l|``).

Kernels (``kernel=``), with ``r = |x - y|`` and ``t`` the temperature:

``"laplace"``  :math:`\log k = -r / t`  (the kernel of [D])
``"gaussian"`` :math:`\log k = -r^2 / (2 t^2)`
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "log_kernel",
    "joint_reference",
    "alg2_reference",
    "separate_reference",
    "kernel_gradient_reference",
    "gaussian_score_reference",
    "official_reference",
    "KERNELS",
]

KERNELS = ("laplace", "gaussian")
#: logits more than this far below their row maximum carry weight < e^-60: not counted in L
_WEIGHT_WINDOW = 60.0


def _f64(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (m, d), got {a.shape}")
    return a


def _displacements(x: np.ndarray, y: np.ndarray):
    """``y_j - x_i`` (n, m, d) and the distances (n, m) from direct differences."""
    diff = y[None, :, :] - x[:, None, :]
    return diff, np.sqrt((diff * diff).sum(-1))


def log_kernel(r: np.ndarray, temperature: float, kernel: str) -> np.ndarray:
    """Log-profile of the named kernel at distances ``r``."""
    t = float(temperature)
    if kernel == "laplace":
        return -r / t
    if kernel == "gaussian":
        return -(r * r) / (2.0 * t * t)
    raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")


def _grad_log_kernel(diff: np.ndarray, r: np.ndarray, temperature: float, kernel: str) -> np.ndarray:
    r"""``grad_x log k(x_i, y_j)`` (n, m, d); ``diff`` is ``y - x``."""
    t = float(temperature)
    if kernel == "gaussian":
        return diff / (t * t)
    if kernel == "laplace":
        # d/dx (-|x - y| / t) = (y - x) / (t |x - y|); 0 at coincident points (subgradient 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            u = np.where(r[..., None] > 0, diff / r[..., None], 0.0)
        return u / t
    raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")


def _lse(a: np.ndarray, axis: int) -> np.ndarray:
    """log sum exp along ``axis`` (keepdims); ``-inf`` for an all ``-inf`` slice."""
    top = np.max(a, axis=axis, keepdims=True)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.sum(np.exp(a - safe), axis=axis, keepdims=True))


def _weighted_logit_max(logits: np.ndarray) -> float:
    """Largest ``|logit|`` among the entries within the weight window of their row maximum."""
    finite = np.where(np.isfinite(logits), logits, -np.inf)
    top = finite.max(axis=-1, keepdims=True)
    live = finite >= top - _WEIGHT_WINDOW
    vals = np.abs(np.where(live & np.isfinite(finite), finite, 0.0))
    return float(vals.max()) if vals.size else 0.0


def _masked_logits(x, yp, yn, temperature, kernel, self_mask):
    dp, rp = _displacements(x, yp)
    dn, rn = _displacements(x, yn)
    lp = log_kernel(rp, temperature, kernel)
    ln = log_kernel(rn, temperature, kernel)
    if self_mask:
        if yn.shape[0] != x.shape[0]:
            raise ValueError("self_mask needs the negatives to be the queries (same length)")
        ln = ln.copy()
        ln[np.arange(x.shape[0]), np.arange(x.shape[0])] = -np.inf
    return dp, dn, lp, ln


def joint_reference(x, y_pos, y_neg, temperature, *, kernel="laplace", self_mask=False):
    r"""Row softmax over the joint set ``[Y+ | Y-]``.

    :math:`A = \mathrm{softmax}_\mathrm{row}(\log k)`, :math:`W^\pm = A^\pm \sum A^\mp`,
    :math:`V = \sum_j W^+_{ij}(y^+_j - x_i) - \sum_j W^-_{ij}(y^-_j - x_i)`.
    """
    x, yp, yn = _f64(x, "x"), _f64(y_pos, "y_pos"), _f64(y_neg, "y_neg")
    dp, dn, lp, ln = _masked_logits(x, yp, yn, temperature, kernel, self_mask)
    logits = np.concatenate([lp, ln], axis=1)
    a = np.exp(logits - _lse(logits, 1))
    ap, an = a[:, : yp.shape[0]], a[:, yp.shape[0]:]
    wp = ap * an.sum(1, keepdims=True)
    wn = an * ap.sum(1, keepdims=True)
    v = np.einsum("nm,nmd->nd", wp, dp) - np.einsum("nm,nmd->nd", wn, dn)
    return v, _weighted_logit_max(logits)


def alg2_reference(x, y_pos, y_neg, temperature, *, kernel="laplace", self_mask=False):
    r"""[D] Algorithm 2: :math:`A = \sqrt{\mathrm{softmax}_\mathrm{row}\,\mathrm{softmax}_\mathrm{col}}`.

    The row softmax runs over the joint targets ``[Y+ | Y-]``, the column softmax over the
    queries; with ``self_mask`` the pairs ``(x_i, y^-_i)`` are dropped from both.
    """
    x, yp, yn = _f64(x, "x"), _f64(y_pos, "y_pos"), _f64(y_neg, "y_neg")
    dp, dn, lp, ln = _masked_logits(x, yp, yn, temperature, kernel, self_mask)
    logits = np.concatenate([lp, ln], axis=1)
    log_row = logits - _lse(logits, 1)
    log_col = logits - _lse(logits, 0)
    a = np.exp(0.5 * (log_row + log_col))
    ap, an = a[:, : yp.shape[0]], a[:, yp.shape[0]:]
    wp = ap * an.sum(1, keepdims=True)
    wn = an * ap.sum(1, keepdims=True)
    v = np.einsum("nm,nmd->nd", wp, dp) - np.einsum("nm,nmd->nd", wn, dn)
    cond = max(_weighted_logit_max(logits), _weighted_logit_max(logits.T))
    return v, cond


def _self_normalised(logits, vectors):
    w = np.exp(logits - _lse(logits, 1))
    return np.einsum("nm,nmd->nd", w, vectors)


def separate_reference(x, y_pos, y_neg, temperature, *, kernel="laplace", self_mask=False):
    r"""Separately normalised mean shifts: :math:`\hat m^+(x) - \hat m^-(x)` (biased at p = q)."""
    x, yp, yn = _f64(x, "x"), _f64(y_pos, "y_pos"), _f64(y_neg, "y_neg")
    dp, dn, lp, ln = _masked_logits(x, yp, yn, temperature, kernel, self_mask)
    v = _self_normalised(lp, dp) - _self_normalised(ln, dn)
    return v, max(_weighted_logit_max(lp), _weighted_logit_max(ln))


def kernel_gradient_reference(x, y_pos, y_neg, temperature, *, kernel="laplace", self_mask=False):
    r"""[KG]: :math:`\nabla \log \hat p_k(x) - \nabla \log \hat q_k(x)`, with
    :math:`\hat p_k(x) = \sum_j k(x, y^+_j)` (units of 1/length)."""
    x, yp, yn = _f64(x, "x"), _f64(y_pos, "y_pos"), _f64(y_neg, "y_neg")
    dp, dn, lp, ln = _masked_logits(x, yp, yn, temperature, kernel, self_mask)
    rp = np.sqrt((dp * dp).sum(-1))
    rn = np.sqrt((dn * dn).sum(-1))
    gp = _grad_log_kernel(dp, rp, temperature, kernel)
    gn = _grad_log_kernel(dn, rn, temperature, kernel)
    v = _self_normalised(lp, gp) - _self_normalised(ln, gn)
    return v, max(_weighted_logit_max(lp), _weighted_logit_max(ln))


def _log_gaussian_kde_and_score(x, y, s):
    """log of the Gaussian KDE of ``y`` (bandwidth s) at ``x`` and its gradient, both dense."""
    d = x.shape[1]
    diff = y[None, :, :] - x[:, None, :]
    sq = (diff * diff).sum(-1)
    log_phi = -sq / (2.0 * s * s) - 0.5 * d * math.log(2.0 * math.pi * s * s) - math.log(y.shape[0])
    log_p = _lse(log_phi, 1)[:, 0]
    # grad p = sum_j phi_j (y_j - x) / s^2, so grad log p = sum_j (phi_j / p) (y_j - x) / s^2
    resp = np.exp(log_phi - log_p[:, None])
    score = np.einsum("nm,nmd->nd", resp, diff) / (s * s)
    return log_p, score, _weighted_logit_max(-sq / (2.0 * s * s))


def gaussian_score_reference(x, y_pos, y_neg, temperature, *, self_mask=False, kernel="gaussian"):
    r"""Mean shift with a Gaussian kernel of bandwidth ``s`` as a score difference:
    :math:`s^2 (\nabla \log \hat p_s - \nabla \log \hat q_s)(x)` with Gaussian KDEs of bandwidth s."""
    if kernel != "gaussian":
        raise ValueError("the gaussian-score convention has the Gaussian kernel only")
    if self_mask:
        raise ValueError("the gaussian-score convention has no self-masked form")
    x, yp, yn = _f64(x, "x"), _f64(y_pos, "y_pos"), _f64(y_neg, "y_neg")
    s = float(temperature)
    _, sp, cp = _log_gaussian_kde_and_score(x, yp, s)
    _, sn, cn = _log_gaussian_kde_and_score(x, yn, s)
    return s * s * (sp - sn), max(cp, cn)


def _softmax(z: np.ndarray, axis: int) -> np.ndarray:
    return np.exp(z - _lse(z, axis))


def official_reference(gen, pos, neg, temperatures=(0.02, 0.05, 0.2), *, floor=1e-6,
                       self_mask_offset=100.0, distance_scale=None, weight_gen=None,
                       weight_pos=None, weight_neg=None):
    r"""The official multi-temperature field of [D], dense; ``(n, d)`` or grouped ``(G, n, d)``.

    Targets ``T = [gen, neg, pos]`` with weights ``w``; distances
    ``sqrt(max(|x - t|^2, 1e-8))``; scale = weighted mean distance over all gen-target pairs
    (self-pairs included, pooled over the groups) unless ``distance_scale`` is given;
    normalised distances ``d / max(scale, 1e-3)`` plus ``self_mask_offset`` on the
    self-pairs; per temperature R: logits ``-dn / R``,
    ``A = w sqrt(max(softmax_row * softmax_col, floor))`` (column softmax over the generated
    points of the group), force in the coordinates divided by ``c = max(scale / sqrt(d), 1e-3)``:
    ``F_i = sum_- A sum_+ A (t - x) / c - sum_+ A sum_- A (t - x) / c``, normalised by
    ``sqrt(max(mean F^2, 1e-8))`` (mean pooled over the groups); the field is the sum over
    temperatures. Weights have shape ``(m,)`` (or ``(G, m)`` grouped).
    """
    gen = np.asarray(gen, dtype=np.float64)
    grouped = gen.ndim == 3
    if not grouped:
        gen = _f64(gen, "gen")[None]
    G, n, d = gen.shape
    pos = np.asarray(pos, np.float64).reshape(G, -1, d)
    neg = np.zeros((G, 0, d)) if neg is None else np.asarray(neg, np.float64).reshape(G, -1, d)

    def weights(w, m):
        return np.ones((G, m)) if w is None else np.asarray(w, np.float64).reshape(G, m)

    targets = np.concatenate([gen, neg, pos], axis=1)
    tw = np.concatenate([weights(weight_gen, n), weights(weight_neg, neg.shape[1]),
                         weights(weight_pos, pos.shape[1])], axis=1)
    diff = targets[:, None, :, :] - gen[:, :, None, :]               # (G, n, T, d)
    dist = np.sqrt(np.maximum((diff * diff).sum(-1), 1e-8))         # (G, n, T)
    if distance_scale is not None:
        scale = float(distance_scale)
    else:
        scale = float((dist * tw[:, None, :]).mean() / tw.mean())
    c = max(scale / math.sqrt(d), 1e-3)
    dn = dist / max(scale, 1e-3)
    dn[:, np.arange(n), np.arange(n)] += float(self_mask_offset)
    n_neg = n + neg.shape[1]
    field = np.zeros((G, n, d))
    cond = 0.0
    for R in temperatures:
        lg = -dn / float(R)
        forces = []
        for g in range(G):
            cond = max(cond, _weighted_logit_max(lg[g]), _weighted_logit_max(lg[g].T))
            aff = np.sqrt(np.maximum(_softmax(lg[g], 1) * _softmax(lg[g], 0), float(floor))) * tw[g][None, :]
            a_neg, a_pos = aff[:, :n_neg], aff[:, n_neg:]
            forces.append((a_neg.sum(1)[:, None] * np.einsum("nm,nmd->nd", a_pos, diff[g][:, n_neg:])
                           - a_pos.sum(1)[:, None] * np.einsum("nm,nmd->nd", a_neg, diff[g][:, :n_neg])) / c)
        f = np.stack(forces)
        field += f / math.sqrt(max(float((f * f).mean()), 1e-8))
    return (field if grouped else field[0]), cond
