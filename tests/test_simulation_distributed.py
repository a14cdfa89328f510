r"""The particle simulator over 2 and 3 gloo ranks on the CPU against one process.

Two launches (2 ranks, then 3; ``tests/gloo_ranks.py``, file:// store, 30 s group timeout,
90 s launch deadline) run every case of :func:`_cases` in both reference modes -- R^2
(Gaussian, Euler), the 1-D lattice torus (Laplace, Heun) and the 2-D lattice torus
(Laplace, Euler), float64, N = 25 particles (ragged blocks: 13/12, 9/8/8) -- and store
every rank's block after every step. The test process compares them with

* the one-step map computed here from the dense engine (:func:`_one_step`), applied to the
  distributed state of the step before: a rigorous round-off bound per step, no amplification;
* the uninterrupted one-process :func:`run_simulation` (particles and every observable) to a
  bound that propagates that per-step bound through the Lipschitz constant of the step.

Tolerance (float64, unit round-off u = 2^-53). The distributed run adds the same float64
terms as one process in another order: the target's sums are one engine call per rank (rows
split, same reference order), the particles' sums one call over the gathered set
(``"all_gather"``) or ``R`` partial sums merged in log space (``"ring"``). For a normalised
shift ``m = S / Z`` over ``K`` terms (images included) two summation orders differ by at most
``|dS| <= 2 gamma_K sum_j w_j |y_j - x|``, ``|dZ| <= 2 gamma_K Z`` (``gamma_K = K u / (1 - K u)``),
so ``|dm| <= 4 gamma_K D`` with ``D`` the largest particle-reference distance; each of the
``R - 1`` merges rescales by ``exp(L_a - L)`` with a relative error ``<= 4 u (2 + Lambda)``,
``Lambda = log K + max |log k|`` bounding ``|log Z|``. Per field evaluation (two shifts)

    dV <= 2 D (4 gamma_K + 4 R u (2 + Lambda)).

One Euler step moves the particles by ``eta dV`` more than the exact map; Heun by
``eta dV (1 + eta Lip / 2)``. A position error grows per step by at most ``1 + eta Lip``
(Heun ``1 + eta Lip + (eta Lip)^2 / 2``), where ``Lip = 3 (1 + 2 D G)`` bounds the drift's
Lipschitz constant in the max-over-particles norm (``|d m / d x| <= 1 + 2 D G`` and the same
summed over the references, with ``G = sup |grad log k|``: ``D / s^2`` Gaussian, ``1 / tau``
Laplace), so after ``k`` steps ``|dX_k| <= delta_step sum_{j<k} amp^j`` (discrete Gronwall).
``D`` is measured on the stored states (every particle, every step; lattice images included).
The observables are Lipschitz in the particles: a Fourier mode ``|k| dX``, MMD^2 with bandwidth
``h`` ``4 e^{-1/2} dX / h``, the energy distance ``4 dX``, sliced W2 ``dX``, E|V|^2
``(4 D + dV') dV'`` with ``dV' = Lip dX + dV``; plus the observables' own float64 round-off
(``2 gamma_{(N+M)^2}`` of their magnitude, both runs). The cases are chosen so that these
bounds stay below 1e-9 for the particles and 1e-7 for the observables (checked; measured:
0 with ``"all_gather"``, which makes the same engine calls, and <= 2.5e-16 with ``"ring"``), while
a real error -- a rank summing over a stale or missing block, a wrong slice -- moves particles
by the drift itself (the particles move by 9e-3 to 0.6 in these runs).

The same launches check: every rank returns the same result; a run checkpointed with 2
ranks resumes with 3, and one of 3 ranks in one process, equal to the uninterrupted run; files
and the progress bar on rank 0 only; an exception on one rank (in ``on_step``; in rank 0's
observation) stops every rank with a one-line message naming it; a rank that dies makes the
other raise within seconds instead of waiting. One more test runs the ``torchrun`` command line
with 2 ranks end to end.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_close
from gloo_ranks import WORKER_PREAMBLE, launch_ranks

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available", allow_module_level=True)

from driftlab.engine import kernel_sums
from driftlab.kernels import make_kernel
from driftlab.simulation import (
    CHECKPOINT_NAME,
    OBSERVABLES_NAME,
    RUN_NAME,
    DistributedRunError,
    SimulationConfig,
    gmm_problem,
    load_checkpoint,
    run_simulation,
    torus_mode_problem,
)

pytestmark = pytest.mark.usefixtures("single_torch_thread")

U = np.finfo(np.float64).eps / 2  # unit round-off of float64
CEILING = 1e-9  # every derived bound on the particles must stay below this (module docstring)
OBS_CEILING = 1e-7  # and on the observables (E|V|^2 ~ 1 carries the Lipschitz constant twice)
N, M, STEPS = 25, 20, 6

WORKER = WORKER_PREAMBLE + textwrap.dedent(r'''
    from driftlab.simulation import SimulationConfig, run_simulation
    plan = json.load(open(os.path.join(workdir, "plan.json")))
    data = np.load(os.path.join(workdir, "data.npz"))

    def save(name, res, blocks=None):
        np.save(os.path.join(workdir, f"{name}.r{rank}.npy"), res.particles)
        if blocks is not None:
            np.save(os.path.join(workdir, f"{name}.blocks.r{rank}.npy"), np.stack(blocks))
        with open(os.path.join(workdir, f"{name}.r{rank}.json"), "w") as f:
            json.dump({"records": res.records, "info": res.info}, f)

    for job in plan["runs"]:
        blocks = []
        out = job["out"].replace("RANK", str(rank)) if job["out"] else None
        res = run_simulation(SimulationConfig(**job["config"]), data[job["x"]], data[job["y"]], out_dir=out,
                             progress=job["progress"], reference_mode=job["mode"],
                             on_step=lambda step, x: blocks.append(x.numpy().copy()))
        save(job["name"], res, blocks)

    status = {}
    for job in plan["failures"]:
        def on_step(step, x, job=job):
            if rank == job["rank"] and step == job["step"]:
                if job["kind"] == "die":
                    with open(os.path.join(workdir, f"status.r{rank}.json"), "w") as f:
                        json.dump(status, f)
                    os._exit(3)
                if job["kind"] == "raise":
                    raise ValueError(f"injected failure on rank {rank}")

        def stop_when(rec, job=job):  # called on rank 0 only
            if job["kind"] == "observe" and rec["step"] == job["step"]:
                raise ZeroDivisionError("injected failure in an observation")
            return False

        t0 = time.monotonic()
        try:
            run_simulation(SimulationConfig(**job["config"]), data[job["x"]], data[job["y"]], progress=False,
                           on_step=on_step, stop_when=stop_when)
            outcome = "no error"
        except Exception as e:
            outcome = f"{type(e).__name__}: {e}"
        status[job["name"]] = {"outcome": outcome, "seconds": time.monotonic() - t0}
    with open(os.path.join(workdir, f"status.r{rank}.json"), "w") as f:
        json.dump(status, f)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # no destroy_process_group: a peer may be dead
''')


def _data():
    """Particles and targets of the cases (R^2 GMM; the 1-D and 2-D torus with one mode)."""
    x_rd, y_rd, _ = gmm_problem(N, M, 2, n_components=3, radius=1.5, component_std=0.4, seed=2)
    x_t1, y_t1, _ = torus_mode_problem(N, M, 1, mode=(2,), eps=0.1, layout="random", seed=3)
    x_t2, y_t2, _ = torus_mode_problem(N, M, 2, mode=(1, 1), eps=0.1, layout="random", seed=4)
    return {"x_rd": x_rd, "y_rd": y_rd, "x_t1": x_t1, "y_t1": y_t1, "x_t2": x_t2, "y_t2": y_t2}


GEOMETRIES = {
    # name: (data, config); constant bandwidths (the one-step check starts every step at its state)
    "rd": ("rd", dict(kernel="gaussian", scale=2.5, step=0.1, integrator="euler")),
    "t1": ("t1", dict(kernel="laplace", scale=0.5, step=0.05, integrator="heun", period=1.0, wrap="lattice",
                      images=1, modes=[[2]])),
    "t2": ("t2", dict(kernel="laplace", scale=0.7, step=0.05, integrator="euler", period=1.0, wrap="lattice",
                      images=1, modes=[[1, 1]])),
}


def _config(geometry, n_steps=STEPS, **kw):
    base = dict(GEOMETRIES[geometry][1], n_steps=n_steps, obs_points=64, checkpoint_every=0, backend="dense",
                num_threads=1)
    return {**base, **kw}


def _cases():
    """(name, geometry, reference mode) of the determinism runs."""
    return [(f"{g}_{mode}", g, mode) for g in ("rd", "t1") for mode in ("all_gather", "ring")] + \
        [("t2_ring", "t2", "ring")]


def _plan(world, workdir, resume_from=None):
    runs = [{"name": name, "config": _config(g), "x": f"x_{GEOMETRIES[g][0]}", "y": f"y_{GEOMETRIES[g][0]}",
             "mode": mode, "out": None, "progress": False} for name, g, mode in _cases()]
    # a partial run (4 of 8 steps) into rank-specific folders: only rank 0's may appear
    runs.append({"name": "partial", "config": _config("t1", n_steps=4, checkpoint_every=2), "x": "x_t1",
                 "y": "y_t1", "mode": "all_gather" if world == 2 else "ring",
                 "out": str(Path(workdir) / "out_RANK"), "progress": True})
    if resume_from is not None:  # continue another launch's partial run to 8 steps, in the other mode
        runs.append({"name": "resumed", "config": _config("t1", n_steps=8, checkpoint_every=2), "x": "x_t1",
                     "y": "y_t1", "mode": "ring", "out": str(resume_from), "progress": False})
    fail = _config("t1", n_steps=5)
    failures = [{"name": "raise", "kind": "raise", "rank": world - 1, "step": 3, "config": fail, "x": "x_t1",
                 "y": "y_t1"},
                {"name": "observe", "kind": "observe", "rank": 0, "step": 2, "config": fail, "x": "x_t1",
                 "y": "y_t1"}]
    if world == 2:  # last: the group does not survive it
        failures.append({"name": "die", "kind": "die", "rank": 1, "step": 2, "config": fail, "x": "x_t1",
                         "y": "y_t1"})
    return {"runs": runs, "failures": failures}


def _launch(workdir: Path, world: int, resume_from=None):
    workdir.mkdir(parents=True, exist_ok=True)
    np.savez(workdir / "data.npz", **_data())
    (workdir / "plan.json").write_text(json.dumps(_plan(world, workdir, resume_from)))
    (workdir / "worker.py").write_text(WORKER)
    codes, logs = launch_ranks(workdir / "worker.py", world, workdir, timeout=90)
    expected = [0] * world if world != 2 else [0, 3]
    assert codes == expected, f"exit codes {codes}, expected {expected}; logs:\n" + "\n---\n".join(logs)
    return {"dir": workdir, "world": world, "logs": logs}


@pytest.fixture(scope="module")
def launches(tmp_path_factory):
    """The 2-rank launch, then the 3-rank launch (which resumes the 2-rank partial run)."""
    root = tmp_path_factory.mktemp("ranks")
    two = _launch(root / "r2", 2)
    snapshot = root / "partial_r2"  # the 2-rank folder as it was, before the 3-rank run resumes a copy
    shutil.copytree(root / "r2" / "out_0", snapshot)
    shutil.copytree(root / "r2" / "out_0", root / "resume_in_r3")
    three = _launch(root / "r3", 3, resume_from=root / "resume_in_r3")
    return {2: two, 3: three, "snapshot": snapshot, "resumed_dir": root / "resume_in_r3"}


def _result(launch, name, rank=0):
    d = launch["dir"]
    meta = json.loads((d / f"{name}.r{rank}.json").read_text())
    return np.load(d / f"{name}.r{rank}.npy"), meta["records"], meta["info"]


def _trajectory(launch, name):
    """The global particles after every step, assembled from the ranks' stored blocks."""
    d = launch["dir"]
    return np.concatenate([np.load(d / f"{name}.blocks.r{r}.npy") for r in range(launch["world"])], axis=1)


# -- the independent one-step map and the bounds --------------------------------------------------------------

def _field(x, y, cfg):
    """V = m_p - m_q by the dense engine (own pair kept), float64."""
    kern = make_kernel(cfg["kernel"], cfg["scale"])
    opts = dict(period=cfg.get("period"), wrap="lattice", images=cfg.get("images", 1), backend="dense")
    return kernel_sums(x, y, kern, **opts).shift - kernel_sums(x, x, kern, **opts).shift


def _one_step(x, y, cfg):
    """Euler or Heun from ``x`` (constant bandwidth), positions wrapped on the torus."""
    period, eta = cfg.get("period"), cfg["step"]

    def wrap(z):
        return z if period is None else np.mod(z, period)

    v = _field(x, y, cfg)
    if cfg["integrator"] == "euler":
        return wrap(x + eta * v)
    pred = wrap(x + eta * v)
    return wrap(x + 0.5 * eta * (v + _field(pred, y, cfg)))


def _gap(a, b, period):
    """max_i |a_i - b_i| (Euclidean; the torus distance on a torus)."""
    d = a - b
    if period is not None:
        d = d - period * np.round(d / period)
    return float(np.max(np.linalg.norm(d, axis=1)))


class Bounds:
    """The round-off bounds of the module docstring for one case and number of ranks."""

    def __init__(self, cfg, states, y, world):
        period, images = cfg.get("period"), cfg.get("images", 1)
        d = y.shape[1]
        if period is None:
            pts = np.concatenate([np.concatenate(states), y])
            self.D = float(np.linalg.norm(pts.max(axis=0) - pts.min(axis=0)))  # >= any |y_j - x_i|
            copies = 1
        else:  # an image y + nL (|n_k| <= images) of a point in [0, L)^d: |y + nL - x| <= sqrt(d) (images+1) L
            self.D = math.sqrt(d) * (images + 1) * period
            copies = (2 * images + 1) ** d
        s = cfg["scale"]
        G = self.D / s**2 if cfg["kernel"] == "gaussian" else 1.0 / s
        log_k = self.D**2 / (2 * s**2) if cfg["kernel"] == "gaussian" else self.D / s
        K = copies * max(N, M)
        gamma = K * U / (1 - K * U)
        lam = math.log(K) + log_k
        self.dV = 2 * self.D * (4 * gamma + 4 * world * U * (2 + lam))
        self.lip = 3 * (1 + 2 * self.D * G)
        eta = cfg["step"]
        if cfg["integrator"] == "euler":
            self.step, self.amp = eta * self.dV, 1 + eta * self.lip
        else:
            self.step = eta * self.dV * (1 + eta * self.lip / 2)
            self.amp = 1 + eta * self.lip + (eta * self.lip) ** 2 / 2
        self.h, self.n_obs = s, (N + M) ** 2

    def after(self, k):
        """Bound on the position difference after k steps."""
        return self.step * sum(self.amp**j for j in range(k))

    def observable(self, key, k, cfg):
        dx = self.after(k)
        own = 2 * self.n_obs * U * 4 * (1 + self.D**2)  # the observable's own round-off, both runs
        if key in ("step", "t", "bandwidth"):
            return 0.0
        if key.startswith("mode"):
            kvec = 2 * np.pi * np.asarray(cfg["modes"][0], dtype=float) / cfg["period"]
            return float(np.linalg.norm(kvec)) * dx + own
        if key == "mmd2":
            return 4 * math.exp(-0.5) * dx / self.h + own
        if key == "energy":
            return 4 * dx + own
        if key == "sw2":
            return dx + own
        if key == "ev2":
            dv = self.lip * dx + self.dV
            return (4 * self.D + dv) * dv + own
        raise KeyError(key)


def _compare_records(name, got, want, bounds, cfg):
    assert [sorted(r) for r in got] == [sorted(r) for r in want], f"{name}: record keys or count differ"
    for g, w in zip(got, want):
        for key, value in w.items():
            tol = bounds.observable(key, w["step"], cfg)
            assert tol < OBS_CEILING, (name, key, tol)
            assert_close(g[key], value, atol=tol, what=f"{name} step {w['step']} {key} (bound {tol:.2e})")


# -- the tests ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("world", [2, 3])
def test_distributed_runs_equal_one_process(launches, world):
    launch, data = launches[world], _data()
    for name, g, mode in _cases():
        cfg = _config(g)
        x0, y = data[f"x_{GEOMETRIES[g][0]}"], data[f"y_{GEOMETRIES[g][0]}"]
        period = cfg.get("period")
        traj = _trajectory(launch, name)
        assert traj.shape == (STEPS, N, x0.shape[1]), (name, traj.shape)
        start = x0 if period is None else np.mod(x0, period)
        states = [start, *traj]
        bounds = Bounds(cfg, states, y, world)
        assert bounds.after(STEPS) < CEILING, (name, bounds.after(STEPS), vars(bounds))
        # every step against the dense one-step map from the distributed state before it (no amplification)
        for k in range(STEPS):
            gap = _gap(states[k + 1], _one_step(states[k], y, cfg), period)
            assert gap <= bounds.step, f"{name} R={world} step {k + 1}: {gap:.3e} > per-step bound {bounds.step:.3e}"
        # the whole run against the uninterrupted one-process run
        single = run_simulation(SimulationConfig(**cfg), x0, y, progress=False)
        particles, records, info = _result(launch, name)
        assert np.array_equal(particles, traj[-1]), f"{name}: the result is not the last step's blocks"
        gap = _gap(particles, single.particles, period)
        assert gap <= bounds.after(STEPS), f"{name} R={world}: particles differ by {gap:.3e} > {bounds.after(STEPS):.3e}"
        _compare_records(f"{name} R={world}", records, single.records, bounds, cfg)
        assert info["world_size"] == world and info["reference_mode"] == mode and info["n_particles"] == N, info
        for r in range(1, world):  # every rank returns the same result
            p_r, rec_r, _ = _result(launch, name, r)
            assert np.array_equal(p_r, particles) and rec_r == records, f"{name}: rank {r} returned another result"


def test_resume_with_another_number_of_ranks(launches, tmp_path):
    data, cfg8 = _data(), _config("t1", n_steps=8, checkpoint_every=2)
    x0, y = data["x_t1"], data["y_t1"]
    single = run_simulation(SimulationConfig(**cfg8), x0, y, progress=False)
    # 2 ranks to step 4 (all-gather), then 3 ranks to step 8 (ring)
    particles, records, info = _result(launches[3], "resumed")
    assert info["resumed_from"] == 4 and info["world_size"] == 3, info
    traj = np.concatenate([np.mod(x0, 1.0)[None], _trajectory(launches[2], "partial"), _trajectory(launches[3],
                                                                                                    "resumed")])
    bounds = Bounds(cfg8, list(traj), y, 3)
    gap = _gap(particles, single.particles, 1.0)
    assert gap <= bounds.after(8) < CEILING, f"2 -> 3 ranks: particles differ by {gap:.3e} > {bounds.after(8):.3e}"
    _compare_records("2 -> 3 ranks", records, single.records, bounds, cfg8)
    stored = load_checkpoint(launches["resumed_dir"] / CHECKPOINT_NAME)
    assert stored["step"] == 8 and np.array_equal(stored["particles"], particles), "final checkpoint"
    # the 3-rank partial run (step 4, ring) resumed in one process
    folder = tmp_path / "from3"
    shutil.copytree(launches[3]["dir"] / "out_0", folder)
    one = run_simulation(SimulationConfig(**cfg8), x0, y, out_dir=folder, progress=False)
    assert one.info["resumed_from"] == 4 and "world_size" not in one.info, one.info
    gap = _gap(one.particles, single.particles, 1.0)
    assert gap <= bounds.after(8), f"3 ranks -> 1 process: particles differ by {gap:.3e} > {bounds.after(8):.3e}"
    _compare_records("3 ranks -> 1 process", one.records, single.records, bounds, cfg8)


def test_files_and_progress_on_rank_zero_only(launches):
    for world in (2, 3):
        launch = launches[world]
        d = launch["dir"]
        made = sorted(p.name for p in d.iterdir() if p.name.startswith("out_"))
        assert made == ["out_0"], f"R={world}: output folders {made} (only rank 0 writes)"
        files = sorted(p.name for p in (d / "out_0").iterdir())
        assert files == sorted([".lock", CHECKPOINT_NAME, OBSERVABLES_NAME, RUN_NAME]), files
        # the checkpoint holds the global particles, gathered to rank 0
        particles, records, _ = _result(launch, "partial")
        stored = load_checkpoint(d / "out_0" / CHECKPOINT_NAME)
        assert stored["step"] == 4 and np.array_equal(stored["particles"], particles), "checkpoint != result"
        assert stored["records"] == records, "checkpoint records"
        run = json.loads((d / "out_0" / RUN_NAME).read_text())
        assert run["info"]["world_size"] == world, run["info"]
        logs = launch["logs"]
        assert "simulate" in logs[0], f"R={world}: no progress bar on rank 0:\n{logs[0]}"
        for r in range(1, world):
            assert "simulate" not in logs[r], f"R={world}: rank {r} printed a progress bar:\n{logs[r]}"
    # the snapshot of the 2-rank folder (before the 3-rank resume) is a step-4 checkpoint
    assert load_checkpoint(launches["snapshot"] / CHECKPOINT_NAME)["step"] == 4


def _status(launch):
    return [json.loads((launch["dir"] / f"status.r{r}.json").read_text()) for r in range(launch["world"])]


def test_a_failed_rank_stops_every_rank(launches):
    for world in (2, 3):
        status = _status(launches[world])
        bad = world - 1
        mine = status[bad]["raise"]["outcome"]
        assert mine == f"ValueError: injected failure on rank {bad}", (world, mine)
        for r in range(world):
            if r == bad:
                continue
            msg = status[r]["raise"]["outcome"]
            assert msg.startswith("DistributedRunError: ") and "\n" not in msg, (world, r, msg)
            assert f"at step 3 because rank {bad} failed" in msg and "injected failure" in msg, (world, r, msg)
            assert status[r]["raise"]["seconds"] < 20, (world, r, status[r]["raise"])
        # an error in rank 0's observation (here its stop_when) reaches the other ranks the same way
        assert status[0]["observe"]["outcome"].startswith("ZeroDivisionError"), status[0]["observe"]
        for r in range(1, world):
            msg = status[r]["observe"]["outcome"]
            assert msg.startswith("DistributedRunError: ") and "observation at step 2" in msg \
                and "rank 0 failed" in msg, (world, r, msg)


def test_a_dead_rank_does_not_hang_the_others(launches):
    # rank 1 exits (os._exit) after step 2: rank 0's next message fails on the closed
    # connection, well before the group's 30 s timeout
    status = _status(launches[2])
    got = status[0]["die"]
    assert got["outcome"] != "no error" and got["seconds"] < 25, got
    assert "die" not in status[1], status[1]


def test_group_of_one_rank_in_this_process(tmp_path):
    # a world of one rank (this process): the distributed code path, compared with one process
    # (the particles' sums are the same single engine call; bounds as in the module docstring)
    if dist.is_initialized():  # pragma: no cover
        pytest.skip("a process group is initialised in this process")
    data = _data()
    cfg = _config("rd", n_steps=3)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        res = run_simulation(SimulationConfig(**cfg), data["x_rd"], data["y_rd"], progress=False,
                             reference_mode="ring", out_dir=tmp_path / "out")
        with pytest.raises(ValueError, match="reference_mode must be one of"):
            run_simulation(SimulationConfig(**cfg), data["x_rd"], data["y_rd"], progress=False,
                           reference_mode="tree")
        alone = run_simulation(SimulationConfig(**cfg), data["x_rd"], data["y_rd"], progress=False,
                               distributed=False)
    finally:
        dist.destroy_process_group()
    assert res.info["world_size"] == 1 and "world_size" not in alone.info, (res.info, alone.info)
    bounds = Bounds(cfg, [data["x_rd"], res.particles, alone.particles], data["y_rd"], 1)
    gap = _gap(res.particles, alone.particles, None)
    assert gap <= bounds.after(3), f"one rank vs one process: {gap:.3e} > {bounds.after(3):.3e}"
    assert load_checkpoint(tmp_path / "out" / CHECKPOINT_NAME)["step"] == 3


def test_distributed_needs_a_group_and_valid_arguments():
    if dist.is_initialized():  # pragma: no cover
        pytest.skip("a process group is initialised in this process")
    data = _data()
    cfg = SimulationConfig(**_config("rd", n_steps=1))
    with pytest.raises(RuntimeError, match="init_process_group"):
        run_simulation(cfg, data["x_rd"], data["y_rd"], progress=False, distributed=True)
    with pytest.raises(TypeError, match="distributed must be None, True or False"):
        run_simulation(cfg, data["x_rd"], data["y_rd"], progress=False, distributed="yes")
    with pytest.raises(ValueError, match="reference_mode must be one of"):
        run_simulation(cfg, data["x_rd"], data["y_rd"], progress=False, reference_mode="tree")
    assert issubclass(DistributedRunError, RuntimeError)


def test_torchrun_command_line_with_two_ranks(tmp_path):
    # the documented command line, 2 ranks, tiny N; the summary printed once (rank 0), the files
    # in --out, and the final particles equal the one-process CLI's to the bound of the module
    # docstring (float64; the t1 geometry with N = M = 16, eps = 0.05 and 3 Euler steps)
    pytest.importorskip("torch.distributed.run")
    args = ["simulate", "--n", "16", "--m", "16", "--kernel", "laplace", "--scale", "0.5", "--step", "0.05",
            "--steps", "3", "--mode", "2", "--layout", "random", "--no-progress", "--format", "json",
            "--threads", "1"]
    out2 = tmp_path / "two"
    # "--" ends torchrun's own options: its parser would read --n and --m as abbreviations of its own
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "driftlab",
           "--", *args, "--reference-mode", "ring", "--out", str(out2)]
    env = {**__import__("os").environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:  # pragma: no cover
        pytest.fail("torchrun with 2 ranks did not finish within 120 s (a hang)")
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.stdout.count('"resumed_from"') == 1, f"the summary must come once (rank 0):\n{proc.stdout}"
    run = json.loads((out2 / RUN_NAME).read_text())
    assert run["info"]["world_size"] == 2 and run["info"]["reference_mode"] == "ring", run["info"]
    from click.testing import CliRunner

    from driftlab.cli import main

    out1 = tmp_path / "one"
    res = CliRunner().invoke(main, [*args, "--out", str(out1)])
    assert res.exit_code == 0, res.output
    p2 = load_checkpoint(out2 / CHECKPOINT_NAME)["particles"]
    p1 = load_checkpoint(out1 / CHECKPOINT_NAME)["particles"]
    cfg = dict(_config("t1", n_steps=3), integrator="euler")
    x0, y, _ = torus_mode_problem(16, 16, 1, mode=(2,), eps=0.05, layout="random", seed=0)
    bounds = Bounds(cfg, [x0], y, 2)
    gap = _gap(p2, p1, 1.0)
    assert gap <= bounds.after(3), f"torchrun vs one process: {gap:.3e} > {bounds.after(3):.3e}"


def test_cli_refuses_distributed_options_outside_torchrun(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from driftlab.cli import main

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    res = CliRunner().invoke(main, ["simulate", "--n", "8", "--steps", "1", "--reference-mode", "ring",
                                    "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--reference-mode is ignored outside torchrun" in res.output, res.output
    assert not (tmp_path / "o").exists()


def test_torchrun_failure_is_one_line_from_rank_zero(tmp_path):
    # --out names a file: rank 0 fails creating the folder, rank 1 learns it from the broadcast and
    # exits quietly; the launch ends (no hang) with exit status 1 and one "Error:" line of ours
    pytest.importorskip("torch.distributed.run")
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "driftlab",
           "--", "simulate", "--n", "8", "--steps", "1", "--no-progress", "--out", str(blocker)]
    env = {**__import__("os").environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:  # pragma: no cover
        pytest.fail("a failing torchrun launch did not end within 120 s (a hang)")
    ours = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("Error:")]
    assert proc.returncode != 0 and len(ours) == 1, f"exit {proc.returncode}; our lines {ours}\n{proc.stderr}"
    assert "--out" in ours[0] and "is not a folder" in ours[0], ours
    assert blocker.read_text() == "not a folder"
