"""Mean-shift and drift fields: population oracles and streamed batch estimators.

Population (numpy, float64, with error bars): :func:`population_mean_shift`,
:func:`population_drift` -> :class:`FieldEstimate`.
Batch (numpy or torch, float32/float64, CPU/CUDA, tiled): :func:`batch_mean_shift`,
:func:`batch_drift` (methods ``joint``, ``alg2``, ``separate``, ``abc``,
``kernel_gradient``), :func:`official_drift` (the multi-temperature pipeline of [D]).

Estimators are records of one registry (:class:`DriftEstimator`, :func:`get_estimator`,
:func:`estimator_names`, :func:`register_estimator`), shared with :mod:`driftlab.engine`,
:mod:`driftlab.training` and the CLI; :data:`DEFAULT_ESTIMATOR` (``"joint"``) is the one
default of every drift entry point.

>>> from driftlab.fields import estimator_names, get_estimator
>>> estimator_names()
('joint', 'alg2', 'separate', 'abc', 'kernel_gradient')
>>> get_estimator("separate").unbiased_at_equal
False
"""

from driftlab._estimators import (
    DEFAULT_ESTIMATOR,
    DriftEstimator,
    estimator_names,
    get_estimator,
    register_estimator,
    unregister_estimator,
)
from driftlab.fields._official import official_drift
from driftlab.fields._conservative import conservative_velocity, kde_score
from driftlab.fields.batch import DRIFT_METHODS, DriftComponents, batch_drift, batch_mean_shift
from driftlab.fields.population import (
    POPULATION_METHODS,
    FieldEstimate,
    population_drift,
    population_mean_shift,
)

__all__ = [
    "batch_mean_shift",
    "batch_drift",
    "official_drift",
    "conservative_velocity",
    "kde_score",
    "DriftComponents",
    "DRIFT_METHODS",
    "DEFAULT_ESTIMATOR",
    "DriftEstimator",
    "get_estimator",
    "estimator_names",
    "register_estimator",
    "unregister_estimator",
    "population_mean_shift",
    "population_drift",
    "FieldEstimate",
    "POPULATION_METHODS",
]
