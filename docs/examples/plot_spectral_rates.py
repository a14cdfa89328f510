"""
Relaxation rates and the annealing gain
=======================================

Each Fourier mode of a perturbation of a uniform target decays at the rate
``lambda(k) = -|k| E'(|k|)``. A fixed Gaussian bandwidth has an exponential high-frequency
bottleneck; Laplace decays polynomially; annealing the bandwidth makes the convergence time
grow like ``log K``.
"""

import matplotlib.pyplot as plt
import numpy as np

from driftlab.kernels import Gaussian, Laplace
from driftlab.spectral import ConstantSchedule, ExponentialSchedule, convergence_time, rate

k = np.geomspace(0.05, 60, 300)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.2), layout="constrained")
ax1.loglog(k, rate(Gaussian(0.5), k, dim=1), label="Gaussian, $s = 0.5$")
for d in (1, 3):
    ax1.loglog(k, rate(Laplace(0.5 / np.sqrt(d + 1)), k, dim=d), label=f"Laplace, $d = {d}$")
ax1.set_ylim(1e-8, 2)
ax1.set_xlabel("wave number $k$")
ax1.set_ylabel(r"rate $\lambda(k)$")
ax1.legend()

K = np.array([2, 4, 8, 16, 32])
eps = 1e-2
fixed = [convergence_time(Gaussian(0.5), np.arange(1, kk + 1), eps, ConstantSchedule(0.5), 1) for kk in K]
annealed = [convergence_time(Gaussian(2.0), np.arange(1, kk + 1), eps, ExponentialSchedule(2.0, 0.1), 1)
            for kk in K]
ax2.semilogy(K, fixed, "o-", label="fixed $s = 0.5$")
ax2.semilogy(K, annealed, "s-", label=r"annealed $s_0 = 2$, $r = 0.1$")
ax2.set_xscale("log", base=2)
ax2.set_xlabel("highest mode $K$")
ax2.set_ylabel("time to damp all modes")
ax2.legend()
for kk, a, b in zip(K, fixed, annealed):
    print(f"K = {kk:3d}: fixed {a:10.4g}   annealed {b:8.4g}")
