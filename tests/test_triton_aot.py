"""The real Triton kernels, compiled ahead of time for an H100 (sm_90) on a machine without a GPU.

The interpreter tests (``test_engine_backends.py``) check the arithmetic; these check that the
kernels *compile* for the GPU (typing, layouts and constexpr branches the interpreter does not
see) and that the machine code keeps the design's invariants, read from the main loop's SASS
(:mod:`driftlab.engine._aot`): one ``ex2`` per pair for the fixed-reference methods (a few
more per row and tile for the online rescale), tensor-core instructions exactly in the ``dot``
methods, and at least the 2d FP32 operations per pair that direct differences need.
"""

from __future__ import annotations

import pytest

pytest.importorskip("triton")

from driftlab.engine import _aot

SYNTHETIC_SASS = """
        /*0000*/                   MOV R1, c[0x0][0x28] ;
        /*0010*/                   FADD R2, R3, -R4 ;
        /*0020*/                   FFMA R5, R2, R2, R5 ;
        /*0030*/                   MUFU.EX2 R6, R5 ;
        /*0040*/              @!P0 LDG.E R7, desc[UR4][R8.64] ;
        /*0050*/                   HMMA.1688.F32.TF32 R10, R12, R14, R10 ;
        /*0060*/              @!P4 BRA 0x10 ;
        /*0070*/                   MUFU.EX2 R6, R5 ;
        /*0080*/                   BRA 0x70 ;
        /*0090*/                   EXIT ;
"""


def test_sass_parser_and_main_loop_on_a_known_listing():
    instrs = _aot.parse_sass(SYNTHETIC_SASS)
    assert [op for _, op, _ in instrs] == ["MOV", "FADD", "FFMA", "MUFU.EX2", "LDG.E", "HMMA.1688.F32.TF32", "BRA",
                                           "MUFU.EX2", "BRA", "EXIT"]
    # two backward loops, each with one EX2: the longer one (0x10..0x60, 6 instructions) wins
    loop = _aot.main_loop(instrs)
    assert loop == {"total": 6, "ex2": 1, "fp32": 2, "mufu": 1, "memory": 1, "tensor": 1, "other": 1}, loop
    assert _aot.main_loop(_aot.parse_sass("/*0000*/ EXIT ;")) is None


needs_tools = pytest.mark.skipif(not _aot.tools_available(), reason="Triton's bundled ptxas/cuobjdump not found")


@needs_tools
@pytest.mark.parametrize(("method", "layout", "d", "kname", "bm", "bn", "warps", "stages"), [
    ("fma", "row", 1, "gaussian", 64, 32, 4, 1),
    ("fma", "row", 8, "gaussian", 32, 32, 4, 1),
    ("fma", "coord", 8, "laplace", 64, 32, 4, 1),
    ("dot", "row", 8, "gaussian", 128, 64, 4, 3),
    ("dot_fixed", "row", 8, "laplace", 64, 64, 4, 2),
    ("dot_fixed", "coord", 3, "gaussian", 128, 32, 4, 2),
])
def test_kernels_compile_for_sm90_and_keep_their_invariants(method, layout, d, kname, bm, bn, warps, stages):
    row = _aot.analyse(method, layout, d, kname, bm, bn, warps, stages, arch=90)
    info = f"{method}/{layout} d={d} {kname} {bm}x{bn}w{warps}: {row}"
    assert "per_pair_total" in row, f"no main loop with an ex2 found: {info}"
    ex2 = row["per_pair_ex2"]
    if method == "dot":
        # per pair one ex2, plus the rescale exp2(m_old - m_new) once per row and tile (computed
        # by each of the few threads that share a row of the MMA fragment)
        assert 1.0 < ex2 <= 1.0 + 8.0 / bn, f"ex2 per pair {ex2}, expected in (1, {1 + 8 / bn}]: {info}"
    else:
        assert ex2 == 1.0, f"ex2 per pair {ex2}, expected exactly 1 (fixed reference): {info}"
    tensor = row.get("per_pair_tensor", 0.0)
    if method == "fma":
        assert tensor == 0.0, f"fma kernel uses tensor cores ({tensor} per pair): {info}"
    else:
        assert tensor > 0.0, f"dot kernel has no tensor-core instruction in its main loop: {info}"
    assert row["per_pair_fp32"] >= 2 * d, f"fewer FP32 ops per pair ({row['per_pair_fp32']}) than 2d = {2 * d}: {info}"


@needs_tools
@pytest.mark.parametrize(("kname", "d", "share"), [
    ("gaussian", 2, (1, 0, 0)), ("gaussian", 2, (4, 1, 0)), ("gaussian", 3, (2, 1, 0)),
    ("laplace", 2, (1, 0, 0)), ("laplace", 2, (4, 0, 1)), ("laplace", 3, (4, 1, 1)),
])
def test_emulated_shares_leave_the_special_function_unit(kname, d, share):
    # of every `group` tiles, n_exp take exp2 and n_sqrt their square root off the MUFU: the main
    # loop's MUFU.EX2 per pair is exactly 1 - n_exp / group, and the other MUFU (the square root,
    # Laplace) 1 - n_sqrt / group; the FMA sequences add FP32 work (>= 5 per emulated function)
    g, e, q = share
    row = _aot.analyse("fma", "row", d, kname, 64, 32, 4, 1, arch=90, share=share)
    info = f"{kname} d={d} share={share}: {row}"
    assert row["spill_bytes"] == 0, f"register spills: {info}"
    assert "unrolled" not in row, f"tile loop unrolled (the per-pair counts below would be inferred): {info}"
    assert row["per_pair_ex2"] == pytest.approx(1 - e / g, abs=1e-12), info
    other_mufu = row["per_pair_mufu"] - row["per_pair_ex2"]
    want = (1 - q / g) if kname == "laplace" else 0.0
    assert other_mufu == pytest.approx(want, abs=1e-12), f"non-ex2 MUFU per pair {other_mufu}, want {want}: {info}"
    plain = 2 * d + 3  # d differences, d products, the ex2 argument (Laplace), 1 + d accumulations
    assert row["per_pair_fp32"] >= plain - 2 + 5 * (e + q) / g, info
    if kname == "gaussian" and share == (1, 0, 0):
        # unit-rate coordinates with -r^2 accumulated directly: 2d differences/products and 1 + d
        # accumulations, no separate scale or negation (3d + 1 FP32 per pair)
        assert row["per_pair_fp32"] == 3 * d + 1, f"FP32 per pair {row['per_pair_fp32']}, want {3 * d + 1}: {info}"


@needs_tools
@pytest.mark.parametrize("d", [2, 8])
def test_minimum_image_kernel_compiles_for_sm90(d):
    # the wrap adds a multiply, two shifter adds and a multiply-add per coordinate and pair
    base = _aot.analyse("fma", "row", d, "gaussian", 32, 32, 4, 1, arch=90)
    row = _aot.analyse("fma", "row", d, "gaussian", 32, 32, 4, 1, arch=90, wrap=True)
    assert row["per_pair_ex2"] == 1.0, row
    extra = row["per_pair_fp32"] - base["per_pair_fp32"]
    assert 3 * d <= extra <= 4 * d, f"wrap adds {extra} FP32 per pair at d={d}, expected 3d..4d: {row}"
