"""Benchmark of the kernel-sum engine: pairs/s and peak memory per backend.

Baseline (same process, same inputs): the dense path of the public ports --
``torch.cdist`` -> ``softmax`` -> ``@ y`` on the full N x M matrix, float32. Engine backends:
``torch`` (chunked), ``compiled`` (chunked with tiles fused by torch.compile; CPU rows, warm-up
call compiles), ``numba`` (fused CPU loop, when numba is installed), ``sdpa`` (Gaussian only),
``triton`` (CUDA only), and ``auto`` (whatever ``kernel_sums(backend="auto")`` picks; the row
names it in ``picked``). One "evaluation" is the mean shift of M references at N queries;
pairs/s = N M / (best wall time). ``--dtypes float32,float64`` runs the grid in each dtype
(the baseline in the same dtype); summary keys ``{kernel}_{backend}_ratio_vs_dense_N16384_d{d}``
(float32) and ``..._float64``.

Peak memory: CUDA -- ``torch.cuda.max_memory_allocated`` minus the inputs; CPU -- peak
resident set size sampled every 0.5 ms by a thread during the call, minus the RSS before
(approximate, but enough to tell O(N M) from O(N)).

Usage::

    python benchmarks/bench_engine.py --quick                 # < 30 s smoke run (CPU)
    python benchmarks/bench_engine.py                         # CPU: N = M = 2^12 .. 2^16
    python benchmarks/bench_engine.py --device cuda           # GPU: N = M = 2^12 .. 2^20
    python benchmarks/bench_engine.py --threads 1 --out benchmarks/results/engine_cpu_1thread.json
    python benchmarks/bench_engine.py --threads 1 --tiles-sweep   # torch backend: tile shapes vs default
    python benchmarks/bench_engine.py --threads 1 --sizes 14 --dims 2,8 --dtypes float32,float64 --repeats 3
    python benchmarks/bench_engine.py --threads 1 --sizes 14 --dims 2 --backends auto --first-call

``--first-call`` also times what a user waits for: the first ``kernel_sums`` call of a fresh
interpreter (median of 3, after one that may fill the compile cache), summary keys
``{kernel}_auto_first_call_fresh_N16384_d2[_float64]``.

Writes JSON (machine stamp from ``driftlab.io.machine_info``) and prints a table with the
ratio to the dense baseline and, on CUDA, the fraction of the exp-throughput limit
(H100 ~ 3.9e12 exp/s; one exp per pair).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

EXP_LIMIT = {"H100": 3.9e12, "H200": 4.2e12}  # ex2/s: 132 SMs x 16 per clock x boost clock (H200: 1.98 GHz)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _malloc_trim() -> None:
    """Return freed heap pages to the OS so that RSS growth measures this call's allocations."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - non-glibc
        pass


class PeakMemory:
    def __init__(self, device):
        self.device = device

    def __enter__(self):
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            _malloc_trim()
            self.base = _rss_bytes()
            self.peak = self.base
            self.stop = False

            def poll():
                while not self.stop:
                    self.peak = max(self.peak, _rss_bytes())
                    time.sleep(0.0005)

            self.thread = threading.Thread(target=poll, daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc):
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()
            self.bytes = torch.cuda.max_memory_allocated() - self.base
        else:
            self.stop = True
            self.thread.join()
            self.peak = max(self.peak, _rss_bytes())
            self.bytes = self.peak - self.base


def dense_baseline(x, y, kernel_name, scale):
    """The public ports' dense mean shift (N x M matrices)."""
    import torch

    logits = torch.cdist(x, y)  # (N, M); in place from here on, so the peak is two N x M buffers
    if kernel_name == "gaussian":
        logits.square_().mul_(-0.5 / scale**2)
    else:
        logits.mul_(-1.0 / scale)
    a = torch.softmax(logits, dim=1)
    del logits
    return a @ y - x


def run_case(fn, device, repeats):
    import torch

    times, mem = [], 0
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        with PeakMemory(device) as pm:
            t = time.perf_counter()
            out = fn()
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
        mem = max(mem, pm.bytes)
        del out
    return min(times), mem


#: what a user's first call costs: a fresh interpreter imports the engine and builds the inputs
#: (not timed), then times its first ``kernel_sums`` call, which includes the backend's lazy
#: start-up (numba's import, its target initialisation and the load of the on-disk cache)
_FIRST_CALL = """
import sys, time
import numpy as np
from driftlab.engine import kernel_sums, select_backend
from driftlab.kernels import Gaussian, Laplace
kname, d, lg, dtype, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
if sys.argv[6] == "1":
    import scipy.linalg  # as a program that uses driftlab.theory or scipy has (numba's start-up imports it)
rng = np.random.default_rng(0)
x = rng.normal(size=(2**lg, d)).astype(dtype)
y = (rng.normal(size=(2**lg, d)) + 0.1).astype(dtype)
kern = {"gaussian": Gaussian(0.5), "laplace": Laplace(0.5)}[kname]
if threads:
    import torch
    torch.set_num_threads(threads)
t = time.perf_counter()
kernel_sums(x, y, kern)
first = time.perf_counter() - t
print("FIRST", first, select_backend(x, y, kern))
"""


def fresh_first_call(kname, d, lg, dtype, threads, repeats=3, scipy_loaded=False):
    """Median over ``repeats`` fresh interpreters of the first ``kernel_sums`` call (seconds) and
    the backend ``auto`` picked. The first interpreter fills the on-disk compile cache if it is
    empty (its time is reported apart). ``scipy_loaded``: the interpreter has imported
    ``scipy.linalg`` before the call (numba's start-up imports it otherwise, ~0.25 s)."""
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads))
    times, picked = [], None
    for _ in range(repeats + 1):
        res = subprocess.run([sys.executable, "-c", _FIRST_CALL, kname, str(d), str(lg), dtype, str(threads or 0),
                              "1" if scipy_loaded else "0"],
                             capture_output=True, text=True, env=env, check=True)
        secs, picked = res.stdout.split("FIRST")[-1].split()
        times.append(float(secs))
    return {"cold_or_warm_first": times[0], "seconds": float(np.median(times[1:])), "all": times[1:],
            "picked": picked}


def tiles_sweep(device, lg, out):
    """Pairs/s of the torch backend for a grid of (tile_rows, tile_cols), relative to its default."""
    import itertools

    import torch

    from driftlab.io import machine_info, write_json
    from driftlab.engine import kernel_sums
    from driftlab.engine._torch import default_tiles
    from driftlab.kernels import Gaussian, Laplace

    n = 2**lg
    default = default_tiles(device)
    gen = torch.Generator().manual_seed(0)
    rows = []
    for d, dt in ((2, torch.float32), (2, torch.float64), (8, torch.float32)):
        x = torch.randn(n, d, generator=gen, dtype=dt).to(device)
        y = (torch.randn(n, d, generator=gen, dtype=dt) + 0.1).to(device)
        for kern in (Laplace(0.5), Gaussian(0.5)):
            grid = {}
            for tr, tc in itertools.product((64, 128, 256, 512), (1024, 2048, 4096, 8192)):
                def fn(tr=tr, tc=tc):
                    return kernel_sums(x, y, kern, backend="torch", tile_rows=tr, tile_cols=tc).shift
                fn()
                grid[(tr, tc)] = n * n / run_case(fn, device, 2)[0]
            if default not in grid:
                def fn_default():
                    return kernel_sums(x, y, kern, backend="torch").shift
                fn_default()
                grid[default] = n * n / run_case(fn_default, device, 2)[0]
            base = grid[default]
            top = sorted(grid.items(), key=lambda kv: -kv[1])[:4]
            name = f"{type(kern).__name__} d={d} {str(dt)[6:]}"
            print(f"{name:24s} default {default}: {base:.3e} pairs/s; best "
                  + ", ".join(f"{k}: {v / base:.2f}x" for k, v in top), flush=True)
            rows += [{"kernel": type(kern).__name__, "d": d, "dtype": str(dt)[6:], "n": n, "tile_rows": k[0],
                      "tile_cols": k[1], "pairs_per_s": v, "ratio_vs_default": v / base} for k, v in grid.items()]
            write_json(out, {"machine": machine_info(), "device": device, "threads": torch.get_num_threads(),
                             "default_tiles": list(default), "rows": rows})
    print("wrote", out)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--sizes", type=str, default=None, help="comma-separated log2 N (N = M)")
    p.add_argument("--dims", type=str, default=None, help="comma-separated d")
    p.add_argument("--kernels", type=str, default="gaussian,laplace")
    p.add_argument("--dense-max", type=int, default=None, help="largest log2 N for the dense baseline")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--dtypes", type=str, default="float32", help="comma-separated: float32, float64")
    p.add_argument("--backends", type=str, default=None,
                   help="comma-separated subset of dense,torch,compiled,numba,torch_expand,sdpa,triton,auto")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--first-call", action="store_true",
                   help="also time the first kernel_sums call of fresh interpreters (auto, N = M = 2^14, d = 2)")
    p.add_argument("--tiles-sweep", action="store_true",
                   help="instead: the torch backend's pairs/s over a grid of tile shapes (N = M = 2^14)")
    args = p.parse_args(argv)

    import torch

    from driftlab.io import machine_info, write_json
    from driftlab.engine import available_backends, kernel_sums, select_backend
    from driftlab.kernels import Gaussian, Laplace

    if args.threads:
        torch.set_num_threads(args.threads)
    dev = args.device
    if args.tiles_sweep:
        return tiles_sweep(dev, int(args.sizes or 14), args.out or Path(__file__).resolve().parent / "results"
                           / f"engine_tiles_{dev}.json")
    if dev == "cuda" and not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 2
    # grid: the size sweep at d = 2 plus the dimension sweep at one size
    if args.quick:
        sizes, dims, at, repeats, dense_max = [11, 12], [2], 12, args.repeats or 1, 12
    elif dev == "cuda":
        sizes, dims, at, repeats, dense_max = list(range(12, 21)), [1, 2, 3, 8, 32], 16, args.repeats or 3, 16
    else:
        sizes, dims, at, repeats, dense_max = list(range(12, 17)), [1, 2, 3, 8, 32], 14, args.repeats or 1, 14
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    if args.dims:
        dims = [int(s) for s in args.dims.split(",")]
    if args.dense_max is not None:
        dense_max = args.dense_max
    grid = [(2, lg) for lg in sizes] + [(d, at) for d in dims if d != 2]
    kernels = {"gaussian": Gaussian(0.5), "laplace": Laplace(0.5)}
    names = args.kernels.split(",")
    rng = np.random.default_rng(0)
    rows = []
    out = args.out or Path(__file__).resolve().parent / "results" / (
        f"engine_{dev}{'_quick' if args.quick else ''}.json")

    def dump(summary=None, partial=True):
        """Atomic rewrite after every row: a run cut short (time limit, Ctrl-C) keeps what it measured."""
        write_json(out, {"machine": machine_info(), "device": dev, "threads": torch.get_num_threads(),
                         "command": " ".join(["python", "benchmarks/bench_engine.py", *(argv if argv is not None else sys.argv[1:])]),
                         "quick": args.quick, "partial": partial, "rows": rows, "summary": summary or {}})
    dtypes = args.dtypes.split(",")
    for name in dtypes:
        if name not in ("float32", "float64"):
            p.error(f"--dtypes: float32 or float64, got {name!r}")
    only = None if args.backends is None else set(args.backends.split(","))
    for kname, dtname in [(k, t) for t in dtypes for k in names]:
        kern = kernels[kname]
        dtype = getattr(torch, dtname)
        for d, lg in grid:
            if True:
                n = 2**lg
                x = torch.as_tensor(rng.normal(size=(n, d)), dtype=dtype, device=dev)
                y = torch.as_tensor(rng.normal(size=(n, d)) + 0.1, dtype=dtype, device=dev)
                cases = {}
                if lg <= dense_max:
                    cases["dense"] = lambda: dense_baseline(x, y, kname, kern.length_scale)
                if not (dev == "cuda" and lg > 18):  # (the chunked torch path: ~5e10 pairs/s on an H100)
                    cases["torch"] = lambda: kernel_sums(x, y, kern, backend="torch").shift
                if dev == "cpu" and d <= 8:  # tiles fused by torch.compile (opt-in backend; compiles at warm-up)
                    cases["compiled"] = lambda: kernel_sums(x, y, kern, backend="compiled").shift
                if d >= 8:  # inner-product distances: faster in high d, r^2 error ~eps*R^2 (see engine docs)
                    cases["torch_expand"] = lambda: kernel_sums(x, y, kern, backend="torch", distance="expand").shift
                if kname == "gaussian":
                    cases["sdpa"] = lambda: kernel_sums(x, y, kern, backend="sdpa").shift
                if dev == "cuda" and "triton" in available_backends(x):
                    cases["triton"] = lambda: kernel_sums(x, y, kern, backend="triton").shift
                if dev == "cpu" and "numba" in available_backends(x):
                    cases["numba"] = lambda: kernel_sums(x, y, kern, backend="numba").shift
                picked = select_backend(x, y, kern)  # what kernel_sums(backend="auto") runs
                cases["auto"] = lambda: kernel_sums(x, y, kern).shift
                if only is not None:
                    cases = {k: v for k, v in cases.items() if k in only}
                base = None
                for backend, fn in cases.items():
                    try:
                        t0 = time.perf_counter()
                        fn()  # warm-up (compilation, allocator)
                        if dev == "cuda":
                            torch.cuda.synchronize()
                        first = time.perf_counter() - t0  # the compile cost of 'compiled' and Triton
                        t, mem = run_case(fn, dev, repeats)
                    except (RuntimeError, ValueError) as exc:  # e.g. out of memory
                        rows.append({"kernel": kname, "d": d, "n": n, "dtype": dtname, "backend": backend,
                                     "error": str(exc)[:200]})
                        print(f"{kname:8s} d={d:2d} N=2^{lg:2d} {dtname} {backend:7s} FAILED {str(exc)[:80]}")
                        if dev == "cuda":
                            torch.cuda.empty_cache()
                        continue
                    pps = n * n / t
                    if backend == "dense":
                        base = pps
                    row = {"kernel": kname, "d": d, "n": n, "m": n, "dtype": dtname, "backend": backend, "seconds": t,
                           "first_call_seconds": first,
                           "pairs_per_s": pps, "peak_bytes": int(mem),
                           "ratio_vs_dense": (pps / base) if base else None}
                    if backend == "auto":
                        row["picked"] = picked
                    if dev == "cuda":
                        name = torch.cuda.get_device_name(0)
                        lim = next((v for k, v in EXP_LIMIT.items() if k in name), None)
                        row["exp_fraction"] = pps / lim if lim else None
                    rows.append(row)
                    dump()
                    ratio = f"{pps / base:6.2f}x" if base else "   -   "
                    label = f"auto={picked}" if backend == "auto" else backend
                    print(f"{kname:8s} d={d:2d} N=2^{lg:2d} {dtname} {label:12s} {pps:10.3e} pairs/s  {ratio}  "
                          f"peak {mem / 2**20:9.1f} MiB  first call {first:7.2f} s", flush=True)
    summary = {}
    for kname, dtname in [(k, t) for t in dtypes for k in names]:
        suffix = "" if dtname == "float32" else f"_{dtname}"
        for backend in ("torch", "compiled", "numba", "sdpa", "triton", "auto"):
            mine = [r for r in rows if r.get("backend") == backend and r["kernel"] == kname
                    and r.get("dtype") == dtname and "error" not in r]
            pts = [(r["n"], r["peak_bytes"]) for r in mine if r["d"] == 2 and r["peak_bytes"] > 0]
            if len(pts) >= 2:
                nn, mm = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
                summary[f"{kname}_{backend}_memory_exponent_d2{suffix}"] = float(np.polyfit(nn, mm, 1)[0])
            for r in mine:
                if r["n"] == 16384 and r.get("ratio_vs_dense"):
                    summary[f"{kname}_{backend}_ratio_vs_dense_N16384_d{r['d']}{suffix}"] = r["ratio_vs_dense"]
                    if backend == "auto":
                        summary[f"{kname}_auto_picks_N16384_d{r['d']}{suffix}"] = r["picked"]
    if args.first_call and dev == "cpu":
        for kname, dtname in [(k, t) for t in dtypes for k in names]:
            suffix = "" if dtname == "float32" else f"_{dtname}"
            fc = fresh_first_call(kname, 2, 14, dtname, args.threads)
            fs = fresh_first_call(kname, 2, 14, dtname, args.threads, scipy_loaded=True)
            rows.append({"kernel": kname, "d": 2, "n": 2**14, "dtype": dtname, "backend": "auto",
                         "fresh_process_first_call": fc, "fresh_process_first_call_scipy_loaded": fs})
            summary[f"{kname}_auto_first_call_fresh_N16384_d2{suffix}"] = fc["seconds"]
            summary[f"{kname}_auto_first_call_fresh_scipy_loaded_N16384_d2{suffix}"] = fs["seconds"]
            print(f"{kname:8s} d= 2 N=2^14 {dtname} auto={fc['picked']:7s} first call in a fresh interpreter "
                  f"{fc['seconds']:.2f} s, {fs['seconds']:.2f} s with scipy.linalg loaded (medians of "
                  f"{len(fc['all'])}; the first interpreter {fc['cold_or_warm_first']:.2f} s)", flush=True)
    dump(summary, partial=False)
    print("summary:", summary)
    print("wrote", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
