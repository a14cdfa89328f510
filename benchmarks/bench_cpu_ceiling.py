"""The CPU ceilings the fused kernel-sum loop works against, on this core (one thread).

Measures, for float32 and float64:

* ``exp`` throughput (values/s) of numpy, torch and the numba backend's own vectorised exp
  (:func:`driftlab.engine._numba.fast_exp`, streaming 2^16 values in L2);
* ``sqrt`` throughput (numpy, torch, a numba loop);
* FMA throughput (a numba loop, vectorised, of 4 independent chains of 16 ``v = v * b + c``
  per element, in registers: lane FMAs per second);
* the kernel-sum loop itself (``kernel_sums(backend="numba")`` on N = M = 2^14, d = 2 and 8,
  Gaussian and Laplace: pairs/s) and the fraction of each ceiling it reaches: ``exp`` alone
  (pairs/s / fast_exp values/s: one exp per pair) and the FMA ceiling (FMA/s / the pair's
  arithmetic in FMA-equivalent lane operations, counted from the loop body: see
  :data:`OPS_PER_PAIR`).

``--asm`` prints the vector-register and instruction counts of the compiled loop (zmm/ymm:
vectorised; gathers: a strided access LLVM could not prove contiguous).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_cpu_ceiling.py [--asm] [--out benchmarks/results/cpu_ceiling.json]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

#: lane operations per pair of the fused loop, by (kind, dtype), as functions of d: d subtractions,
#: d FMAs for r^2, the logit FMA, the clamp, the exp (float64: rint, 2 reduction FMAs, 9 Horner
#: FMAs, s^2, 2 adds, the 2^n integer add/shift, the product: 17; float32 with 4 Horner FMAs: 12),
#: the floor/self-mask compare and select (3), d + 1 accumulating FMAs; Laplace adds a sqrt
#: (counted once here; its unit is slower than an FMA, which the sqrt ceiling shows)
OPS_PER_PAIR = {"float64": lambda d, lap: 3 * d + 1 + 1 + 17 + 3 + 1 + lap,
                "float32": lambda d, lap: 3 * d + 1 + 1 + 12 + 3 + 1 + lap}


def best_rate(fn, count, repeats=5):
    fn()
    best = min(_timed(fn) for _ in range(repeats))
    return count / best


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


FIRST_CALL = """
import sys, time
import numpy as np
from driftlab.engine import kernel_sums
from driftlab.kernels import Gaussian, Laplace
n, dtype, kern = 2 ** int(sys.argv[1]), sys.argv[2], {"gaussian": Gaussian(0.5), "laplace": Laplace(0.5)}[sys.argv[3]]
x = np.random.default_rng(0).normal(size=(n, 2)).astype(dtype)
t = time.perf_counter()
kernel_sums(x, x + 0.1, kern)  # auto: the numba backend
first = time.perf_counter() - t
t = time.perf_counter()
kernel_sums(x, x + 0.1, kern)
print(first, time.perf_counter() - t)
"""


def first_calls(lg: int) -> dict:
    """First ``kernel_sums`` call of a fresh process (after ``import driftlab``), N = M = 2^lg, d = 2:
    with an empty numba cache (compiles) and again with the cache that run wrote (loads)."""
    import os
    import subprocess
    import tempfile

    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
        for kname in ("gaussian", "laplace"):
            for dtname in ("float32", "float64"):
                for state in ("cold", "warm"):
                    res = subprocess.run([sys.executable, "-c", FIRST_CALL, str(lg), dtname, kname], env=env,
                                         capture_output=True, text=True, check=True)
                    first, second = (float(v) for v in res.stdout.split())
                    out[f"{kname}_{dtname}_{state}"] = {"first_call_s": first, "second_call_s": second}
                    print(f"first call {kname} {dtname} {state} cache: {first:.2f} s (second call {second:.3f} s)",
                          flush=True)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--asm", action="store_true", help="print the compiled loop's vector instruction counts")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--lg", type=int, default=14, help="log2 N = M of the kernel-sum rows")
    args = p.parse_args(argv)

    import numba
    import torch

    from driftlab.io import machine_info, write_json
    from driftlab.engine import _numba as NB
    from driftlab.engine import kernel_sums
    from driftlab.kernels import Gaussian, Laplace

    torch.set_num_threads(1)
    numba.set_num_threads(1)

    @numba.njit(fastmath={"contract"}, cache=True)
    def sqrt_loop(t, out):
        for i in range(t.shape[0]):
            out[i] = np.sqrt(t[i])

    @numba.njit(fastmath={"contract"}, cache=True)
    def fma_loop(a, b, c, reps):
        # per element 4 independent chains of 16 dependent FMAs (the constant inner loop is
        # unrolled, so the element loop vectorises): 64 FMAs per element, in registers
        for _ in range(reps):
            for i in range(a.shape[1]):
                v0, v1, v2, v3 = a[0, i], a[1, i], a[2, i], a[3, i]
                for _r in range(16):
                    v0 = v0 * b + c
                    v1 = v1 * b + c
                    v2 = v2 * b + c
                    v3 = v3 * b + c
                a[0, i], a[1, i], a[2, i], a[3, i] = v0, v1, v2, v3

    k = 2**16
    rng = np.random.default_rng(0)
    result = {"machine": machine_info(), "threads": 1, "command": " ".join(["python", *sys.argv]), "ceilings": {},
              "kernel": []}
    for dtname in ("float32", "float64"):
        dt = np.dtype(dtname)
        fl = np.log(np.finfo(dt).tiny) + 0.5
        t = rng.uniform(fl / 10, 0, k).astype(dt)
        out = np.empty_like(t)
        tt = torch.from_numpy(t)
        tout = torch.empty_like(tt)
        pos = (-t).copy()
        tpos = torch.from_numpy(pos)
        NB.fast_exp(t)
        c = {
            "exp_numpy": best_rate(lambda: np.exp(t, out=out), k),
            "exp_torch": best_rate(lambda: torch.exp(tt, out=tout), k),
            "exp_numba_fast_exp": best_rate(lambda: NB._build_core()["exp_array"](t, out), k),
            "sqrt_numpy": best_rate(lambda: np.sqrt(pos, out=out), k),
            "sqrt_torch": best_rate(lambda: torch.sqrt(tpos, out=tout), k),
        }
        sqrt_loop(pos, out)
        c["sqrt_numba"] = best_rate(lambda: sqrt_loop(pos, out), k)
        a = np.ones((4, 1024), dt)
        reps = 50
        fma_loop(a, dt.type(0.999), dt.type(1e-3), 1)
        c["fma_numba"] = best_rate(lambda: fma_loop(a, dt.type(0.999), dt.type(1e-3), reps), 64 * 1024 * reps)
        result["ceilings"][dtname] = c
        print(dtname, "  ".join(f"{name} {v:.3e}/s" for name, v in c.items()), flush=True)

    n = 2**args.lg
    for dtname in ("float32", "float64"):
        c = result["ceilings"][dtname]
        for d in (2, 8):
            x = rng.normal(size=(n, d)).astype(dtname)
            y = (rng.normal(size=(n, d)) + 0.1).astype(dtname)
            for kname, kern in (("gaussian", Gaussian(0.5)), ("laplace", Laplace(0.5))):
                pps = best_rate(lambda: kernel_sums(x, y, kern, backend="numba"), n * n, repeats=3)
                ops = OPS_PER_PAIR[dtname](d, kname == "laplace")
                row = {"kernel": kname, "d": d, "dtype": dtname, "n": n, "pairs_per_s": pps,
                       "fraction_of_fast_exp": pps / c["exp_numba_fast_exp"],
                       "fraction_of_torch_exp": pps / c["exp_torch"],
                       "ops_per_pair": ops, "fraction_of_fma_ceiling": pps * ops / c["fma_numba"]}
                if kname == "laplace":
                    row["fraction_of_sqrt"] = pps / c["sqrt_numba"]
                result["kernel"].append(row)
                print(f"{kname:8s} d={d} {dtname}: {pps:.3e} pairs/s = {row['fraction_of_fast_exp']:.2f} of the fast "
                      f"exp alone, {row['fraction_of_torch_exp']:.2f}x torch.exp, "
                      f"{row['fraction_of_fma_ceiling']:.2f} of the FMA ceiling ({ops} lane ops/pair)", flush=True)

    result["first_call"] = first_calls(args.lg)
    if args.asm:
        for dtname in ("float32", "float64"):
            for kind in (0, 1):
                for D in (2, 8):
                    fb, _ = NB._kernel(kind, D)
                    sig = next((s for s in fb.signatures if str(s[0].dtype) == dtname), None)
                    if sig is None:
                        continue
                    try:
                        asm = fb.inspect_asm(sig)
                    except (RuntimeError, ValueError, TypeError) as exc:  # cached code cannot be inspected
                        print("asm:", exc)
                        continue
                    counts = {r: len(re.findall(r, asm)) for r in ("zmm", "ymm", "vfmadd", "vsqrt", "gather")}
                    print(f"asm kind={kind} D={D} {dtname}: {counts}")
        print("(inspecting cached code gives an empty listing: run with NUMBA_CACHE_DIR=<empty dir>)")
    if args.out:
        write_json(args.out, result)
        print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
