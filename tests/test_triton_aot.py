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
