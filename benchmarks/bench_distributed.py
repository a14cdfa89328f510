"""Strong and weak scaling of ``driftlab.engine.distributed_kernel_sums`` on CPU ranks (gloo).

One evaluation is the self-masked kernel sums of N particles over themselves (the negative
half of a drift step: log-normaliser and mean shift, Gaussian kernel, float64, chunked torch
backend, one intra-op thread per rank), the particles split in contiguous blocks over R ranks.
For every R the script spawns R gloo ranks (``torch.multiprocessing.spawn``, file:// store)
and measures in them, with barriers around every repetition and the slowest rank's time
taken (``all_reduce(MAX)``):

* ``single``: rank 0 alone runs :func:`driftlab.engine.kernel_sums_trusted` on the whole set
  (the other ranks wait in a barrier): the one-process baseline, in the same process;
* ``all_gather`` and ``ring``: the distributed call in each reference mode; the ratio
  ``single / distributed`` is the speed-up;
* ``compute_only``: every rank's engine call on its block of queries over all N points at
  the same time, no messages: what the cores give R concurrent processes (on an idle
  machine with R cores ``single / R``);
* ``comm_all_gather`` / ``comm_ring``: the messages alone (the all-gather of the N x (d)
  float64 block, the R - 1 ring exchanges), so that communication and compute separate.

Strong scaling: N fixed, R = 1, 2, 3. Weak scaling: N / R fixed (the pairs per rank grow
like R: N^2 / R; a perfect weak-scaling time therefore grows like R -- the table reports the
efficiency ``t_single(N) / (R t_dist(N))``, the same speed-up/R as in strong scaling).
R = 3 on a 2-core machine oversubscribes the cores and is reported for the protocol, not the
speed. The JSON records the machine and its load average.

``--simulator``: the same scaling for whole simulator steps (``run_simulation`` of the GMM
problem in R^2, Gaussian kernel, float64, Euler, chunked torch backend, no observation
between the first and the last step, no files): per step two collective kernel sums (the
target replicated, the particles all-gathered or passed round the ring) and the local
update. ``single``: rank 0 alone runs the one-process simulator (``distributed=False``) while
the others wait; ``all_gather`` / ``ring``: the distributed run; the time per step is the
run's wall time divided by its steps (best of ``--reps``, the slowest rank), the first and
last observation included (two of the ``--steps`` + 1 field evaluations).

Usage::

    python benchmarks/bench_distributed.py --quick          # < 1 min smoke run
    python benchmarks/bench_distributed.py                  # N = 8192 strong, 4096 / rank weak
    python benchmarks/bench_distributed.py --out benchmarks/results/distributed_cpu.json
    python benchmarks/bench_distributed.py --simulator --worlds 1 2 --n 4096 --n-per-rank 2048
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def _timed(fn, reps, dist):
    """Best over ``reps`` of the slowest rank's wall time for ``fn()`` (barrier before each)."""
    import torch

    best = float("inf")
    for _ in range(reps):
        dist.barrier()
        t0 = time.perf_counter()
        fn()
        dt = torch.tensor([time.perf_counter() - t0], dtype=torch.float64)
        dist.all_reduce(dt, op=dist.ReduceOp.MAX)
        best = min(best, float(dt))
    return best


def _measure(cfg, rank, world, reps, dist, kern):
    """One row: the timings of one configuration (module docstring), on every rank."""
    import torch

    from driftlab.engine import distributed_kernel_sums, kernel_sums_trusted, shard_bounds

    n, d = cfg["n"], cfg["d"]
    g = torch.Generator().manual_seed(0)
    x_all = torch.randn(n, d, dtype=torch.float64, generator=g)
    lo, hi = shard_bounds(n, world)[rank]
    x = x_all[lo:hi].contiguous()
    row = dict(cfg, world=world)
    # warm-up of both paths (allocator, first-call overheads)
    distributed_kernel_sums(x, None, kern, mask_self=True, references="ring", backend="torch")
    if rank == 0:
        t_single = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            kernel_sums_trusted(x_all, x_all, kern, mask_self=True, backend="torch")
            t_single = min(t_single, time.perf_counter() - t0)
        row["single_s"] = t_single
    dist.barrier()
    for mode in ("all_gather", "ring"):
        row[f"{mode}_s"] = _timed(lambda m=mode: distributed_kernel_sums(
            x, None, kern, mask_self=True, references=m, backend="torch"), reps, dist)
    # compute alone: every rank's engine call on its queries over all N (no messages),
    # all ranks at once: what the cores give R concurrent processes
    row["compute_only_s"] = _timed(lambda: kernel_sums_trusted(x, x_all, kern, backend="torch"), reps, dist)
    # communication alone: the padded all-gather, and the R - 1 ring exchanges
    mmax = shard_bounds(n, world)[0][1]
    buf = torch.zeros(mmax, d, dtype=torch.float64)
    out = torch.zeros(world * mmax, d, dtype=torch.float64)
    gather = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor
    row["comm_all_gather_s"] = _timed(lambda: gather(out, buf), reps, dist)

    def ring():
        cur, nxt = buf.clone(), torch.empty_like(buf)
        for _ in range(world - 1):
            reqs = dist.batch_isend_irecv([dist.P2POp(dist.isend, cur, (rank + 1) % world),
                                           dist.P2POp(dist.irecv, nxt, (rank - 1) % world)])
            for r in reqs:
                r.wait()
            cur, nxt = nxt, cur

    row["comm_ring_s"] = _timed(ring, reps, dist)
    return row


def _probe_links(rank, world, reps, dist):
    """All-gather time against the bytes each rank receives (fits latency and bandwidth)."""
    import torch

    gather = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor
    out = []
    for per_rank in (2**7, 2**12, 2**16, 2**19):  # float64 values sent per rank
        buf = torch.zeros(per_rank, dtype=torch.float64)
        full = torch.zeros(world * per_rank, dtype=torch.float64)
        t = _timed(lambda b=buf, f=full: gather(f, b), reps, dist)
        out.append({"world": world, "bytes_received": 8 * per_rank * (world - 1), "seconds": t})
    return out


def _measure_simulator(cfg, rank, world, reps, dist):
    """One row of simulator steps (module docstring), on every rank."""
    import numpy as np

    from driftlab.simulation import SimulationConfig, gmm_problem, run_simulation

    n, d, steps = cfg["n"], cfg["d"], cfg["steps"]
    x, y, _ = gmm_problem(n, n, d, seed=0)
    config = SimulationConfig(kernel="gaussian", scale=1.0, step=0.5, n_steps=steps, observe_every=steps,
                              obs_points=256, checkpoint_every=0, backend="torch", num_threads=1)
    row = dict(cfg, world=world)
    warm = SimulationConfig(**{**config.to_dict(), "n_steps": 1, "observe_every": 1})  # first-call overheads
    if rank == 0:
        run_simulation(warm, x, y, progress=False, distributed=False)
    for mode in ("all_gather", "ring"):
        run_simulation(warm, x, y, progress=False, reference_mode=mode)
    if rank == 0:
        t_single = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            single = run_simulation(config, x, y, progress=False, distributed=False)
            t_single = min(t_single, time.perf_counter() - t0)
        row["single_step_s"] = t_single / steps
    dist.barrier()
    for mode in ("all_gather", "ring"):
        holder = {}

        def run(m=mode):
            holder["res"] = run_simulation(config, x, y, progress=False, reference_mode=m)

        row[f"{mode}_step_s"] = _timed(run, reps, dist) / steps
        if rank == 0:  # the distributed run is the one-process run to round-off (float64)
            row[f"{mode}_max_particle_diff"] = float(np.max(np.abs(holder["res"].particles - single.particles)))
    return row


def _worker(rank, world, workdir, configs, reps):
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    from driftlab.kernels import Gaussian

    dist.init_process_group("gloo", init_method="file://" + os.path.join(workdir, "store"), rank=rank,
                            world_size=world, timeout=datetime.timedelta(seconds=300))
    kern = Gaussian(1.0)
    rows = [_measure_simulator(cfg, rank, world, reps, dist) if cfg.get("steps") else
            _measure(cfg, rank, world, reps, dist, kern) for cfg in configs]
    probe = _probe_links(rank, world, reps, dist) if world > 1 and not configs[0].get("steps") else []
    if rank == 0:
        with open(os.path.join(workdir, "rows.json"), "w") as f:
            json.dump({"rows": rows, "probe": probe}, f)
    dist.barrier()
    dist.destroy_process_group()


def run(worlds, strong_n, weak_n, d, reps, steps=0):
    """Rows of kernel-sum calls (``steps=0``) or of simulator steps (``steps`` per run)."""
    import torch.multiprocessing as mp

    rows, probes = [], []
    for world in worlds:
        extra = {"steps": steps} if steps else {}
        configs = [{"scaling": "strong", "n": strong_n, "d": d, **extra},
                   {"scaling": "weak", "n": weak_n * world, "d": d, **extra}]
        with tempfile.TemporaryDirectory() as tmp:
            mp.spawn(_worker, args=(world, tmp, configs, reps), nprocs=world, join=True)
            got = json.loads(Path(tmp, "rows.json").read_text())
            rows += got["rows"]
            probes += got["probe"]
    for r in rows:
        if steps:
            for mode in ("all_gather", "ring"):
                r[f"{mode}_speedup"] = r["single_step_s"] / r[f"{mode}_step_s"]
                r[f"{mode}_efficiency"] = r[f"{mode}_speedup"] / r["world"]
            continue
        for mode in ("all_gather", "ring"):
            r[f"{mode}_speedup"] = r["single_s"] / r[f"{mode}_s"]
            r[f"{mode}_efficiency"] = r[f"{mode}_speedup"] / r["world"]
            r[f"{mode}_comm_fraction"] = r[f"comm_{mode}_s"] / r[f"{mode}_s"]
    return rows, probes


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes, R = 1, 2")
    p.add_argument("--worlds", type=int, nargs="+", default=None, help="numbers of ranks (default 1 2 3)")
    p.add_argument("--n", type=int, default=None, help="strong scaling: particles (default 8192)")
    p.add_argument("--n-per-rank", type=int, default=None, help="weak scaling: particles per rank (default 4096)")
    p.add_argument("--d", type=int, default=2)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--simulator", action="store_true", help="time simulator steps instead of kernel-sum calls")
    p.add_argument("--steps", type=int, default=4, help="--simulator: steps per run (default 4)")
    args = p.parse_args(argv)
    worlds = args.worlds or ([1, 2] if args.quick else [1, 2, 3])
    strong_n = args.n or (2048 if args.quick else 8192)
    weak_n = args.n_per_rank or (1024 if args.quick else 4096)
    load0 = os.getloadavg()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from driftlab.io import machine_info, write_json

    if args.simulator:
        return _main_simulator(args, worlds, strong_n, weak_n, load0, machine_info, write_json)
    rows, probes = run(worlds, strong_n, weak_n, args.d, args.reps)

    print(f"{'scaling':8} {'R':>2} {'N':>7} {'single s':>9} {'gather s':>9} {'x':>5} {'ring s':>9} {'x':>5} "
          f"{'comp s':>8} {'comm g s':>9} {'comm r s':>9}")
    for r in rows:
        print(f"{r['scaling']:8} {r['world']:>2} {r['n']:>7} {r['single_s']:9.4f} {r['all_gather_s']:9.4f} "
              f"{r['all_gather_speedup']:5.2f} {r['ring_s']:9.4f} {r['ring_speedup']:5.2f} "
              f"{r['compute_only_s']:8.4f} {r['comm_all_gather_s']:9.2e} {r['comm_ring_s']:9.2e}")
    for pr in probes:
        print(f"gloo all-gather R={pr['world']}: {pr['bytes_received']:>9} B received in {pr['seconds']:.2e} s")
    out = args.out or (Path(__file__).resolve().parent / "results" /
                       f"distributed_cpu{'_quick' if args.quick else ''}.json")
    write_json(out, {"machine": machine_info(), "load_average_before": load0, "load_average": os.getloadavg(), "cpu_count": os.cpu_count(),
                     "kernel": "Gaussian(1.0)", "backend": "torch", "dtype": "float64", "threads_per_rank": 1,
                     "reps": args.reps, "rows": rows,
                     "all_gather_probe": probes})
    print(f"wrote {out}")
    return 0


def _main_simulator(args, worlds, strong_n, weak_n, load0, machine_info, write_json) -> int:
    rows, _ = run(worlds, strong_n, weak_n, args.d, args.reps, steps=args.steps)
    print(f"{'scaling':8} {'R':>2} {'N':>7} {'single s/step':>13} {'gather s/step':>13} {'x':>5} "
          f"{'ring s/step':>12} {'x':>5} {'max |dx|':>9}")
    for r in rows:
        diff = max(r.get("all_gather_max_particle_diff", 0.0), r.get("ring_max_particle_diff", 0.0))
        print(f"{r['scaling']:8} {r['world']:>2} {r['n']:>7} {r['single_step_s']:13.4f} {r['all_gather_step_s']:13.4f} "
              f"{r['all_gather_speedup']:5.2f} {r['ring_step_s']:12.4f} {r['ring_speedup']:5.2f} {diff:9.1e}")
    out = args.out or (Path(__file__).resolve().parent / "results" /
                       f"distributed_simulator_cpu{'_quick' if args.quick else ''}.json")
    write_json(out, {"machine": machine_info(), "load_average_before": load0, "load_average": os.getloadavg(),
                     "cpu_count": os.cpu_count(), "problem": "gmm, d = 2, M = N", "kernel": "Gaussian(1.0)",
                     "integrator": "euler", "backend": "torch", "dtype": "float64", "threads_per_rank": 1,
                     "steps": args.steps, "reps": args.reps, "rows": rows})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
