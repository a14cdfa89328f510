"""Training checkpoints: a run stopped at any step (hook, SIGKILL, SIGINT) resumes bit-identically.

Every comparison here is exact: the resumed run must reproduce the uninterrupted one bit for
bit (same machine, same torch build, one torch thread), so parameters are compared with
``torch.equal``, losses with ``np.array_equal`` and history rows through ``repr`` of every
value (the shortest repr of a float identifies it exactly; NaN rows compare equal). Only the
wall-clock ``seconds`` are left out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from driftlab._io import RunFolderMismatch, without_timings
from driftlab.training import ParticleGenerator, TrainConfig, train, two_gaussians
from driftlab.training.trainer import CHECKPOINT_NAME, TrainingInterrupted, load_checkpoint


@pytest.fixture(autouse=True)
def _one_torch_thread():
    from driftlab.training import torch_threads

    with torch_threads(1):
        yield


#: 6 steps, evaluations at 0, 4 and 6 (the last step is not a multiple of eval_every: the
#: resume logic must drop the extra row a shorter run records at its own last step)
_BASE = dict(data="two-moons", field="gaussian", tau=0.3, steps=6, batch_data=64, batch_gen=64, hidden=16,
             depth=2, in_dim=4, eval_every=4, n_eval=64, eval_w2=False, seed=0)


def _cfg(**kw):
    return TrainConfig(**{**_BASE, **kw})


@pytest.fixture(scope="module")
def straight():
    from driftlab.training import torch_threads

    with torch_threads(1):
        return train(_cfg(), progress=False)


def _rows(history):
    return [{k: repr(v) for k, v in row.items()} for row in without_timings(history)]


def assert_same_run(got, want):
    sd_got, sd_want = got.model.state_dict(), want.model.state_dict()
    assert list(sd_got) == list(sd_want)
    for name in sd_want:
        assert torch.equal(sd_got[name], sd_want[name]), (
            f"parameter {name}: max |resumed - straight| = {(sd_got[name] - sd_want[name]).abs().max().item()}")
    assert np.array_equal(got.losses, want.losses), f"losses {got.losses} vs {want.losses}"
    assert _rows(got.history) == _rows(want.history), f"history\n{got.history}\nvs\n{want.history}"
    assert {k: repr(v) for k, v in got.final.items()} == {k: repr(v) for k, v in want.final.items()}, (
        f"final {got.final} vs {want.final}")
    assert np.array_equal(got.samples, want.samples)


class _Stop(Exception):
    pass


def test_stopped_by_a_hook_resumes_bit_identically(tmp_path, straight):
    def stop_at_3(step):
        if step == 3:
            raise _Stop

    with pytest.raises(_Stop):
        train(_cfg(), progress=False, out_dir=tmp_path, checkpoint_every=2, on_step=stop_at_3)
    state = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert state["step"] == 2 and [r["step"] for r in state["history"]] == [0]
    resumed = train(_cfg(), progress=False, out_dir=tmp_path, checkpoint_every=2)
    assert resumed.info["resumed_from"] == 2
    assert_same_run(resumed, straight)
    # the finished run's folder: the same call only reloads it (nothing left to train)
    again = train(_cfg(), progress=False, out_dir=tmp_path)
    assert again.info["resumed_from"] == 6
    assert_same_run(again, straight)


def test_longer_run_continues_a_finished_shorter_one(tmp_path, straight):
    short = train(_cfg(steps=5), progress=False, out_dir=tmp_path)
    assert [r["step"] for r in short.history] == [0, 4, 5]  # its own last step is evaluated
    longer = train(_cfg(), progress=False, out_dir=tmp_path)
    assert longer.info["resumed_from"] == 5
    assert_same_run(longer, straight)  # rows 0, 4, 6: the step-5 row is gone
    with pytest.raises(RunFolderMismatch, match="already at step 6, beyond steps 4"):
        train(_cfg(steps=4), progress=False, out_dir=tmp_path)


_CHILD = textwrap.dedent("""
    import os, signal, sys, time
    import torch
    torch.set_num_threads(1)
    from driftlab.training import TrainConfig, train
    from driftlab.training.trainer import TrainingInterrupted, load_checkpoint
    out, cfg = sys.argv[1], TrainConfig(**eval(sys.argv[2]))

    def interrupt_at_3(step):  # a real SIGINT, delivered to the process
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)

    try:  # checkpoint_every=0: only the SIGINT path writes a checkpoint
        train(cfg, progress=False, out_dir=out, checkpoint_every=0, on_step=interrupt_at_3)
    except TrainingInterrupted as exc:
        print("INTERRUPTED", exc.step, load_checkpoint(exc.checkpoint)["step"], flush=True)

    def hang_at_5(step):  # after the checkpoint of step 4
        if step == 5:
            print("HANGING", flush=True)
            time.sleep(120)

    train(cfg, progress=False, out_dir=out, checkpoint_every=4, on_step=hang_at_5)  # resumes from 3
""")


def test_sigint_then_sigkill_then_resume_is_bit_identical(tmp_path, straight):
    """One child process: SIGINT at step 3 (the step is finished and checkpointed), resume there,
    checkpoint at step 4, SIGKILL at step 5 (no cleanup runs; its lock dies with it); this
    process resumes from step 4 and must end exactly where the uninterrupted run ends."""
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path), repr(_BASE)], stdout=subprocess.PIPE,
                            text=True)
    try:
        first = proc.stdout.readline()
        assert first.split() == ["INTERRUPTED", "3", "3"], first
        second = proc.stdout.readline()  # blocks until the child is past the checkpoint of step 4
        assert "HANGING" in second, second
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    state = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert state["step"] == 4 and state["losses"].shape == (4,)
    resumed = train(_cfg(), progress=False, out_dir=tmp_path)
    assert resumed.info["resumed_from"] == 4
    assert_same_run(resumed, straight)


def test_sigint_in_process_checkpoints_and_restores_the_handler(tmp_path):
    """In process: the handler train() installs turns one SIGINT into a checkpoint + TrainingInterrupted."""
    if sys.platform == "win32":  # pragma: no cover
        pytest.skip("POSIX signals")
    import threading

    if threading.current_thread() is not threading.main_thread():  # pragma: no cover - some runners
        pytest.skip("signal handlers need the main thread")
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(TrainingInterrupted) as info:
        train(_cfg(), progress=False, out_dir=tmp_path, checkpoint_every=0,
              on_step=lambda s: os.kill(os.getpid(), signal.SIGINT) if s == 2 else None)
    assert info.value.step == 2 and info.value.checkpoint == tmp_path / CHECKPOINT_NAME
    assert signal.getsignal(signal.SIGINT) is before  # the previous handler is back
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME)["step"] == 2


def test_particle_generator_resumes_and_other_particles_are_refused(tmp_path):
    ds = two_gaussians()
    pts = np.array([2.0, 0.0]) + 0.05 * np.random.default_rng(1).standard_normal((32, 2))
    cfg = TrainConfig(data="two-gaussians", field="gaussian", method="separate", tau=1.0, steps=6, batch_data=32,
                      batch_gen=32, optimizer="sgd", lr=8.0, eval_every=3, n_eval=32, eval_w2=False,
                      temperatures=(0.2,))
    want = train(cfg, model=ParticleGenerator(pts), dataset=ds, progress=False)

    def stop_at_4(step):
        if step == 4:
            raise _Stop

    with pytest.raises(_Stop):
        train(cfg, model=ParticleGenerator(pts), dataset=ds, progress=False, out_dir=tmp_path, checkpoint_every=3,
              on_step=stop_at_4)
    got = train(cfg, model=ParticleGenerator(pts), dataset=ds, progress=False, out_dir=tmp_path)
    assert got.info["resumed_from"] == 3
    assert_same_run(got, want)
    with pytest.raises(RunFolderMismatch, match="model_init"):  # same config, other initial particles
        train(cfg, model=ParticleGenerator(pts + 1.0), dataset=ds, progress=False, out_dir=tmp_path)


def test_cli_resume_matches_a_straight_run(tmp_path):
    from driftlab.cli import main

    args = ["train", "--data", "two-moons", "--field", "gaussian", "--tau", "0.3", "--batch", "64", "--hidden", "16",
            "--depth", "2", "--in-dim", "4", "--eval-every", "2", "--n-eval", "64", "--no-w2", "--threads", "1",
            "--quiet", "--checkpoint-every", "2"]
    runner = CliRunner()
    r = runner.invoke(main, args + ["--steps", "5", "--out", str(tmp_path / "straight")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, args + ["--steps", "3", "--out", str(tmp_path / "resumed")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, args + ["--steps", "5", "--out", str(tmp_path / "resumed")])
    assert r.exit_code == 0, r.output
    assert "resumed_from=3" in r.output
    a, b = tmp_path / "straight", tmp_path / "resumed"
    assert (a / "losses.csv").read_bytes() == (b / "losses.csv").read_bytes()
    ma, mb = (json.loads((p / "metrics.json").read_text()) for p in (a, b))
    assert without_timings(ma) == without_timings(mb)
    assert [r["step"] for r in mb["history"]] == [0, 2, 4, 5]


def test_checkpoint_that_does_not_fit_the_run_is_reported(tmp_path):
    from driftlab._io import CheckpointError

    train(_cfg(steps=2), progress=False, out_dir=tmp_path)
    path = tmp_path / CHECKPOINT_NAME
    state = torch.load(path, weights_only=True)
    state["model"].pop(next(iter(state["model"])))  # a parameter missing, the parameters unchanged
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=f"{CHECKPOINT_NAME} does not fit this run.*resume=False"):
        train(_cfg(), progress=False, out_dir=tmp_path)
