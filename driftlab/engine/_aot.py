"""Ahead-of-time compilation of the Triton kernels for a GPU that need not be present.

Compiles a variant of :mod:`driftlab.engine._triton` for an NVIDIA architecture (default
sm_90) with the ``ptxas`` that ships with Triton and reads the machine code back with the
bundled ``cuobjdump``: registers, spills, occupancy, and the main loop's instructions per pair
by class, with the throughput bounds they imply. Used by ``benchmarks/sass_probe.py`` and by
the tests, which thereby compile the real (non-interpreted) kernels on a machine without a
GPU. Needs ``triton`` (no CUDA device, no torch tensors).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

#: H100 ceilings measured by benchmarks/bench_triton.py (benchmarks/results/h100_20261122/)
ISSUE_PER_S = 3.33e13
EX2_PER_S = 4.08e12

_LINE = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)([^;]*);")
KINDS = {"gaussian": 0, "laplace": 1}


def _classify(op: str) -> str:
    base = op.split(".")[0]
    if base == "MUFU":
        return "mufu"
    if base in ("FFMA", "FADD", "FMUL", "FMNMX", "FSEL", "FSETP", "FCHK", "FSWZADD"):
        return "fp32"
    if base in ("HMMA", "HGMMA", "IMMA"):
        return "tensor"
    if base.startswith(("LD", "ST", "RED", "ATOM")) or base in ("LDGSTS", "LDGDEPBAR", "DEPBAR"):
        return "memory"
    return "other"


def parse_sass(sass: str):
    """Instruction list [(address, opcode, operands)] of one function's SASS."""
    out = []
    for line in sass.splitlines():
        mt = _LINE.search(line)
        if mt:
            out.append((int(mt.group(1), 16), mt.group(3), mt.group(4)))
    return out


def main_loop(instrs):
    """Counts by class of the backward-branch loop with the most ``MUFU.EX2`` (None if none)."""
    best = None
    for addr, op, args in instrs:
        if op.split(".")[0] != "BRA":
            continue
        mt = re.search(r"0x([0-9a-f]+)", args)
        if not mt or int(mt.group(1), 16) >= addr:
            continue
        lo = int(mt.group(1), 16)
        body = [o for a, o, _ in instrs if lo <= a <= addr]
        ex2 = sum(o.startswith("MUFU.EX2") for o in body)
        if best is None or ex2 > best[0] or (ex2 == best[0] and len(body) > best[1]):
            best = (ex2, len(body), dict(Counter(_classify(o) for o in body)))
    return None if best is None else {"total": best[1], "ex2": best[0], **best[2]}


def tools_available() -> bool:
    """Whether Triton's bundled ``cuobjdump`` (and ``ptxas``) are here."""
    try:
        tool = _cuobjdump()
    except ImportError:
        return False
    return tool.exists() and tool.with_name("ptxas").exists()


def _cuobjdump() -> Path:
    import triton

    return Path(triton.__file__).resolve().parent / "backends" / "nvidia" / "bin" / "cuobjdump"


def compile_variant(method, layout, d, kind, bm, bn, warps, stages, arch, share=(1, 0, 0), wrap=False):
    """(res-usage text, SASS text) of one variant compiled for ``arch``; ``share`` and ``wrap``
    (the fma kernel's emulation share and minimum-image differences) as in
    :func:`driftlab.engine._triton.triton_sums`."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from driftlab.engine import _triton as T

    common = {"D": d, "BLOCK_D": T._block_d(d), "KIND": kind, "HAS_LW": False, "MASK_SELF": False,
              "CMAJOR": layout == "coord", "BLOCK_M": bm, "BLOCK_N": bn}
    scal = {"n": "i32", "m": "i32", "MB": "i32", "p0": "fp32", "p1": "fp32", "c0": "fp32", "c1": "fp32", "c2": "fp32"}
    if method == "fma":
        fn, ptrs = T._kernel_sums_fma, ["XC", "YC", "LW", "RIDX", "OUT_S", "OUT_SH", "OUT_MX"]
        g, e, q = share
        consts = dict(common, UNIT=kind in (0, 1, 2), GROUP=g, EMU_EXP=e, EMU_SQRT=q, WRAP=bool(wrap),
                      ONLINE=False, HAS_RIDX=False)
        scal = scal | {"per": "fp32", "inv_per": "fp32"}
    else:
        fn, ptrs = T._kernel_sums, ["XC", "YC", "X", "YA", "LW", "OUT_C", "OUT_L"]
        consts = dict(common, EXPAND=False, PREC="tf32x3", ONLINE=method == "dot")
    sig = {p: ("*i32" if p == "RIDX" else "*fp32") for p in ptrs} | scal | {k: "constexpr" for k in consts}
    # what the launcher specialises on: 16-byte aligned pointers, n and m divisible by 16
    attrs = {(i,): [["tt.divisibility", 16]] for i in range(len(ptrs) + 2)}
    src = ASTSource(fn=fn, signature=sig, constexprs=consts, attrs=attrs)
    ck = triton.compile(src, target=GPUTarget("cuda", arch, 32), options={"num_warps": warps, "num_stages": stages})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "k.cubin"
        path.write_bytes(ck.asm["cubin"])
        tool = str(_cuobjdump())
        res = subprocess.run([tool, "-res-usage", str(path)], capture_output=True, text=True, check=True).stdout
        sass = subprocess.run([tool, "-sass", str(path)], capture_output=True, text=True, check=True).stdout
    return res, sass


def analyse(method, layout, d, kname, bm, bn, warps, stages, arch=90, share=(1, 0, 0), wrap=False):
    res, sass = compile_variant(method, layout, d, KINDS[kname], bm, bn, warps, stages, arch, share, wrap)
    regs = int(re.search(r"REG:(\d+)", res).group(1))
    # spills go to the per-thread stack (STL/LDL): STACK, plus any other local memory
    local = int(re.search(r"STACK:(\d+)", res).group(1)) + int(re.search(r"LOCAL:(\d+)", res).group(1))
    loop = main_loop(parse_sass(sass))
    threads = warps * 32
    pairs_per_thread = bm * bn / threads * (share[0] if method == "fma" else 1)  # GROUP tiles per loop step
    regs_alloc = -(-regs // 8) * 8
    ctas = max(0, min(64 // warps, 65536 // (regs_alloc * threads)))
    row = {"method": method, "layout": layout, "d": d, "kernel": kname, "block_m": bm, "block_n": bn,
           "warps": warps, "stages": stages, "share": list(share), "wrap": bool(wrap), "regs": regs, "spill_bytes": local, "warps_per_sm": ctas * warps}
    if loop is not None:
        if method == "fma":
            # ptxas may unroll the tile loop when a thread holds few pairs: the fixed-reference
            # loop has exactly (1 - EMU_EXP / GROUP) ex2 per pair, so an integer excess is the unroll
            u = loop["ex2"] / (pairs_per_thread * (1 - share[1] / share[0]))
            if u >= 1.5 and abs(u - round(u)) < 1e-9:
                row["unrolled"] = round(u)
                pairs_per_thread *= row["unrolled"]
                if share[0] > 1:
                    # the unrolled loop may be the plain loop over the leftover (< GROUP) tiles rather
                    # than the group loop: no per-pair counts rather than wrong ones
                    row["loop_ambiguous"] = True
                    return row
        per = {k: v / pairs_per_thread for k, v in loop.items()}
        row.update({f"per_pair_{k}": v for k, v in per.items()})
        row["issue_bound_pairs_per_s"] = ISSUE_PER_S / per["total"]
        row["ex2_bound_pairs_per_s"] = EX2_PER_S / max(per.get("mufu", 0.0), 1e-9)
        row["bound_pairs_per_s"] = min(row["issue_bound_pairs_per_s"], row["ex2_bound_pairs_per_s"])
    return row
