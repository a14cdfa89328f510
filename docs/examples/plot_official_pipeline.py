"""
The official multi-temperature pipeline
=======================================

:func:`driftlab.fields.official_drift` computes the field of [D]'s official training code:
the generated batch is its own self-masked set of negatives, distances are divided by their
mean, three temperatures are rescaled to unit RMS and summed. ``return_info=True`` also gives
the distance scale and the official per-temperature losses.
"""

import matplotlib.pyplot as plt
import numpy as np

from driftlab.fields import official_drift

rng = np.random.default_rng(0)
theta = rng.uniform(0, 2 * np.pi, 256)
data = np.c_[np.cos(theta), np.sin(theta)] + 0.05 * rng.normal(size=(256, 2))
gen = 0.4 * rng.normal(size=(128, 2))

info = official_drift(gen, data, return_info=True)
print(f"distance scale {info.scale:.4f}, loss {float(info.loss):.4f}")
for tau, value in info.losses.items():
    print(f"  temperature {tau}: mean squared force {value:.3e}")

fig, ax = plt.subplots(figsize=(4.5, 4.5), layout="constrained")
ax.scatter(*data.T, s=4, c="0.6", label="data (positives)")
ax.scatter(*gen.T, s=6, c="C0", label="generated")
ax.quiver(gen[:, 0], gen[:, 1], info.field[:, 0], info.field[:, 1], angles="xy", scale_units="xy",
          scale=12, width=0.004, color="C3")
ax.set_aspect("equal")
ax.set_xlabel("$x_1$")
ax.set_ylabel("$x_2$")
ax.legend(loc="upper right")
