"""driftlab: verify, compute and simulate the theory of generative drifting.

Data flows one way: :mod:`driftlab.kernels` -> :mod:`driftlab.distributions` ->
:mod:`driftlab.fields` -> theory / spectral / simulation -> analysis -> figures.
Importing driftlab never imports torch; torch is loaded only when a torch tensor is passed
or a torch-only feature is used.
"""

from driftlab._version import __version__

__all__ = ["__version__"]
