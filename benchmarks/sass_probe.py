"""Static probe of the Triton kernels for a GPU that is not here (no CUDA device needed).

Compiles every variant of ``driftlab.engine._triton`` (method x layout x autotuning
configuration) ahead of time for an NVIDIA architecture (default sm_90, the H100) with the
``ptxas`` that ships with Triton, disassembles it with the bundled ``cuobjdump`` and reports,
per variant:

* registers per thread, local-memory spills, and the resulting occupancy (resident warps
  per SM: 64K registers, at most 64 warps);
* the main loop's instructions *per pair* (the loop that holds the ``MUFU.EX2`` of the full
  tiles), split by class: FP32 arithmetic, ``MUFU`` (special-function unit), loads/stores,
  tensor-core (``HMMA``) and the rest (integer, predicates, moves, conversions);
* for the ``fma`` method, every emulation share the autotuner tries (``GROUP/EMU_EXP/EMU_SQRT``:
  of every GROUP reference tiles, EMU_EXP evaluate exp2 and EMU_SQRT the square root on the FMA
  pipe), so the trade of MUFU for FP32 instructions is read off before a GPU times it;
* two throughput *bounds*: issue (one warp instruction per scheduler and clock, i.e. the
  FP32 ceiling in thread instructions per second, by default the 3.33e13/s that
  ``bench_triton.py`` measured on an H100) divided by instructions per pair, and the
  ``ex2`` ceiling (4.08e12/s measured) divided by ``MUFU`` per pair.

They are bounds, not predictions: latency at low occupancy is invisible here. Use the probe to
rank variants and to see spills before a GPU session; time them with ``bench_triton.py``.
The compiler version matters: run it with the Triton of the GPU machine (e.g. a wheel
unpacked with ``pip install --target``, then ``PYTHONPATH=that_dir``).

Usage::

    python benchmarks/sass_probe.py --dims 2,5,8 --out benchmarks/results/sass_probe.json
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dims", default="2,5,8")
    p.add_argument("--kernels", default="gaussian,laplace")
    p.add_argument("--methods", default="fma,dot,dot_fixed")
    p.add_argument("--layouts", default="row,coord")
    p.add_argument("--arch", type=int, default=90, help="compute capability x 10 (90: H100/H200)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")  # (Triton >= 3.9 warns otherwise; 1 = its default)

    import triton

    from driftlab.io import machine_info, write_json
    from driftlab.engine import _triton as T
    from driftlab.engine._aot import EX2_PER_S, ISSUE_PER_S, KINDS, analyse

    rows = []
    print(f"triton {triton.__version__}, sm_{args.arch}; bounds from issue {ISSUE_PER_S:.3g}/s, ex2 {EX2_PER_S:.3g}/s")
    print(f"{'kernel':8s} {'d':>2s} {'method':9s} {'layout':6s} {'config':12s} {'share':9s} {'regs':>4s} {'spill':>5s} "
          f"{'warps':>5s} {'instr/pair':>10s} {'fp32':>5s} {'mufu':>5s} {'mem':>5s} {'tc':>5s} {'bound':>9s}")
    for kname in args.kernels.split(","):
        for d in [int(s) for s in args.dims.split(",")]:
            for method in args.methods.split(","):
                if method == "fma" and d > T.FMA_MAX_DIM:
                    continue
                configs = T._FMA_CONFIGS if method == "fma" else T._TUNE_CONFIGS
                for layout in args.layouts.split(","):
                    if method == "fma":  # the variants the autotuner would try for this problem
                        configs = T._prune_fma(configs, {}, KIND=KINDS[kname], D=d)
                    for cfg in configs:
                        bm, bn = cfg.kwargs["BLOCK_M"], cfg.kwargs["BLOCK_N"]
                        share = tuple(cfg.kwargs.get(k, v) for k, v in (("GROUP", 1), ("EMU_EXP", 0), ("EMU_SQRT", 0)))
                        try:
                            row = analyse(method, layout, d, kname, bm, bn, cfg.num_warps, cfg.num_stages, args.arch,
                                          share=share)
                        except Exception as exc:  # noqa: BLE001 - report and go on
                            print(f"{kname:8s} {d:2d} {method:9s} {layout:6s} {bm}x{bn}w{cfg.num_warps} {share} FAILED "
                                  f"{type(exc).__name__}: {str(exc)[:120]}")
                            continue
                        rows.append(row)
                        g = row.get
                        print(f"{kname:8s} {d:2d} {method:9s} {layout:6s} {f'{bm}x{bn}w{cfg.num_warps}':12s} "
                              f"{'%d/%d/%d' % share:9s} "
                              f"{row['regs']:4d} {row['spill_bytes']:5d} {row['warps_per_sm']:5d} "
                              f"{g('per_pair_total', float('nan')):10.2f} {g('per_pair_fp32', 0):5.2f} "
                              f"{g('per_pair_mufu', 0):5.2f} {g('per_pair_memory', 0):5.2f} "
                              f"{g('per_pair_tensor', 0):5.2f} {g('bound_pairs_per_s', float('nan')):9.2e}",
                              flush=True)
    out = args.out or ROOT / "benchmarks" / "results" / "sass_probe.json"
    write_json(out, {"machine": machine_info(), "triton": triton.__version__, "arch": args.arch,
                     "ceilings": {"issue_per_s": ISSUE_PER_S, "ex2_per_s": EX2_PER_S}, "rows": rows})
    print("wrote", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
