"""Simulator: spectral decay of a single mode, checkpoint/resume after a kill, observables."""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import assert_close
from driftlab.kernels import Gaussian, Laplace
from driftlab.simulation import (
    CHECKPOINT_NAME,
    SimulationConfig,
    energy_distance,
    load_checkpoint,
    mmd2,
    mode_amplitudes,
    run_simulation,
    sliced_w2,
    torus_mode_problem,
)
from driftlab.spectral import euler_rate, rate

torch = pytest.importorskip("torch")


pytestmark = pytest.mark.usefixtures("single_torch_thread")


def _fit_rate(res, upto):
    t, a = res.column("t")[:upto], res.column("mode0_re")[:upto]
    return -np.polyfit(t, np.log(a), 1)[0]


@pytest.mark.parametrize("kname,kernel", [("gaussian", Gaussian(0.05)), ("laplace", Laplace(0.05))])
def test_single_mode_decays_at_the_euler_corrected_spectral_rate(kname, kernel):
    # Stratified (grid) particles and target: no Monte Carlo noise; aliasing from the grid
    # spacing 1/256 enters through E(2 pi 256 * 0.05) <= 2e-4. The remaining error is the
    # nonlinearity, O(eps^2) = 2.5e-3 relative; we allow 1 %. The theory side is
    # driftlab.spectral.rate (independent closed form) with the Euler map -log(1 - eta lam)/eta.
    x, y, k = torus_mode_problem(256, 256, 1, mode=(3,), eps=0.05, layout="grid")
    cfg = SimulationConfig(kernel=kname, scale=0.05, step=0.5, n_steps=12, period=1.0, modes=[[3]],
                           obs_points=64, backend="torch", num_threads=1)
    res = run_simulation(cfg, x, y, progress=False)
    lam = float(rate(kernel, k[0], 1))
    assert_close(_fit_rate(res, 12), float(euler_rate(lam, 0.5)), rtol=1e-2, what=f"{kname} rate")
    # and the un-corrected rate is measurably different (the Euler correction matters here)
    assert abs(_fit_rate(res, 12) / lam - 1) > 0.05


def test_heun_decay_factor_and_float32():
    x, y, k = torus_mode_problem(256, 256, 1, mode=(2,), eps=0.05, layout="grid")
    lam = float(rate(Gaussian(0.05), k[0], 1))
    eta = 0.8
    z = eta * lam
    heun = -math.log(1 - z + z * z / 2) / eta  # Heun's amplification factor for a linear mode
    cfg = SimulationConfig(kernel="gaussian", scale=0.05, step=eta, n_steps=10, period=1.0, modes=[[2]],
                           obs_points=64, integrator="heun", backend="torch", num_threads=1)
    res = run_simulation(cfg, x, y, progress=False)
    assert_close(_fit_rate(res, 10), heun, rtol=1e-2, what="heun rate")  # same error budget as above
    cfg32 = SimulationConfig(**{**cfg.to_dict(), "dtype": "float32"})
    res32 = run_simulation(cfg32, x, y, progress=False)
    # float32 positions: eps32 * L ~ 1e-7 per step, 10 steps, field Lipschitz ~1 -> ~1e-6
    assert_close(res32.particles, res.particles, atol=1e-5, what="float32 vs float64 particles")


def test_scheduled_bandwidth_and_rd_observables_improve():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(200, 2)) * 0.5 + np.array([1.5, 0.0])
    x = rng.normal(size=(150, 2))
    cfg = SimulationConfig(kernel="gaussian", scale=1.0, schedule="exponential", rate=0.1, step=0.5, n_steps=12,
                           obs_points=200, backend="dense")
    res = run_simulation(cfg, x, y, progress=False)
    assert_close(res.column("bandwidth"), np.exp(-0.1 * res.column("t")), rtol=1e-12, what="schedule s(t)")
    for name in ("energy", "sw2", "mmd2"):
        col = res.column(name)
        assert col[-1] < 0.3 * col[0], (name, col)


def test_observables_against_closed_forms():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 2))
    assert abs(mmd2(x, x, 0.5)) < 1e-12 and abs(energy_distance(x, x)) < 1e-12  # exact cancellation
    dirs = np.array([[1.0, 0.0], [0.0, 1.0]])
    # shifting by (a, b): projected W2 are |a| and |b| -> sliced W2 = sqrt((a^2 + b^2)/2)
    assert_close(sliced_w2(x + np.array([0.3, -0.4]), x, dirs), math.sqrt((0.09 + 0.16) / 2), rtol=1e-12,
                 what="sliced W2 of a shift")
    # one Dirac each: energy distance 2|a - b|; MMD^2 2 - 2 exp(-r^2/(2 s^2))
    a, b = np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]])
    assert_close(energy_distance(a, b), 10.0, rtol=1e-14, what="energy of Diracs")
    assert_close(mmd2(a, b, 5.0), 2 - 2 * math.exp(-0.5), rtol=1e-14, what="mmd of Diracs")
    # torus: a grid of 16 points has zero Fourier coefficients for 0 < |n| < 16
    g = (np.arange(16)[:, None] + 0.5) / 16
    amp = mode_amplitudes(g, np.zeros((1, 1)), np.array([[2 * np.pi * 3]]))
    assert_close(abs(amp[0] + 1.0), 0.0, atol=1e-14, what="grid mode")  # minus the Dirac's 1
    # minimum-image MMD is periodic
    assert_close(mmd2(x, x + 1.0, 0.2, period=1.0), 0.0, atol=1e-12, what="periodic mmd")


_INTERRUPT = textwrap.dedent("""
    import sys, time
    from driftlab.simulation import SimulationConfig, run_simulation, torus_mode_problem
    x, y, _ = torus_mode_problem(64, 64, 1, mode=(2,), eps=0.05, layout="random", seed=3)
    cfg = SimulationConfig(kernel="laplace", scale=0.05, step=0.5, n_steps=12, period=1.0, modes=[[2]],
                           obs_points=32, checkpoint_every=3, backend="torch", num_threads=1)
    def hang(step, x):
        if step == 7:
            print("HANGING", flush=True)
            time.sleep(120)
    run_simulation(cfg, x, y, out_dir=sys.argv[1], progress=False, on_step=hang)
""")


def test_killed_run_resumes_bit_identically(tmp_path):
    from driftlab.simulation import torus_mode_problem as tmp_problem

    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", _INTERRUPT, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # blocks until the child reached step 7 (after checkpoint 6)
        assert "HANGING" in line
        os.kill(proc.pid, signal.SIGKILL)  # hard kill: no cleanup code runs in the child
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    state = load_checkpoint(out / CHECKPOINT_NAME)
    assert state["step"] == 6 and len(state["records"]) == 6
    x, y, _ = tmp_problem(64, 64, 1, mode=(2,), eps=0.05, layout="random", seed=3)
    cfg = SimulationConfig(kernel="laplace", scale=0.05, step=0.5, n_steps=12, period=1.0, modes=[[2]],
                           obs_points=32, checkpoint_every=3, backend="torch", num_threads=1)
    resumed = run_simulation(cfg, x, y, out_dir=out, progress=False)
    assert resumed.info["resumed_from"] == 6
    straight = run_simulation(cfg, x, y, progress=False)
    np.testing.assert_array_equal(resumed.particles, straight.particles)  # deterministic: bit-identical
    assert resumed.records == straight.records
    assert (out / "observables.csv").read_text().count("\n") == 14  # header + 13 records (steps 0..12)
    # a different configuration must not silently continue this checkpoint
    with pytest.raises(ValueError, match="different configuration"):
        run_simulation(SimulationConfig(**{**cfg.to_dict(), "scale": 0.06}), x, y, out_dir=out, progress=False)


def test_config_validation():
    x, y, _ = torus_mode_problem(8, 8, 1, mode=(1,), eps=0.05)
    for bad, match in (({"integrator": "rk4"}, "integrator"), ({"dtype": "float16"}, "dtype"),
                       ({"step": -1.0}, "step"), ({"backend": "gpu"}, "backend"), ({"modes": [[1, 2]]}, "mode"),
                       ({"schedule": "exponential"}, "needs r"), ({"kernel": "nope"}, "nope")):
        with pytest.raises((ValueError, TypeError), match=match):
            run_simulation(SimulationConfig(**bad), x, y, progress=False)
    with pytest.raises(ValueError, match="target"):
        run_simulation(SimulationConfig(), x, np.zeros((4, 2)), progress=False)
    for bad in ({"backend": "compiled", "period": 1.0, "wrap": "minimum_image"}, {"backend": "compiled", "kernel": "imq"}):
        with pytest.raises(ValueError, match="compiled"):
            run_simulation(SimulationConfig(**bad), x, y, progress=False)


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                    reason="backend='compiled' needs Inductor's C++ compiler")
@pytest.mark.parametrize("geometry", ["rd", "torus_lattice"])
def test_annealed_run_with_compiled_tiles_matches_torch(geometry):
    # The compiled tiles take the bandwidth as a tensor (annealing must not recompile or go
    # stale): the same run with the eager torch backend, in R^2 and on the 1-D torus (lattice
    # images appended to the targets). float64, 6 Euler steps: per-step sums agree to ~1e-15
    # relative (summation order), so 1e-11 on the particles leaves margin for 6 steps.
    rng = np.random.default_rng(3)
    if geometry == "rd":
        y = rng.normal(size=(300, 2)) * 0.5 + np.array([1.0, -0.5])
        x = rng.normal(size=(257, 2))
        geo = {"kernel": "laplace", "scale": 1.0}
    else:
        y = np.mod(rng.normal(size=(300, 1)) * 0.1 + 0.3, 1.0)
        x = rng.uniform(size=(257, 1))
        geo = {"kernel": "gaussian", "scale": 0.2, "period": 1.0, "wrap": "lattice"}
    runs = {}
    for backend in ("torch", "compiled"):
        cfg = SimulationConfig(schedule="exponential", rate=0.2, step=0.5, n_steps=6, obs_points=100,
                               backend=backend, checkpoint_every=0, **geo)
        runs[backend] = run_simulation(cfg, x, y, progress=False)
    assert runs["compiled"].info["backend"] == "compiled"
    assert_close(runs["compiled"].particles, runs["torch"].particles, atol=1e-11, what="compiled vs torch particles")
    assert not np.allclose(runs["torch"].particles, x, atol=1e-3)  # the particles moved


def test_cli_simulate_runs_and_resumes(tmp_path):
    from driftlab.cli import main

    args = ["simulate", "--n", "64", "--steps", "4", "--kernel", "laplace", "--mode", "2", "--out",
            str(tmp_path / "c"), "--no-progress", "--checkpoint-every", "2", "--threads", "1"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "resumed_from=0" in r.output
    r2 = CliRunner().invoke(main, args[:4] + ["6"] + args[5:])  # extend the same run to 6 steps
    assert r2.exit_code == 0, r2.output
    assert "resumed_from=4" in r2.output and "step 6" in r2.output
    bad = CliRunner().invoke(main, ["simulate", "--n", "10", "--layout", "grid", "--dim", "2", "--out",
                                    str(tmp_path / "d"), "--no-progress"])
    assert bad.exit_code != 0 and "perfect" in bad.output


@pytest.mark.gpu
@pytest.mark.parametrize("kname", ["gaussian", "laplace"])
def test_cuda_float32_run_matches_cpu_float64(kname):
    # auto backend on CUDA: triton (both kernels; sdpa without triton); float32 round-off ~1e-7 per
    # step in positions of size 1, 10 steps, field Lipschitz ~1 -> 1e-5 is a safe bound
    x, y, _ = torus_mode_problem(1024, 1024, 1, mode=(3,), eps=0.05, layout="grid")
    base = dict(kernel=kname, scale=0.05, step=0.5, n_steps=10, period=1.0, modes=[[3]], obs_points=64)
    cpu = run_simulation(SimulationConfig(**base, backend="torch"), x, y, progress=False)
    gpu = run_simulation(SimulationConfig(**base, dtype="float32", device="cuda"), x, y, progress=False)
    assert_close(gpu.particles, cpu.particles, atol=1e-5, what=f"cuda {gpu.info['backend']} vs cpu")


def test_config_check_describes_the_simulators_call():
    """The simulator asks the engine for mean shifts only (no log-normalisers): a backend that
    gives only those (sdpa, Gaussian) is accepted for a lattice-wrapped torus, while a kernel it
    cannot evaluate is refused by name."""
    from driftlab.simulation import SimulationConfig

    SimulationConfig(kernel="gaussian", scale=0.2, backend="sdpa", period=1.0, wrap="lattice").validate(1)
    with pytest.raises(ValueError, match="sdpa"):
        SimulationConfig(kernel="laplace", scale=0.2, backend="sdpa").validate(1)
