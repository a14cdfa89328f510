r"""Spacetime geometry of diffusion models ([S] Karczewski et al., arXiv:2505.17517).

Points :math:`z = (y, \lambda)` with :math:`y = x_t/\alpha_t` and :math:`\lambda = \log`
SNR index the denoising posteriors
:math:`p(x_0 \mid z) \propto q(x_0)\exp(-e^\lambda |x_0 - y|^2 / 2)`. These form an exponential family
whose Fisher-Rao metric turns spacetime into a Riemannian manifold; geodesic lengths give
the Diffusion Edit Distance and geodesics guide annealed Langevin transition paths.
"""

from driftlab.spacetime.curves import (
    Geodesic,
    best_geodesic,
    curve_energy,
    curve_length,
    geodesic,
    jeffreys_terms,
    ode_tent_curve,
    probability_flow_path,
    resample_curve,
    straight_curve,
    tent_curve,
)
from driftlab.spacetime.edit_distance import diffusion_edit_distance
from driftlab.spacetime.oracles import gaussian_geodesic_max_u, gaussian_posterior_params, gaussian_spacetime_distance
from driftlab.spacetime.posterior import (
    DenoiserPosterior,
    GaussianMixturePosterior,
    GridPosterior,
    SpacetimePosterior,
    eta_jacobian,
    natural_parameters,
)
from driftlab.spacetime.schedules import (
    VE,
    FlowMatching,
    NoiseSchedule,
    Schedule,
    VPLinearBeta,
    VPLogLinear,
    make_noise_schedule,
    make_schedule,
)
from driftlab.spacetime.surfaces import (
    AlanineDipeptide,
    PeriodicSurface,
    TorusMinimaxBound,
    alanine_dipeptide,
    load_periodic_surface,
    torus_minimax_bound,
    torus_string_method,
    wrap_angle,
)

__all__ = [
    "PeriodicSurface", "AlanineDipeptide", "alanine_dipeptide", "load_periodic_surface", "TorusMinimaxBound",
    "torus_minimax_bound", "torus_string_method", "wrap_angle",
    "SpacetimePosterior", "GaussianMixturePosterior", "GridPosterior", "DenoiserPosterior",
    "natural_parameters", "eta_jacobian",
    "NoiseSchedule", "VPLogLinear", "VPLinearBeta", "VE", "FlowMatching", "make_noise_schedule",
    "Schedule", "make_schedule",
    "jeffreys_terms", "curve_energy", "curve_length", "straight_curve", "tent_curve",
    "ode_tent_curve", "probability_flow_path", "resample_curve", "Geodesic", "geodesic",
    "best_geodesic", "diffusion_edit_distance", "gaussian_spacetime_distance",
    "gaussian_posterior_params", "gaussian_geodesic_max_u",
]
