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

Usage::

    python benchmarks/bench_distributed.py --quick          # < 1 min smoke run
    python benchmarks/bench_distributed.py                  # N = 8192 strong, 4096 / rank weak
    python benchmarks/bench_distributed.py --out benchmarks/results/distributed_cpu.json
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


def _worker(rank, world, workdir, configs, reps):
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    from driftlab.kernels import Gaussian

    dist.init_process_group("gloo", init_method="file://" + os.path.join(workdir, "store"), rank=rank,
                            world_size=world, timeout=datetime.timedelta(seconds=300))
    kern = Gaussian(1.0)
    rows = [_measure(cfg, rank, world, reps, dist, kern) for cfg in configs]
    probe = _probe_links(rank, world, reps, dist) if world > 1 else []
    if rank == 0:
        with open(os.path.join(workdir, "rows.json"), "w") as f:
            json.dump({"rows": rows, "probe": probe}, f)
    dist.barrier()
    dist.destroy_process_group()


def run(worlds, strong_n, weak_n, d, reps):
    import torch.multiprocessing as mp

    rows, probes = [], []
    for world in worlds:
        configs = [{"scaling": "strong", "n": strong_n, "d": d},
                   {"scaling": "weak", "n": weak_n * world, "d": d}]
        with tempfile.TemporaryDirectory() as tmp:
            mp.spawn(_worker, args=(world, tmp, configs, reps), nprocs=world, join=True)
            got = json.loads(Path(tmp, "rows.json").read_text())
            rows += got["rows"]
            probes += got["probe"]
    for r in rows:
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
    args = p.parse_args(argv)
    worlds = args.worlds or ([1, 2] if args.quick else [1, 2, 3])
    strong_n = args.n or (2048 if args.quick else 8192)
    weak_n = args.n_per_rank or (1024 if args.quick else 4096)
    load0 = os.getloadavg()
    rows, probes = run(worlds, strong_n, weak_n, args.d, args.reps)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from driftlab._io import machine_info, write_json

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


if __name__ == "__main__":
    raise SystemExit(main())
