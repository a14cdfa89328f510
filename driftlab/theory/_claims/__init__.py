"""The checks of the claims ledger, one module per family (private; the registry is
:mod:`driftlab.theory.ledger`).

* :mod:`._record`: the plain records (:class:`Claim`, :class:`Outcome`, :class:`Evidence`)
  and verdict helpers;
* :mod:`.gaussian`, :mod:`.laplace`, :mod:`.conservativity`: the theorems of [T], [L], [F], [KG];
* :mod:`.algorithm2`, :mod:`.estimators`, :mod:`.official`: [D]'s Algorithm 2, the batch
  estimators' equilibrium bias ([ABC]) and the official pipeline and toy;
* :mod:`.spectral`: [T]'s spectral analysis (rates, bottleneck, annealing, particles, Landau);
* :mod:`.variational`: [T]'s stop-gradient / JKO reading and the Sinkhorn drift;
* :mod:`.spacetime`: [S]'s hyperbolic closed form, 1-D toy and PF-ODE paths.
* :mod:`.finite_particle`: [FP]'s conservative KDE-gradient velocity and its finite-particle rate.

Every module defines ``CLAIMS`` (a list of :class:`Claim`) and module-level check functions
that take the perturbations their mutation tests use.
"""
