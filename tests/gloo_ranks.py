"""Start R worker processes of a test script (gloo ranks on the CPU) and wait for them, with a
deadline so that a hang fails the test instead of blocking CI.

A worker script gets ``sys.argv[1:] == [rank, world, workdir, *args]`` and creates its process
group itself, e.g. ``dist.init_process_group("gloo", init_method="file://" + workdir + "/store",
rank=rank, world_size=world, timeout=...)``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

#: the opening of every worker script: one thread, the process group from the file:// store of
#: ``workdir`` (30 s timeout), and ``rank, world, workdir`` bound
WORKER_PREAMBLE = """\
import datetime, json, os, sys, time
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
import torch
import torch.distributed as dist
torch.set_num_threads(1)
rank, world, workdir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
dist.init_process_group("gloo", init_method="file://" + os.path.join(workdir, "store"), rank=rank,
                        world_size=world, timeout=datetime.timedelta(seconds=30))
"""


def launch_ranks(script: str | Path, world: int, workdir: str | Path, *, args: tuple = (), timeout: float = 90.0,
                 env: dict | None = None) -> tuple[list[int], list[str]]:
    """Run ``python script rank world workdir *args`` for ``rank = 0 .. world - 1`` at once.

    One intra-op thread per rank (``OMP_NUM_THREADS=1``), warnings off. Returns the exit codes
    and the combined stdout/stderr of every rank, in rank order; ``pytest.fail`` when the ranks
    have not all finished after ``timeout`` seconds (they are killed).
    """
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore", **(env or {}))
    procs = [subprocess.Popen([sys.executable, str(script), str(r), str(world), str(workdir), *map(str, args)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for r in range(world)]
    t0 = time.monotonic()
    logs = []
    try:
        for p in procs:
            left = max(1.0, timeout - (time.monotonic() - t0))
            out, _ = p.communicate(timeout=left)
            logs.append(out.decode(errors="replace"))
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        pytest.fail(f"{world} ranks did not finish within {timeout:g} s (a hang)")
    return [p.returncode for p in procs], logs
