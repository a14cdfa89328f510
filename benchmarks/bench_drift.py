"""Benchmark: streamed drift estimator vs the dense cdist + softmax baseline of public ports.

For each (N = M, d) the script first checks that both give the same field (float64 inputs,
|diff| <= 1e-8 relative), then times each in float32 and measures its peak extra memory in a
fresh subprocess (ru_maxrss after the call minus before it). Timings are repeated and the
median is reported, with the ratio to the dense baseline measured in the same process.

    python benchmarks/bench_drift.py [--quick] [--sizes 1024,4096,16384] [--dims 2,8]

Writes benchmarks/results/bench_drift.json (with the machine described) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from driftlab.io import machine_info, write_json  # noqa: E402

TAU = 0.5


def dense_baseline(x, yp, torch):
    """What public ports do: cdist (matmul expansion), exp, row/col softmax, N x M matrices."""
    yn = x
    logits = -torch.cat([torch.cdist(x, yp), torch.cdist(x, yn)], dim=1) / TAU
    n = x.shape[0]
    logits[torch.arange(n), yp.shape[0] + torch.arange(n)] = -1e6
    A = torch.sqrt(torch.softmax(logits, dim=1) * torch.softmax(logits, dim=0))
    P = yp.shape[0]
    Ap, An = A[:, :P], A[:, P:]
    return (Ap * An.sum(1, keepdim=True)) @ yp - (An * Ap.sum(1, keepdim=True)) @ yn


def tiled(x, yp, torch=None):
    from driftlab.fields import batch_drift
    from driftlab.kernels import Laplace

    return batch_drift(x, yp, x, Laplace(TAU), method="alg2")


def _child(kind, n, d, repeats, queue):
    import torch

    torch.manual_seed(0)
    x = torch.randn(n, d)
    yp = torch.randn(n, d) + 0.5
    fn = {"dense": dense_baseline, "tiled-torch": tiled, "tiled-numpy": tiled}[kind]
    if kind == "tiled-numpy":
        x, yp = x.numpy(), yp.numpy()
    fn(x[:64], yp[:64], torch)  # warm-up
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x, yp, torch)
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put({"seconds": statistics.median(times), "peak_extra_mib": max(0, peak - base) / 1024})


def measure(kind, n, d, repeats):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(kind, n, d, repeats, q))
    p.start()
    res = q.get()
    p.join()
    return res


def check_agreement(d):
    import torch

    torch.manual_seed(1)
    x = torch.randn(300, d, dtype=torch.float64)
    yp = torch.randn(300, d, dtype=torch.float64) + 0.5
    a, b = dense_baseline(x, yp, torch), tiled(x, yp)
    rel = float((a - b).abs().max() / b.abs().max())
    if rel > 1e-8:
        raise SystemExit(f"estimators disagree (d={d}): relative difference {rel:.2e}")
    return rel


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", default=None)
    ap.add_argument("--dims", default="2,8")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench_drift.json")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in (args.sizes or ("1024,4096" if args.quick else "1024,4096,16384")).split(",")]
    dims = [int(s) for s in args.dims.split(",")]
    rows = []
    for d in dims:
        rel = check_agreement(d)
        for n in sizes:
            base = measure("dense", n, d, args.repeats)
            for kind in ("dense", "tiled-torch", "tiled-numpy"):
                res = base if kind == "dense" else measure(kind, n, d, args.repeats)
                rows.append({"backend": kind, "N": n, "M": n, "d": d, "seconds": res["seconds"],
                             "pairs_per_s": 2 * n * n / res["seconds"], "peak_extra_mib": res["peak_extra_mib"],
                             "speed_vs_dense": base["seconds"] / res["seconds"], "agreement_rel": rel})
                r = rows[-1]
                print(f"{kind:12s} N=M={n:6d} d={d:2d}  {r['pairs_per_s']:.3e} pairs/s  "
                      f"x{r['speed_vs_dense']:.2f} vs dense  peak +{r['peak_extra_mib']:.0f} MiB", flush=True)
    write_json(args.out, {"benchmark": "bench_drift", "tau": TAU, "method": "alg2 (self-masked)",
                          "machine": machine_info(), "rows": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
