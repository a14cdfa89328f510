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


def _interrupt_golden_run_after_step_5(out_dir):
    """Run the annealed torus golden case with checkpoints every 2 steps and stop it after
    step 5 (the last checkpoint is step 4); return its inputs and config."""
    x, y = _golden_inputs("torus_heun_annealed")
    cfg = SimulationConfig(**{**GOLDEN["torus_heun_annealed"]["config"], "checkpoint_every": 2})

    def stop(step, _):
        if step == 5:
            raise _Stop

    with pytest.raises(_Stop):
        run_simulation(cfg, x, y, out_dir=out_dir, progress=False, on_step=stop)
    return x, y, cfg


def test_interrupted_and_resumed_run_matches_the_golden_run(tmp_path):
    # interrupted after step 5 (the last checkpoint is step 4), then resumed in the same folder
    x, y, cfg = _interrupt_golden_run_after_step_5(tmp_path)
    res = run_simulation(cfg, x, y, out_dir=tmp_path, progress=False)
    assert res.info["resumed_from"] == 4
    _assert_matches_golden("resumed", res.particles, res.records, GOLDEN["resumed"])


# --- integrators ---------------------------------------------------------------------------

def _linear_field(lam, calls):
    def field(x, t):
        calls.append(t)
        return -lam * x
    return field


@pytest.mark.parametrize("name, factor", [("euler", lambda z: 1 - z), ("heun", lambda z: 1 - z + z * z / 2)])
def test_integrator_amplification_factor_on_a_linear_field(name, factor):
    from driftlab.simulation import get_integrator

    lam, eta, t = 0.7, 0.3, 1.2
    x = torch.tensor([[1.0], [-2.0]], dtype=torch.float64)
    calls = []
    field = _linear_field(lam, calls)
    integ = get_integrator(name)
    got = integ.step(field, x, t, eta, field(x, t), lambda p: p)
    # a linear mode x' = -lam x is multiplied by the scheme's closed-form factor (float64
    # round-off: a few ulps of |x| <= 2)
    assert_close(got.numpy(), x.numpy() * factor(lam * eta), atol=1e-15, what=f"{name} factor",
                 inputs=dict(lam=lam, eta=eta))
    # the field is evaluated integ.evaluations times, the corrector (if any) at t + eta
    assert calls == [t, t + eta][: integ.evaluations], calls


def test_integrators_wrap_every_position_they_form():
    from driftlab.simulation import Heun

    seen = []

    def field(x, t):
        seen.append(x.clone())
        return torch.full_like(x, 1.0)

    def wrap(p):
        return torch.remainder(p, 1.0)

    x = torch.tensor([[0.9]], dtype=torch.float64)
    out = Heun().step(field, x, 0.0, 0.25, field(x, 0.0), wrap)
    # predictor 0.9 + 0.25 = 1.15 -> 0.15 (the corrector's field sees the wrapped point);
    # the result 0.9 + 0.125 * (1 + 1) = 1.15 -> 0.15 too; float64 round-off of the sum and
    # the remainder is ~2e-16, so 1e-15 (unwrapped, both would be 1.15: off by 1)
    assert_close(seen[1].item(), 0.15, atol=1e-15, what="wrapped predictor")
    assert_close(out.item(), 0.15, atol=1e-15, what="wrapped result")


def test_integrator_registry_refuses_unknown_and_clashing_names():
    from driftlab.simulation import INTEGRATORS, Euler, get_integrator, register_integrator

    with pytest.raises(ValueError, match=r"integrator must be one of \['euler', 'heun'\], got 'rk4'"):
        get_integrator("rk4")
    with pytest.raises(ValueError, match="integrator must be one of"):
        get_integrator(["euler"])  # unhashable: still the one clear message
    with pytest.raises(TypeError, match="step method"):
        register_integrator(object())

    class Other(Euler):
        name = "heun"

    with pytest.raises(ValueError, match="'heun' is already registered"):
        register_integrator(Other())
    assert INTEGRATORS["heun"].evaluations == 2  # untouched
    assert register_integrator(INTEGRATORS["euler"]) is INTEGRATORS["euler"]  # re-registering itself is fine


def test_a_registered_integrator_is_used_by_name(monkeypatch):
    from driftlab.simulation import INTEGRATORS, Euler

    class CountingEuler(Euler):
        name = "counting-euler"
        steps = 0

        def step(self, field, x, t, eta, v, wrap):
            CountingEuler.steps += 1
            return super().step(field, x, t, eta, v, wrap)

    monkeypatch.setitem(INTEGRATORS, "counting-euler", CountingEuler())
    golden = GOLDEN["torus_euler_lattice"]
    x, y = _golden_inputs("torus_euler_lattice")
    res = run_simulation(SimulationConfig(**{**golden["config"], "integrator": "counting-euler"}), x, y,
                         progress=False)
    assert CountingEuler.steps == golden["config"]["n_steps"]
    _assert_matches_golden("counting-euler", res.particles, res.records, golden)  # the same scheme: same run


# --- the state as one value ------------------------------------------------------------------

def test_state_round_trips_through_its_file(tmp_path):
    from driftlab.simulation import SimulationState

    particles = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    state = SimulationState(torch.as_tensor(particles), step=7, records=[{"step": 0, "t": 0.0, "ev2": 1.5}],
                            config={"step": 0.25, "kernel": "laplace"}, data_hash="0123abcd", elapsed=2.5,
                            params={"problem": "gmm"})
    assert state.time == 7 * 0.25
    back = SimulationState.load(state.save(tmp_path / "c.npz"))
    assert back.particles.dtype == np.float32 and np.array_equal(back.particles, particles)  # the run's dtype
    for key in ("step", "records", "config", "data_hash", "elapsed", "params"):
        assert getattr(back, key) == getattr(state, key), (key, getattr(back, key), getattr(state, key))


def test_checkpoint_of_a_run_is_the_state(tmp_path):
    from driftlab.simulation import CHECKPOINT_NAME, SimulationState, load_checkpoint

    x, y = _golden_inputs("torus_heun_annealed")
    cfg = SimulationConfig(**{**GOLDEN["torus_heun_annealed"]["config"], "checkpoint_every": 2})
    res = run_simulation(cfg, x, y, out_dir=tmp_path, progress=False, run_params={"source": "golden"})
    state = SimulationState.load(tmp_path / CHECKPOINT_NAME)
    assert state.step == cfg.n_steps and state.time == cfg.n_steps * cfg.step
    assert np.array_equal(state.particles, res.particles) and state.records == res.records
    assert state.config == cfg.to_dict() and state.params == {"source": "golden"}
    assert state.data_hash == res.info["data_hash"]
    as_dict = load_checkpoint(tmp_path / CHECKPOINT_NAME)  # the dict view keeps its keys
    assert sorted(as_dict) == ["config", "data_hash", "elapsed", "params", "particles", "records", "step"]


def test_checkpoint_of_an_earlier_version_resumes(tmp_path):
    # checkpoints written before run_params existed have no "params" entry: they load with
    # params None and resume on the data hash alone, to the same particles as before
    x, y, cfg = _interrupt_golden_run_after_step_5(tmp_path)
    ckpt = tmp_path / "checkpoint.npz"
    with np.load(ckpt) as z:
        entries = {k: z[k] for k in z.files if k != "params"}
    np.savez(ckpt, **entries)
    from driftlab.simulation import SimulationState

    assert SimulationState.load(ckpt).params is None
    res = run_simulation(cfg, x, y, out_dir=tmp_path, progress=False)
    assert res.info["resumed_from"] == 4
    _assert_matches_golden("resumed (earlier file format)", res.particles, res.records, GOLDEN["resumed"])


# --- names that say what they do -----------------------------------------------------------

def test_bandwidth_and_noise_schedules_have_distinct_names_and_keep_the_old_ones():
    import driftlab.spacetime as st
    import driftlab.spectral as sp

    assert sp.BandwidthSchedule is sp.Schedule and sp.make_bandwidth_schedule is sp.make_schedule
    assert st.NoiseSchedule is st.Schedule and st.make_noise_schedule is st.make_schedule
    assert sp.BandwidthSchedule is not st.NoiseSchedule
    assert sp.BandwidthSchedule.__name__ == "BandwidthSchedule" and st.NoiseSchedule.__name__ == "NoiseSchedule"
    assert isinstance(sp.make_bandwidth_schedule("exponential", 2.0, r=0.1), sp.BandwidthSchedule)
    assert isinstance(st.make_noise_schedule("vp"), st.NoiseSchedule)
    cfg = SimulationConfig(schedule="exponential", rate=0.2, scale=0.5)
    sch = cfg.make_schedule()
    assert isinstance(sch, sp.ExponentialSchedule) and sch.kind == "exponential"  # kind unchanged by the rename
    from driftlab.kernels import Gaussian

    with pytest.raises(TypeError, match="must be a driftlab.spectral.BandwidthSchedule, got VPLogLinear"):
        sp.convergence_time(Gaussian(1.0), [1.0], 1e-2, st.make_noise_schedule("vp"))  # the wrong kind
