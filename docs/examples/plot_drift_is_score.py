"""
The Gaussian drift is a score difference
========================================

With a Gaussian kernel of bandwidth ``s`` the drift field equals
``s**2 * (grad log p_s - grad log q_s)``, the smoothed laws' score difference (Tweedie's
formula). Here ``p`` is a two-component mixture and ``q`` a wide Gaussian; the batch
estimate from samples approaches the closed form.
"""

import matplotlib.pyplot as plt
import numpy as np

from driftlab.distributions import GaussianMixture
from driftlab.fields import batch_drift, population_drift
from driftlab.kernels import Gaussian

p = GaussianMixture(means=[[-1.5], [1.5]], covariances=0.2)
q = GaussianMixture(means=[[0.0]], covariances=1.5)
s = 0.5
x = np.linspace(-4, 4, 161)[:, None]

exact = population_drift(p, q, x, Gaussian(s)).value
score_gap = s**2 * (p.smooth(s).score(x) - q.smooth(s).score(x))
batch = batch_drift(x, p.sample(4000, rng=0), q.sample(4000, rng=1), Gaussian(s), method="separate")

print("max |drift - s^2 (score p_s - score q_s)| =", float(np.abs(exact - score_gap).max()))

fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
ax.plot(x[:, 0], exact[:, 0], label="exact drift $V_{p,q}$")
ax.plot(x[:, 0], score_gap[:, 0], "--", label=r"$s^2(\nabla\log p_s - \nabla\log q_s)$")
ax.plot(x[:, 0], batch[:, 0], lw=0.8, alpha=0.7, label="batch estimate, n = 4000")
ax.set_xlabel("$x$")
ax.set_ylabel("drift")
ax.legend()
