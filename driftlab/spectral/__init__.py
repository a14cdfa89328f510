r"""Spectral analysis of the linearised drift dynamics [T].

Around a uniform target every Fourier mode of a density perturbation relaxes on its own
timescale, :math:`\hat\delta_k(t) = e^{-\lambda(k) t}\hat\delta_k(0)` with
:math:`\lambda(k) = -|k| E'(|k|)` (:func:`rate`). This subpackage gives

* :mod:`~driftlab.spectral.rates` -- rates, timescales, the fastest mode, Euler-step
  corrections (closed forms + numerical Hankel path for any radial kernel);
* :mod:`~driftlab.spectral.schedules` -- bandwidth schedules (constant, exponential
  annealing, linear, cosine, step) with their accumulated damping;
* :mod:`~driftlab.spectral.timescales` -- convergence times T(K; eps) for fixed, best-fixed
  and annealed bandwidths, admissible annealing rates, fitted asymptotic laws;
* :mod:`~driftlab.spectral.grid` -- an independent periodic grid solver of the linearised
  and the full nonlinear continuity equation (1-D/2-D);
* :mod:`~driftlab.spectral.nonuniform` -- the discretised linear operator around a
  non-uniform target and its spectrum;
* :mod:`~driftlab.spectral.landau` -- plasma Landau damping for the analogy table;
* :mod:`~driftlab.spectral.symbolic` -- sympy derivation of the rates.

Nothing here imports torch.

>>> from driftlab.kernels import Gaussian
>>> from driftlab.spectral import rate
>>> float(rate(Gaussian(1.0), 0.0))
0.0
"""

from driftlab.spectral.rates import (
    euler_rate,
    max_stable_step,
    peak_rate,
    rate,
    scaled_kernel,
    spectrum,
    timescale,
    NUMERICAL_K_MAX,
)

__all__ = [
    "rate",
    "timescale",
    "spectrum",
    "peak_rate",
    "euler_rate",
    "max_stable_step",
    "scaled_kernel",
    "NUMERICAL_K_MAX",
]

from driftlab.spectral import schedules  # noqa: E402
from driftlab.spectral.schedules import (  # noqa: E402
    BandwidthSchedule,
    ConstantSchedule,
    CosineSchedule,
    ExponentialSchedule,
    LinearSchedule,
    Schedule,
    StepSchedule,
    make_bandwidth_schedule,
    make_schedule,
    rate_at_scale,
    spectrum_at_scale,
)
from driftlab.spectral.timescales import (  # noqa: E402
    admissible_rate,
    anneal_table,
    best_fixed_bandwidth,
    convergence_time,
    damping_target,
    fit_law,
    min_initial_bandwidth,
    mode_times,
)

__all__ += [
    "schedules",
    "BandwidthSchedule",
    "make_bandwidth_schedule",
    "Schedule",
    "ConstantSchedule",
    "ExponentialSchedule",
    "LinearSchedule",
    "CosineSchedule",
    "StepSchedule",
    "make_schedule",
    "rate_at_scale",
    "spectrum_at_scale",
    "damping_target",
    "mode_times",
    "convergence_time",
    "best_fixed_bandwidth",
    "admissible_rate",
    "min_initial_bandwidth",
    "anneal_table",
    "fit_law",
]
