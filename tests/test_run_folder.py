"""Run folders of ``train`` and ``simulate``: one writer (advisory lock), one set of parameters,
unreadable checkpoints reported in one line (library: ValueError; CLI: exit 1, no traceback)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from driftlab._io import LOCK_NAME, CheckpointError, RunDirectory, RunFolderBusy, RunFolderError, RunFolderMismatch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    from driftlab.training import torch_threads

    with torch_threads(1):
        yield


_TRAIN = ["train", "--data", "two-moons", "--field", "gaussian", "--tau", "0.3", "--batch", "64", "--hidden", "16",
          "--depth", "2", "--in-dim", "4", "--eval-every", "2", "--n-eval", "64", "--no-w2", "--threads", "1",
          "--quiet", "--steps", "2"]
_SIMULATE = ["simulate", "--n", "32", "--steps", "2", "--kernel", "laplace", "--mode", "2", "--no-progress",
             "--threads", "1", "--checkpoint-every", "1"]
_CHECKPOINT = {"train": "checkpoint.pt", "simulate": "checkpoint.npz"}


def _cli(args, out, *extra):
    from driftlab.cli import main

    return CliRunner().invoke(main, list(args) + ["--out", str(out), *extra])


def assert_one_line_error(res, *needles, code=1):
    """exit ``code``, a single 'Error: ...' line holding every needle, no traceback, not 'Aborted!'."""
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert res.exit_code == code, f"exit {res.exit_code} (want {code}); output:\n{res.output}"
    assert isinstance(res.exception, SystemExit), f"uncaught {res.exception!r}"
    assert len(lines) == 1 and lines[0].startswith("Error: "), f"want one 'Error:' line, got:\n{res.output}"
    assert "Traceback" not in res.output and "Aborted!" not in res.output
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"


def _tiny_train_cfg(**kw):
    from driftlab.training import TrainConfig

    base = dict(data="two-moons", field="gaussian", tau=0.3, steps=2, batch_data=32, batch_gen=32, hidden=8,
                depth=2, in_dim=4, eval_every=0, n_eval=32, eval_w2=False)
    return TrainConfig(**{**base, **kw})


def _tiny_sim():
    from driftlab.simulation import SimulationConfig, torus_mode_problem

    x, y, _ = torus_mode_problem(32, 32, 1, mode=(2,), eps=0.05)
    cfg = SimulationConfig(kernel="laplace", scale=0.05, n_steps=2, period=1.0, modes=[[2]], obs_points=16,
                           checkpoint_every=1, backend="torch", num_threads=1)
    return cfg, x, y


# --- the lock ------------------------------------------------------------------------------

def test_second_writer_is_refused_until_the_first_releases(tmp_path):
    first = RunDirectory(tmp_path / "run").acquire()
    try:
        with pytest.raises(RunFolderBusy, match=rf"in use by process {os.getpid()}.*wait for that run to finish"):
            RunDirectory(tmp_path / "run").acquire()
    finally:
        first.release()
    with RunDirectory(tmp_path / "run"):  # free again
        pass
    assert (tmp_path / "run" / LOCK_NAME).exists()  # the lock file stays; only the flock matters


_HOLDER = textwrap.dedent("""
    import fcntl, os, sys, time
    fd = os.open(os.path.join(sys.argv[1], ".lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, b"%d\\n" % os.getpid())
    print("LOCKED", flush=True)
    time.sleep(120)
""")


def test_lock_of_a_killed_process_does_not_block(tmp_path):
    (tmp_path / LOCK_NAME).write_text("999999999\n")  # a stale lock file with a dead pid: no flock, no block
    with RunDirectory(tmp_path):
        pass
    # a longer leftover line: the holder writes its pid over it without truncating, so the file
    # reads "<pid>\n<tail>" (the busy message named "another process" when the holder's pid was
    # shorter than the previous writer's)
    (tmp_path / LOCK_NAME).write_text("99999999999999\n")
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert "LOCKED" in proc.stdout.readline()
        with pytest.raises(RunFolderBusy, match=f"process {proc.pid}"):
            RunDirectory(tmp_path).acquire()
        os.kill(proc.pid, signal.SIGKILL)  # dies holding the lock: the kernel drops it
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    with RunDirectory(tmp_path):
        pass


@pytest.mark.parametrize("command", ["train", "simulate"])
def test_concurrent_writer_is_refused(tmp_path, command):
    from driftlab.simulation import run_simulation
    from driftlab.training import train

    out = tmp_path / "run"
    with RunDirectory(out):  # another writer holds the folder
        with pytest.raises(RunFolderBusy, match="in use"):
            if command == "train":
                train(_tiny_train_cfg(), progress=False, out_dir=out)
            else:
                cfg, x, y = _tiny_sim()
                run_simulation(cfg, x, y, out_dir=out, progress=False)
        res = _cli(_TRAIN if command == "train" else _SIMULATE, out)
        assert_one_line_error(res, str(out), "in use", "choose another --out")
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # nothing was written
    assert _cli(_TRAIN if command == "train" else _SIMULATE, out).exit_code == 0  # released: it runs


# --- other parameters ----------------------------------------------------------------------

@pytest.mark.parametrize("command, change, flag, shown", [
    ("train", ["--lr", "0.01"], "--lr", "--lr 0.001 there, 0.01 now"),
    ("train", ["--no-stopgrad"], "--no-stopgrad", "--no-stopgrad (stop_gradient) true there, false now"),
    ("simulate", ["--scale", "0.06"], "--scale", "--scale 0.05 there, 0.06 now"),
    ("simulate", ["--n", "40"], "--n", "--n 32 there, 40 now"),
])
def test_rerun_with_other_parameters_names_the_flag(tmp_path, command, change, flag, shown):
    base = _TRAIN if command == "train" else _SIMULATE
    out = tmp_path / "run"
    assert _cli(base, out).exit_code == 0
    res = _cli(base, out, *change)
    assert_one_line_error(res, shown, "--no-resume", "--out")
    assert "resume=False" not in res.output and "out_dir" not in res.output  # flags, not Python keywords
    res = _cli(base, out, *change, "--no-resume")  # the hint works: start over in the same folder
    assert res.exit_code == 0, res.output
    assert "resumed_from=0" in res.output


def test_steps_below_the_checkpoint_are_refused(tmp_path):
    out = tmp_path / "run"
    assert _cli(_TRAIN, out).exit_code == 0
    assert_one_line_error(_cli(_TRAIN[:-1] + ["1"], out), "already at step 2, beyond --steps 1", "--no-resume")
    assert _cli(_SIMULATE, out / "sim").exit_code == 0
    assert_one_line_error(_cli(_SIMULATE[:4] + ["1"] + _SIMULATE[5:], out / "sim"),
                          "already at step 2, beyond --steps 1")


def test_library_messages_name_the_keywords(tmp_path):
    from driftlab.simulation import SimulationConfig, run_simulation
    from driftlab.training import train

    train(_tiny_train_cfg(), progress=False, out_dir=tmp_path / "t")
    with pytest.raises(RunFolderMismatch, match=r"lr 0\.001 there, 0\.01 now.*pass resume=False") as info:
        train(_tiny_train_cfg(lr=0.01), progress=False, out_dir=tmp_path / "t")
    assert info.value.differences == [("lr", 0.001, 0.01)]
    assert isinstance(info.value, ValueError)
    cfg, x, y = _tiny_sim()
    run_simulation(cfg, x, y, out_dir=tmp_path / "s", progress=False)
    with pytest.raises(RunFolderMismatch, match="other initial particles"):
        run_simulation(cfg, x + 0.01, y, out_dir=tmp_path / "s", progress=False)
    with pytest.raises(RunFolderMismatch, match="integrator"):
        run_simulation(SimulationConfig(**{**cfg.to_dict(), "integrator": "heun"}), x, y, out_dir=tmp_path / "s",
                       progress=False)
    # more steps and another checkpoint cadence may change
    cfg2 = SimulationConfig(**{**cfg.to_dict(), "n_steps": 3, "checkpoint_every": 2})
    assert run_simulation(cfg2, x, y, out_dir=tmp_path / "s", progress=False).info["resumed_from"] == 2


# --- unreadable checkpoints ----------------------------------------------------------------

def _damage(path, how):
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    else:  # garbage of the same size
        path.write_bytes(np.random.default_rng(0).bytes(len(data)))


@pytest.mark.parametrize("how", ["truncated", "empty", "garbage"])
@pytest.mark.parametrize("command", ["train", "simulate"])
def test_unreadable_checkpoint_gives_one_line(tmp_path, command, how):
    from driftlab.simulation import run_simulation
    from driftlab.training import train

    base = _TRAIN if command == "train" else _SIMULATE
    out = tmp_path / "run"
    assert _cli(base, out).exit_code == 0
    ckpt = out / _CHECKPOINT[command]
    _damage(ckpt, how)
    res = _cli(base, out)
    assert_one_line_error(res, str(ckpt), "empty (0 bytes)" if how == "empty" else "truncated or damaged",
                          "--no-resume")
    with pytest.raises(CheckpointError, match="resume=False") as info:  # the library: a ValueError naming the file
        if command == "train":
            train(_tiny_train_cfg(), progress=False, out_dir=out)
        else:
            cfg, x, y = _tiny_sim()
            run_simulation(cfg, x, y, out_dir=out, progress=False)
    assert isinstance(info.value, ValueError) and str(ckpt) in str(info.value)
    assert "\n" not in str(info.value)
    res = _cli(base, out, "--no-resume")
    assert res.exit_code == 0, res.output


def test_load_checkpoint_functions_report_the_file(tmp_path):
    from driftlab.simulation import load_checkpoint as load_sim
    from driftlab.training.trainer import load_checkpoint as load_train

    for load, name in ((load_sim, "c.npz"), (load_train, "c.pt")):
        with pytest.raises(CheckpointError, match="cannot read the checkpoint .*" + name):
            load(tmp_path / name)
        (tmp_path / name).write_bytes(b"\x00" * 10)
        with pytest.raises(CheckpointError, match=f"{name} is truncated or damaged"):
            load(tmp_path / name)


# --- the folder itself ---------------------------------------------------------------------

def test_out_that_is_a_file_is_refused(tmp_path):
    out = tmp_path / "afile"
    out.write_text("x")
    assert_one_line_error(_cli(_SIMULATE, out), "exists and is not a folder")
    res = _cli(_TRAIN, out)  # train's --out is declared a folder: click's usage error (exit 2)
    assert res.exit_code == 2 and "is a file" in res.output and "Traceback" not in res.output, res.output
    with pytest.raises(RunFolderError, match="not a folder"):
        RunDirectory(out).acquire()
    with pytest.raises(RunFolderError, match="not a folder"):
        from driftlab.training import train

        train(_tiny_train_cfg(), progress=False, out_dir=out)


def test_simulate_checkpoint_without_run_params_still_resumes(tmp_path):
    """Checkpoints written before run_params existed: the data hash alone identifies the data."""
    out = tmp_path / "run"
    assert _cli(_SIMULATE, out).exit_code == 0
    ckpt = out / _CHECKPOINT["simulate"]
    with np.load(ckpt) as z:
        old = {k: z[k] for k in z.files if k != "params"}
    np.savez(ckpt, **old)
    assert_one_line_error(_cli(_SIMULATE, out, "--eps", "0.1"), "other initial particles")
    res = _cli(_SIMULATE[:4] + ["3"] + _SIMULATE[5:], out)
    assert res.exit_code == 0 and "resumed_from=2" in res.output, res.output
    # the resumed run wrote a checkpoint with its parameters: now the flag itself is named
    assert_one_line_error(_cli(_SIMULATE, out, "--eps", "0.1"), "--eps 0.05 there, 0.1 now")
