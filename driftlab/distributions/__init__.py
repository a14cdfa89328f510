"""Distributions with exact oracles: Gaussian mixtures, empirical measures, grid densities."""

from driftlab.distributions.empirical import EmpiricalMeasure
from driftlab.distributions.gmm import GaussianMixture, GaussianPosterior, as_generator, score_difference
from driftlab.distributions.grid import GridDensity

__all__ = ["GaussianMixture", "GaussianPosterior", "EmpiricalMeasure", "GridDensity", "as_generator",
           "score_difference"]
