"""Conformance checks for anyone's drift implementation.

:func:`check_drift` runs a user's callable ``fn(x, y_pos, y_neg, temperature) -> V`` (numpy or
torch) against a named convention (:data:`CONVENTIONS`): parity with a dense float64
reference, the exact identities the convention implies, unbiasedness at p = q, convergence
to the population field, float32 far-field behaviour, extreme temperatures and type
preservation. Each check reports its measured value, tolerance and why. Adapters cover
losses with a stop-gradient target, grouped input, weighted and self-masked negatives and
float32-only code. Hypothesis strategies live in :mod:`driftlab.testing.strategies`; the
``driftlab check`` command and a pytest plugin (``drift_conformance`` fixture) wrap the same
function. Importing this package does not import torch.

>>> from driftlab.testing import CONVENTIONS
>>> sorted(CONVENTIONS)[:3]
['alg2', 'gaussian-score', 'joint']
"""

from driftlab.testing._adapters import float32_only, from_loss, grouped, self_masked, weighted_negatives
from driftlab.testing._check import CHECKS, CheckResult, ConformanceReport, check_drift
from driftlab.testing._conventions import CONVENTIONS, Convention, get_convention, population_field

__all__ = [
    "check_drift",
    "ConformanceReport",
    "CheckResult",
    "CHECKS",
    "CONVENTIONS",
    "Convention",
    "get_convention",
    "population_field",
    "from_loss",
    "grouped",
    "weighted_negatives",
    "self_masked",
    "float32_only",
]
