"""GPU probe for the Triton kernel: hardware ceilings, variants, accuracy (CUDA only).

Measures, in one process on the GPU:

1. the ceilings: the ``ex2`` (special-function unit) rate of a Triton kernel that does
   nothing else, and the float32 FMA rate -- the two numbers the pair rate is judged by;
2. the Triton kernel-sum variants (methods ``fma`` / ``dot`` / ``dot_fixed``, row-major or
   coordinate-major distance loads, direct vs. inner-product distances, optionally every
   autotuning configuration of ``fma``) against
   ``sdpa`` and the chunked torch path, pairs/s by ``triton.testing.do_bench`` (median);
3. accuracy of each variant against the float64 chunked torch path on the same GPU:
   max |shift - ref| over a 4096-row subset, and the relative L2 error.

For the ``fma`` method at d <= ``EMU_MAX_DIM`` it also times every emulation share
(``fma_emu_G_E_Q``: of every G reference tiles, E evaluate exp2 and Q the square root by FMA
sequences) at one block shape, with the fraction of the special-function ceiling each one
uses (``mufu_fraction``) and of the plain kernel's ceiling (``plain_mufu_ceiling_fraction``:
1 ex2 per pair, 2 MUFU for Laplace); the summary names the fastest variant per (kernel, d)
and whether it meets the H200 targets (:data:`TARGETS`).

Usage::

    python benchmarks/bench_triton.py --out benchmarks/results/triton_probe.json
    python benchmarks/bench_triton.py --legacy path/to/old_triton.py   # also time an older kernel file

Prints a table; JSON rows carry every number.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

try:  # module level: Triton resolves the names a jitted function uses from its module's globals
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - CPU-only machine
    triton = None

if triton is not None:
    @triton.jit
    def _unit_probe(OUT, ITERS: tl.constexpr, BLOCK: tl.constexpr, EX2: tl.constexpr):
        """ITERS steps of 4 independent chains per element: exp2 (EX2) or an FMA."""
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        a = offs.to(tl.float32) * 1e-7
        b = a + 0.25
        c = a + 0.5
        e = a + 0.75
        for _ in range(ITERS):
            if EX2:
                a = tl.exp2(-a)
                b = tl.exp2(-b)
                c = tl.exp2(-c)
                e = tl.exp2(-e)
            else:
                a = a * 0.999 + 0.001
                b = b * 0.999 + 0.001
                c = c * 0.999 + 0.001
                e = e * 0.999 + 0.001
        tl.store(OUT + offs, a + b + c + e)


def _probe_ceilings(torch):
    """ex2/s and FMA/s of kernels that do nothing else (4 independent chains per element)."""
    from triton.testing import do_bench

    block, iters = 1024, 4096
    nprog = 132 * 64
    out = torch.empty(nprog * block, device="cuda", dtype=torch.float32)
    res = {}
    for name, ex2, per in (("ex2_per_s", True, 4), ("fma_per_s", False, 4)):
        ms = do_bench(lambda ex2=ex2: _unit_probe[(nprog,)](out, ITERS=iters, BLOCK=block, EX2=ex2, num_warps=4),
                      warmup=50, rep=300,
                      return_mode="median")
        res[name] = nprog * block * iters * per / (ms * 1e-3)
        if not torch.isfinite(out).all():
            raise RuntimeError(f"{name}: non-finite probe output")
    return res


def _variants(T, kernel_sums, kern, kname, x, y, legacy, configs):
    """name -> zero-argument callable returning the (n, d) shift."""
    v = {}
    for method in ("fma", "dot", "dot_fixed"):
        if method == "fma" and x.shape[1] > T.FMA_MAX_DIM:
            continue
        for layout in ("row", "coord"):
            name = f"triton_{method}" + ("_coord" if layout == "coord" else "")
            v[name] = lambda method=method, layout=layout: T.triton_sums(kern, x, y, method=method,
                                                                         layout=layout)[1]
    v["torch"] = lambda: kernel_sums(x, y, kern, backend="torch").shift
    if kname == "gaussian":
        v["sdpa"] = lambda: kernel_sums(x, y, kern, backend="sdpa").shift
        v["triton_dot_expand"] = lambda: T.triton_sums(kern, x, y, method="dot", expand=True)[1]
    if legacy is not None:
        v["triton_legacy"] = lambda: legacy.triton_sums(kern, x, y)[1]
    if "triton_fma" in v and x.shape[1] <= T.EMU_MAX_DIM:
        # the emulation shares at one block shape (the autotuned "triton_fma" row picks its own)
        for share in T.EMULATION_SHARES:
            if share[2] and kname != "laplace":
                continue
            v["fma_emu_%d_%d_%d" % share] = lambda share=share: T.triton_sums(kern, x, y, method="fma", block_m=64,
                                                                             block_n=32, emulate=share)[1]
    if configs and "triton_fma" in v:
        for cfg in T._FMA_CONFIGS:
            bm, bn = cfg.kwargs["BLOCK_M"], cfg.kwargs["BLOCK_N"]
            v[f"fma_{bm}x{bn}"] = lambda bm=bm, bn=bn: T.triton_sums(kern, x, y, method="fma", block_m=bm,
                                                                     block_n=bn)[1]
    return v


#: pairs/s the kernel sums should reach on an H200 (N = M = 2^16, float32): (kernel, largest d) -> rate
TARGETS = {"gaussian_d<=3": 3.4e12, "laplace_d<=3": 2.1e12, "gaussian_d8": 1e12, "laplace_d8": 1e12}


def _mufu_per_pair(kname, variant):
    """Special-function instructions per pair of a Triton ``fma`` variant with a known share (one
    ex2, plus the square root for Laplace, less the emulated shares); None for the autotuned and
    tensor-core rows."""
    base = 2.0 if kname == "laplace" else 1.0
    if variant.startswith("fma_emu_"):
        g, e, q = (int(v) for v in variant[len("fma_emu_"):].split("_"))
        return base - (e + q) / g
    if variant.startswith("fma_"):  # --configs rows: block shapes of the plain kernel
        return base
    return None


def _decide(rows, kname, d):
    """The fastest Triton variant for (kernel, d), its rate against the target and both ceilings."""
    mine = [r for r in rows if r["kernel"] == kname and r["d"] == d and "error" not in r
            and (r["variant"].startswith("triton_") or r["variant"].startswith("fma_"))]
    if not mine:
        return {}
    best = max(mine, key=lambda r: r["pairs_per_s"])
    plain = next((r for r in mine if r["variant"] == "fma_emu_1_0_0"), None)
    key = f"{kname}_d<=3" if d <= 3 else (f"{kname}_d8" if d == 8 else None)
    out = {f"{kname}_d{d}_best_variant": best["variant"], f"{kname}_d{d}_best_pairs_per_s": best["pairs_per_s"],
           f"{kname}_d{d}_best_plain_mufu_ceiling_fraction": best["plain_mufu_ceiling_fraction"]}
    if plain is not None:
        out[f"{kname}_d{d}_best_vs_plain_fma"] = best["pairs_per_s"] / plain["pairs_per_s"]
    if key in TARGETS:
        out[f"{kname}_d{d}_target"] = TARGETS[key]
        out[f"{kname}_d{d}_meets_target"] = bool(best["pairs_per_s"] >= TARGETS[key])
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--log2n", type=int, default=16)
    p.add_argument("--dims", default="1,2,3,8,32")
    p.add_argument("--kernels", default="gaussian,laplace")
    p.add_argument("--legacy", type=Path, default=None, help="an older _triton.py to time alongside")
    p.add_argument("--configs", action="store_true", help="time every autotuning configuration")
    p.add_argument("--variants", default=None,
                   help="comma-separated name prefixes of the variants to time (e.g. triton_fma,fma_emu,torch)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    import numpy as np
    import torch
    from triton.testing import do_bench

    from driftlab.io import machine_info, write_json
    from driftlab.engine import _triton as T
    from driftlab.engine import kernel_sums
    from driftlab.kernels import Gaussian, Laplace

    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 2
    legacy = None
    if args.legacy is not None and args.legacy.exists():
        spec = importlib.util.spec_from_file_location("triton_legacy", args.legacy)
        legacy = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(legacy)

    out = args.out or Path(__file__).resolve().parent / "results" / "triton_probe.json"
    rows, summary = [], {}

    def dump():  # rewritten after every row: a run cut by its time limit keeps what it measured
        write_json(out, {"machine": machine_info(), "triton": triton.__version__, "torch": torch.__version__,
                         "ceilings": ceil, "targets": TARGETS, "rows": rows, "summary": summary})

    ceil = _probe_ceilings(torch)
    print(f"ceilings: ex2 {ceil['ex2_per_s']:.3e}/s  fma {ceil['fma_per_s']:.3e}/s", flush=True)
    n = 2**args.log2n
    kernels = {"gaussian": Gaussian(0.5), "laplace": Laplace(0.5)}
    rng = np.random.default_rng(0)
    for d in [int(s) for s in args.dims.split(",")]:  # d outer: a run cut short keeps both kernels at small d
        for kname in args.kernels.split(","):
            kern = kernels[kname]
            x = torch.as_tensor(rng.normal(size=(n, d)), dtype=torch.float32, device="cuda")
            y = torch.as_tensor(rng.normal(size=(n, d)) + 0.1, dtype=torch.float32, device="cuda")
            sub = 4096
            ref = kernel_sums(x[:sub].double(), y.double(), kern, backend="torch").shift
            variants = _variants(T, kernel_sums, kern, kname, x, y, legacy, args.configs)
            if args.variants:
                keep = tuple(args.variants.split(","))
                variants = {k: v for k, v in variants.items() if k.startswith(keep)}
            for name, fn in variants.items():
                try:
                    out = fn()
                    torch.cuda.synchronize()
                    ms = do_bench(fn, warmup=25, rep=200, return_mode="median")
                except Exception as exc:  # noqa: BLE001 - report and go on
                    print(f"{kname:8s} d={d:2d} {name:18s} FAILED {type(exc).__name__}: {str(exc)[:160]}", flush=True)
                    rows.append({"kernel": kname, "d": d, "n": n, "variant": name, "error": str(exc)[:300]})
                    continue
                diff = (out[:sub].double() - ref)
                err_max = float(diff.abs().max())
                err_rel = float(diff.norm() / ref.norm())
                pps = n * n / (ms * 1e-3)
                mufu = _mufu_per_pair(kname, name)
                row = {"kernel": kname, "d": d, "n": n, "variant": name, "ms": ms, "pairs_per_s": pps,
                       "ex2_fraction": pps / ceil["ex2_per_s"],
                       # the special-function unit's share of its ceiling actually used (MUFU per pair known)
                       "mufu_fraction": None if mufu is None else pps * mufu / ceil["ex2_per_s"],
                       "plain_mufu_ceiling_fraction": pps * (2.0 if kname == "laplace" else 1.0) / ceil["ex2_per_s"],
                       "err_max": err_max, "err_rel_l2": err_rel}
                rows.append(row)
                dump()
                print(f"{kname:8s} d={d:2d} {name:18s} {ms:9.3f} ms {pps:10.3e} pairs/s "
                      f"({row['ex2_fraction']:.2f} of ex2)  err max {err_max:.1e} rel {err_rel:.1e}", flush=True)
            for tuned in (T._kernel_sums_fma_tuned, T._kernel_sums_tuned):
                best = getattr(tuned, "best_config", None)
                if best is not None:
                    print(f"  autotuned ({tuned.fn.__name__}): {best}", flush=True)
            summary.update(_decide(rows, kname, d))
    dump()
    for key, val in summary.items():
        print(f"{key}: {val}")
    print("wrote", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
