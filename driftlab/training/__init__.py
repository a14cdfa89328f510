"""Generator training by drifting : toy data, generators, fields, trainer, metrics.

Imports torch (the trainer needs it); the theory/CLI-table modules of driftlab never import
this subpackage at import time.
"""

from driftlab.training.datasets import (
    DATASETS,
    ToyDataset,
    checkerboard,
    eight_gaussians,
    gaussian_mixture,
    get_dataset,
    swiss_roll,
    two_gaussians,
    two_moons,
)
from driftlab.training.metrics import (energy_distance, mmd2, mode_coverage, raw_drift_energy, sample_metrics,
                                       wasserstein2)
from driftlab.training.models import MLPGenerator, ParticleGenerator, torch_threads
from driftlab.training.sinkhorn import SinkhornDrift, sinkhorn_divergence, sinkhorn_drift, sinkhorn_plan

__all__ = [
    "DATASETS", "ToyDataset", "get_dataset", "swiss_roll", "checkerboard", "eight_gaussians", "two_moons",
    "two_gaussians", "gaussian_mixture",
    "energy_distance", "mmd2", "wasserstein2", "raw_drift_energy", "mode_coverage", "sample_metrics",
    "MLPGenerator", "ParticleGenerator", "torch_threads",
    "sinkhorn_drift", "sinkhorn_plan", "sinkhorn_divergence", "SinkhornDrift",
]

from driftlab.training.fields import FIELDS, DriftField, make_field, mmd_field  # noqa: E402
from driftlab.training.trainer import TrainConfig, TrainResult, build_generator, drifting_loss, train  # noqa: E402

__all__ += ["FIELDS", "DriftField", "make_field", "mmd_field", "TrainConfig", "TrainResult", "build_generator",
            "drifting_loss", "train"]
