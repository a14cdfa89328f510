r"""Particle simulator of the drifting dynamics (mean-field McKean-Vlasov, [T]).

:func:`run_simulation` moves N particles along the drift toward a target sample set, on a
torus or in R^d, with fixed or scheduled bandwidth, checkpoint/resume and observables over
time (Fourier mode amplitudes, MMD, energy distance, sliced W2, E||V||^2). It composes three
pieces: the :class:`SimulationState` (particles, step, records, ...; saved and loaded as one
value), an :class:`Integrator` (:class:`Euler`, :class:`Heun`, chosen by name from
:data:`INTEGRATORS`) and the drift of the :class:`SimulationConfig`.
:mod:`~driftlab.simulation.problems` builds the standard initial conditions. Inside an
initialised ``torch.distributed`` group (e.g. under ``torchrun``) the same
:func:`run_simulation` shards the particles over the ranks
(:mod:`~driftlab.simulation.distributed`).

>>> from driftlab.simulation import SimulationConfig
>>> SimulationConfig(kernel="laplace", scale=0.05, period=1.0).integrator
'euler'
"""

from driftlab.simulation.distributed import (
    SIMULATION_REFERENCE_MODES,
    DistributedRunError,
    init_from_env,
)
from driftlab.simulation.integrators import (
    INTEGRATORS,
    Euler,
    Heun,
    Integrator,
    get_integrator,
    register_integrator,
)
from driftlab.simulation.observables import (
    energy_distance,
    mmd2,
    mode_amplitudes,
    sliced_w2,
    wave_vectors,
)
from driftlab.simulation.problems import PROBLEMS, gmm_problem, torus_mode_problem
from driftlab.simulation.simulator import (
    CHECKPOINT_NAME,
    OBSERVABLES_NAME,
    RESUMABLE_CHANGES,
    RUN_NAME,
    SimulationConfig,
    SimulationResult,
    load_checkpoint,
    run_simulation,
)
from driftlab.simulation.state import SimulationState

__all__ = ["SimulationConfig", "SimulationResult", "SimulationState", "run_simulation", "load_checkpoint",
           "Integrator", "Euler", "Heun", "INTEGRATORS", "get_integrator", "register_integrator", "RESUMABLE_CHANGES", "torus_mode_problem",
           "gmm_problem", "PROBLEMS", "mode_amplitudes", "mmd2", "energy_distance", "sliced_w2", "wave_vectors",
           "CHECKPOINT_NAME", "OBSERVABLES_NAME", "RUN_NAME", "DistributedRunError", "init_from_env",
           "SIMULATION_REFERENCE_MODES"]
