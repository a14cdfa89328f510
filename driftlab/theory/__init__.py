"""Theorem checks and the claims ledger ([D], [T], [L], [F], [KG], [S], [ABC]).

Submodules (imported lazily; none imports torch):

* :mod:`~driftlab.theory.symbolic`: sympy proofs (each returns an expression that must be 0).
* :mod:`~driftlab.theory.precise`: 40-digit mpmath checks on random measures.
* :mod:`~driftlab.theory.laplace`: exact Laplace mean shift on Gaussian mixtures in any
  dimension (scale mixture), its decomposition and the residual laws.
* :mod:`~driftlab.theory.identifiability`, :mod:`~driftlab.theory.fisher`,
  :mod:`~driftlab.theory.conservativity`: identifiability and collapse, reverse Fisher and
  the Gaussian drifting flow, Jacobian asymmetry.
* :mod:`~driftlab.theory.ledger`: the claims registry behind ``driftlab verify`` (plain
  records; the checks live in per-family modules under ``driftlab/theory/_claims/``).

>>> from driftlab.theory import laplace_moments, run_claims
>>> [r.outcome.verdict for r in run_claims(["laplace.decomposition.mpmath"], quick=True)]
['verified']
"""

from driftlab.theory.laplace import LaplaceMoments, laplace_moments
from driftlab.theory.ledger import CLAIMS, Claim, ClaimResult, Outcome, get_claim, run_claims

__all__ = ["laplace_moments", "LaplaceMoments", "CLAIMS", "Claim", "ClaimResult", "Outcome", "get_claim", "run_claims"]
