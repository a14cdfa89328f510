"""Sweeps behind the foundation figures: estimator bias, float32 far-field, convergence.

Every function is seeded and returns plain dicts/arrays (JSON-ready); the figure scripts in
paper_repro/ only plot them.
"""

from __future__ import annotations

import math

import numpy as np
from tqdm import tqdm

from driftlab.distributions import GaussianMixture
from driftlab.fields import batch_drift, population_drift
from driftlab.kernels import Gaussian, Laplace


def bias_vs_positive_count(counts=(2, 4, 8, 16, 32, 64), n_negatives: int = 64, reps: int = 4000,
                           x0: float = 2.5, tau: float = 1.0, seed: int = 0, progress: bool = True) -> dict:
    """Mean and standard error of V at p = q = N(0, 1), per estimator and positive-set size.

    Algorithm 2 is left out on purpose: with a single query point its column softmax is
    degenerate (A = sqrt(k / R)), so it would measure a different kernel, not the bias.
    """
    rng = np.random.default_rng(seed)
    x = np.array([[x0]])
    kern = Laplace(tau)
    methods = ("joint", "separate", "abc")
    out = {m: {"mean": [], "stderr": []} for m in methods}
    for n_pos in tqdm(counts, desc="bias sweep", disable=not progress):
        vals = {m: np.empty(reps) for m in methods}
        for i in range(reps):
            yp = rng.normal(size=(n_pos, 1))
            yn = rng.normal(size=(n_negatives, 1))
            for m in methods:
                vals[m][i] = batch_drift(x, yp, yn, kern, method=m)[0, 0]
        for m in methods:
            out[m]["mean"].append(float(vals[m].mean()))
            out[m]["stderr"].append(float(vals[m].std(ddof=1) / math.sqrt(reps)))
    return {"counts": list(counts), "n_negatives": n_negatives, "reps": reps, "x": x0, "tau": tau,
            "seed": seed, "methods": out}


def float32_far_field(offsets=None, tau: float = 1.0, seed: int = 0) -> dict:
    """|m(x)| and its cosine with the true direction vs the data offset, naive exp vs log space."""
    offsets = np.geomspace(1.0, 1000.0, 40) if offsets is None else np.asarray(offsets)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(32, 2)).astype(np.float32)
    base = rng.normal(size=(64, 2)).astype(np.float32)
    naive_norm, log_norm, log_cos = [], [], []
    for off in offsets:
        y = base + np.float32(off) * np.array([1.0, 0.0], dtype=np.float32)
        diff = y[None, :, :] - x[:, None, :]
        k = np.exp(-np.linalg.norm(diff, axis=-1) / np.float32(tau))
        with np.errstate(invalid="ignore", divide="ignore"):
            naive = (k[:, :, None] * diff).sum(1) / np.maximum(k.sum(1, keepdims=True), np.float32(1e-30))
        v = batch_drift(x, y, x, Laplace(tau), normalize="rms")
        true_dir = y.mean(0) - x
        cos = (v * true_dir).sum(1) / (np.linalg.norm(v, axis=1) * np.linalg.norm(true_dir, axis=1))
        naive_norm.append(float(np.median(np.linalg.norm(naive, axis=1))))
        log_norm.append(float(np.median(np.linalg.norm(v, axis=1))))
        log_cos.append(float(np.min(cos)))
    return {"offsets": offsets.tolist(), "tau": tau, "naive_median_norm": naive_norm,
            "logspace_median_norm_rms": log_norm, "logspace_min_cosine": log_cos}


def batch_convergence(sizes=(100, 300, 1000, 3000, 10_000, 30_000), reps: int = 20, bandwidth: float = 0.8,
                      seed: int = 0, progress: bool = True) -> dict:
    """RMS error of the batch centroid-difference field against the exact Gaussian-kernel drift."""
    p = GaussianMixture([[0.0, 0.0], [1.5, 1.0]], [[0.5, 0.3], [0.4, 0.6]], [0.6, 0.4])
    q = GaussianMixture([[0.5, -0.5]], [[[1.0, 0.3], [0.3, 0.8]]])
    kern = Gaussian(bandwidth)
    x = np.array([[0.0, 0.0], [1.0, 1.0], [-1.0, 0.5], [2.0, -1.0]])
    exact = population_drift(p, q, x, kern).value
    rng = np.random.default_rng(seed)
    rms, predicted = [], []
    for n in tqdm(sizes, desc="convergence", disable=not progress):
        errs = []
        for _ in range(reps):
            yp, yn = p.sample(n, rng), q.sample(n, rng)
            comp = batch_drift(x, yp, yn, kern, method="separate", return_components=True)
            errs.append(np.mean((comp.centroid_difference - exact) ** 2))
        se = population_drift(p, q, x, kern, method="montecarlo", n_samples=n, rng=int(rng.integers(1 << 31))).error
        rms.append(float(np.sqrt(np.mean(errs))))
        predicted.append(float(np.sqrt(np.mean(se**2))))
    return {"sizes": list(sizes), "rms_error": rms, "predicted_stderr": predicted, "bandwidth": bandwidth,
            "reps": reps, "seed": seed}
