"""Simulator redesign: golden runs, integrators as objects, the state as one saved/loaded value.

``tests/data/simulation_golden.json`` holds the final particles and every observable of six runs
(Euler and Heun; R^2, the 1-D torus with lattice images and the 3-D torus with minimum images;
fixed and exponentially annealed bandwidth; a run interrupted at step 5 and resumed from its
step-4 checkpoint) recorded with ``run_simulation`` *before* it was rewritten around
:class:`~driftlab.simulation.SimulationState` and :class:`~driftlab.simulation.Integrator`.
The rewrite must reproduce them bit for bit.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_close
from driftlab.simulation import SimulationConfig, run_simulation, torus_mode_problem

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.usefixtures("single_torch_thread")

GOLDEN = json.loads((Path(__file__).parent / "data" / "simulation_golden.json").read_text())


def _golden_inputs(name):
    """The initial particles and targets of the golden runs (regenerated from their seeds)."""
    if name.startswith("rd_"):
        rng = np.random.default_rng(11)
        y = rng.normal(size=(30, 2)) * 0.5 + np.array([1.0, -0.5])
        return rng.normal(size=(24, 2)), y
    if name.startswith("torus3_"):
        rng = np.random.default_rng(12)
        x = rng.uniform(size=(20, 3))
        return x, np.mod(rng.normal(size=(22, 3)) * 0.1 + 0.5, 1.0)
    x, y, _ = torus_mode_problem(24, 28, 1, mode=(2,), eps=0.05, layout="random", seed=5)
    return x, y


def _same_machine() -> bool:
    m = GOLDEN["_machine"]
    return torch.__version__ == m["torch"] and torch.backends.cpu.get_cpu_capability() == m["cpu"]


def _assert_matches_golden(name, particles, records, golden):
    want_x = np.array(golden["particles"], dtype=np.float64)
    if _same_machine():
        # the machine and torch build that recorded the runs: the rewrite must be bit-identical
        diff = np.max(np.abs(particles - want_x))
        assert np.array_equal(particles, want_x), f"{name}: particles differ from the golden run by {diff:.3e}"
        assert records == golden["records"], (f"{name}: records differ\nactual   {records[-1]}\n"
                                              f"expected {golden['records'][-1]}")
        return
    # another SIMD width or torch build sums the kernel rows in another order: float64
    # round-off ~1e-16 per sum, amplified by at most ~6 steps of a field with Lipschitz
    # constant ~ 1/scale^2 = 100 on the torus -> 1e-9 absolute is a safe bound
    assert_close(particles, want_x, atol=1e-9, what=f"{name} particles (other machine)")
    assert [sorted(r) for r in records] == [sorted(r) for r in golden["records"]], f"{name}: record keys"
    for got, want in zip(records, golden["records"], strict=True):
        for key, value in want.items():
            assert_close(got[key], value, atol=1e-9, rtol=1e-7, what=f"{name} step {want['step']} {key}")


@pytest.mark.parametrize("name", sorted(k for k in GOLDEN if not k.startswith("_") and k != "resumed"))
def test_runs_match_the_recorded_golden_runs(name):
    golden = GOLDEN[name]
    x, y = _golden_inputs(name)
    res = run_simulation(SimulationConfig(**golden["config"]), x, y, progress=False)
    _assert_matches_golden(name, res.particles, res.records, golden)


class _Stop(Exception):
    pass


def test_interrupted_and_resumed_run_matches_the_golden_run(tmp_path):
    # interrupted after step 5 (the last checkpoint is step 4), then resumed in the same folder
    x, y = _golden_inputs("torus_heun_annealed")
    cfg = SimulationConfig(**{**GOLDEN["torus_heun_annealed"]["config"], "checkpoint_every": 2})

    def stop(step, _):
        if step == 5:
            raise _Stop

    with pytest.raises(_Stop):
        run_simulation(cfg, x, y, out_dir=tmp_path, progress=False, on_step=stop)
    res = run_simulation(cfg, x, y, out_dir=tmp_path, progress=False)
    assert res.info["resumed_from"] == 4
    _assert_matches_golden("resumed", res.particles, res.records, GOLDEN["resumed"])
