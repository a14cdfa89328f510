"""The Triton register-accumulator (``fma``) kernel's FMA-pipe special functions, emulation
shares, minimum-image torus and online far-field fallback, run under the Triton interpreter
(``TRITON_INTERPRET=1``, numpy float32 on the CPU: multiplies and adds round separately, so
errors are bounded a little above what the GPU's fused multiply-adds give).

Oracles: mpmath at 40 digits for 2^t and sqrt (through float64 for the bulk: its own error,
~1e-16, is far below the float32 tolerances); the dense float64 engine for the sums. These
tests need ``triton`` (extra ``gpu``); without it they are skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("triton")

SCRIPT = textwrap.dedent(r"""
    import json, warnings
    import numpy as np, torch, triton, triton.language as tl
    from driftlab.engine import kernel_sums
    from driftlab.engine import _triton as T
    from driftlab.kernels import Gaussian, Laplace, Matern, InverseMultiquadric
    warnings.simplefilter("ignore")  # numpy's invalid-value warnings of the masked lanes (-inf - -inf)

    @triton.jit
    def _apply(X, OUT, n, WHICH: tl.constexpr, BLOCK: tl.constexpr):
        i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        x = tl.load(X + i, mask=i < n, other=0.0)
        if WHICH == 0:
            y = T._exp2_fma(x)
        else:
            y = T._sqrt_fma(x)
        tl.store(OUT + i, y, mask=i < n)

    def apply(x, which):
        x = torch.tensor(np.asarray(x, dtype=np.float32))
        out = torch.full_like(x, float("nan"))  # poisoned: every element must be written
        _apply[(triton.cdiv(x.numel(), 1024),)](x, out, x.numel(), WHICH=which, BLOCK=1024)
        return out.numpy()

    res = {}
    rng = np.random.default_rng(0)
    # exp2 on t in [-126, 0] (dense grid, random points, the reduction's rounding edges)
    t = np.concatenate([np.linspace(-126.0, 0.0, 200001), -126.0 * rng.random(100000),
                        np.arange(-126, 1) + 0.5, np.arange(-126, 1) - 0.5, np.arange(-126, 1) * 1.0]).astype(np.float32)
    t = t[t >= -126.0]
    got = apply(t, 0).astype(np.float64)
    want = np.exp2(t.astype(np.float64))
    rel = np.abs(got / want - 1.0)
    k = int(np.argmax(rel))
    res["exp2_rel"] = [float(rel[k]), float(t[k]), float(got[k]), float(want[k])]
    under = np.array([-126.0001, -127.0, -149.0, -1e4, -np.inf], dtype=np.float32)
    res["exp2_flush"] = apply(under, 0).tolist()
    res["exp2_zero"] = float(apply(np.zeros(3, np.float32), 0)[0])
    # sqrt on normal floats (log-uniform over the whole range), 0, and denormals
    x = np.concatenate([10.0 ** rng.uniform(-37.9, 38.0, 200000), np.linspace(0.0, 4.0, 100001)[1:],
                        np.float32(2.0) ** np.arange(-126, 127)]).astype(np.float32)
    got = apply(x, 1).astype(np.float64)
    want = np.sqrt(x.astype(np.float64))
    rel = np.abs(got / want - 1.0)
    k = int(np.argmax(rel))
    res["sqrt_rel"] = [float(rel[k]), float(x[k]), float(got[k]), float(want[k])]
    res["sqrt_zero"] = float(apply(np.zeros(3, np.float32), 1)[0])
    den = np.array([1e-45, 1e-40, 1e-39], dtype=np.float32)
    res["sqrt_denormal"] = apply(den, 1).tolist()

    f32 = lambda a: torch.tensor(a, dtype=torch.float32)
    def err(ls, sh, ref, rows=slice(None)):
        fin = np.isfinite(ref.log_total[rows])
        return max(float(np.abs(sh.numpy()[rows] - ref.shift[rows]).max()),
                   float((np.abs(ls.numpy()[rows] - ref.log_total[rows])
                          / np.maximum(1.0, np.abs(ref.log_total[rows])))[fin].max()))

    # the sums for every emulation share (m = 300: the 4-tile groups, the leftover full tiles and
    # the partial tile all run), weights, far-field rows, self-mask
    worst, near = {}, {}
    for d in (1, 2, 3):
        x = rng.normal(size=(40, d)) + 4.0
        x[:3] += 40.0  # far field: the fixed-reference sums underflow -> online fallback
        y = 1.2 * rng.normal(size=(300, d)) + 4.3
        lw = rng.normal(size=300)
        for kern in (Gaussian(0.4), Laplace(0.25), Matern(0.5, nu=1.5), Matern(0.5, nu=2.5), InverseMultiquadric(0.5, 1.0)):
            ref = kernel_sums(x, y, kern, log_weights=lw, backend="dense")
            for share in T.EMULATION_SHARES:
                ls, sh = T.triton_sums(kern, f32(x), f32(y), f32(lw), method="fma", emulate=share)
                key = f"{type(kern).__name__}{getattr(kern, 'nu', '')} {share}"
                worst[key] = max(worst.get(key, 0.0), err(ls, sh, ref))
                near[key] = max(near.get(key, 0.0), err(ls, sh, ref, slice(3, None)))
        xs = np.concatenate([x, y[:260]])
        ref = kernel_sums(xs, xs, Laplace(0.3), mask_self=True, backend="dense")
        for share in ((1, 0, 0), (4, 1, 1)):
            ls, sh = T.triton_sums(Laplace(0.3), f32(xs), f32(xs), mask_self=True, method="fma", emulate=share)
            worst[f"mask_self {share}"] = max(worst.get(f"mask_self {share}", 0.0), err(ls, sh, ref))
    res["sums"], res["near"] = worst, near

    # minimum-image torus against the float64 torch backend, with isolated rows on it (online fallback)
    tor = {}
    for d in (1, 2, 3, 8):
        L = 1.5
        x = L * rng.random((50, d))
        y = L * rng.random((300, d))
        for kern in (Gaussian(0.2), Laplace(0.3), Gaussian(0.006)):
            for ms in (False, True):
                xx = y if ms else x
                ref = kernel_sums(xx, y, kern, mask_self=ms, period=L, wrap="minimum_image", backend="torch")
                ls, sh = T.triton_sums(kern, f32(xx), f32(y), mask_self=ms, method="fma", period=L,
                                       emulate=(2, 1, 0))
                tor[f"{type(kern).__name__}({kern.length_scale}) d={d} mask_self={ms}"] = err(ls, sh, ref)
    res["torus"] = tor
    # the dispatcher sends a minimum-image call (d <= 8) to the triton backend
    out = kernel_sums(f32(x[:, :2]), f32(y[:, :2]), Gaussian(0.2), period=L, wrap="minimum_image", backend="triton")
    ref = kernel_sums(x[:, :2], y[:, :2], Gaussian(0.2), period=L, wrap="minimum_image", backend="torch")
    res["dispatch_torus"] = float(np.abs(out.shift.numpy() - ref.shift).max())
    print("RESULT" + json.dumps(res))
""")


@pytest.fixture(scope="module")
def results():
    env = dict(os.environ, TRITON_INTERPRET="1")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=900,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.split("RESULT")[-1])


def test_exp2_on_the_fma_pipe_is_as_accurate_as_the_special_function_unit(results):
    rel, t, got, want = results["exp2_rel"]
    # degree-5 near-minimax polynomial: 1.1e-7 in float64, +2 roundings of the float32 Horner
    # and the final scaling; ex2.approx is documented at 2^-22.5 = 1.8e-7
    assert rel < 2.5e-7, f"2^t at t={t}: got {got}, want {want}, relative error {rel:.3g} >= 2.5e-7"
    assert results["exp2_zero"] == 1.0, f"2^0 gave {results['exp2_zero']}, want exactly 1"
    # below 2^-126 the result flushes to 0 (as ex2.approx.ftz): -inf logits (masks) give exact zeros
    assert results["exp2_flush"] == [0.0] * 5, f"2^t for t < -126 gave {results['exp2_flush']}, want zeros"


def test_sqrt_on_the_fma_pipe(results):
    rel, x, got, want = results["sqrt_rel"]
    # Lomont's estimate (1.8e-3) after three Newton steps: 3e-11 in exact arithmetic, so float32
    # round-off decides: ~4 roundings of ~6e-8 each
    assert rel < 4e-7, f"sqrt({x}): got {got}, want {want}, relative error {rel:.3g} >= 4e-7"
    assert results["sqrt_zero"] == 0.0
    # denormal squared distances (r < 1e-19, where exp(-r) = 1 in float32) stay tiny; the GPU
    # flushes them to 0 before the square root
    assert max(results["sqrt_denormal"]) < 1e-18, results["sqrt_denormal"]


def test_every_emulation_share_matches_the_dense_float64_sums(results):
    # float32 kernel: logits ~eps32 * 60 and coordinates ~eps32 * 45 -> ~1e-5 on these data
    # (far-field log_total relative to max(1, |log_total|), |logit| ~ 1e4 there); the FMA-pipe
    # functions add < 3e-7 relative per weight
    bad = {k: v for k, v in results["sums"].items() if not v < 3e-5}
    assert not bad, f"variants beyond 3e-5 of the dense float64 sums: {bad}"
    assert len(results["sums"]) == 5 * 6 + 2
    # rows near the data (fixed-reference pass, where the emulated functions act): the shifts
    # (|y - x| ~ 3) and log-normalisers (~5) carry float32 round-off of a few 1e-7 relative
    bad = {k: v for k, v in results["near"].items() if not v < 3e-6}
    assert not bad, f"variants beyond 3e-6 of the dense float64 sums on the near rows: {bad}"


def test_minimum_image_torus_matches_the_torch_backend(results):
    # same tolerance argument; the Gaussian(0.006) cases leave isolated rows whose fixed-reference
    # sums underflow (redone by the online variant of the same kernel)
    bad = {k: v for k, v in results["torus"].items() if not v < 3e-5}
    assert not bad, f"minimum-image cases beyond 3e-5 of the float64 torch backend: {bad}"
    assert results["dispatch_torus"] < 3e-5, results["dispatch_torus"]


@pytest.mark.gpu
@pytest.mark.parametrize("kname", ["gaussian", "laplace"])
@pytest.mark.parametrize("d", [1, 2, 3, 8])
def test_shares_and_torus_on_cuda_match_float64(kname, d):
    # on the device: every emulation share (fixed blocks), the autotuned launch (whatever share it
    # picks) and the minimum-image torus, against the float64 torch backend on the same GPU.
    # float32 kernel: logits ~eps32 * 60, coordinates ~eps32 * 45 -> 3e-4 covers the far rows
    # (as test_engine_backends' CUDA test); near rows 3e-6 (see the interpreter test)
    import numpy as np
    import torch

    from driftlab.engine import _triton as T
    from driftlab.engine import kernel_sums
    from driftlab.kernels import Gaussian, Laplace

    kern = {"gaussian": Gaussian(0.4), "laplace": Laplace(0.25)}[kname]
    rng = np.random.default_rng(d)
    x = rng.normal(size=(700, d)) + 4.0
    x[:5] += 40.0
    y = 1.2 * rng.normal(size=(5000, d)) + 4.3
    cu = {"device": "cuda", "dtype": torch.float32}
    ref = kernel_sums(x, y, kern, backend="dense")
    shares = [s for s in T.EMULATION_SHARES if not (s[2] and kname == "gaussian")] if d <= T.EMU_MAX_DIM else [None]
    for share in shares + ["auto"]:
        kw = {} if share == "auto" else {"emulate": share, "block_m": 64, "block_n": 32}
        ls, sh = T.triton_sums(kern, torch.tensor(x, **cu), torch.tensor(y, **cu), method="fma", **kw)
        sh, ls = sh.cpu().numpy(), ls.cpu().numpy()
        for rows, tol in ((slice(None), 3e-4), (slice(5, None), 3e-6)):
            err = max(np.abs(sh[rows] - ref.shift[rows]).max(), np.abs(ls[rows] - ref.log_total[rows]).max()
                      / max(1.0, np.abs(ref.log_total[rows]).max()))
            assert err < tol, f"{kname} d={d} share={share} rows={rows}: error {err:.3g} >= {tol}"
    L = 1.5
    xt, yt = L * rng.random((700, d)), L * rng.random((5000, d))
    ref = kernel_sums(xt, yt, kern, period=L, wrap="minimum_image", backend="torch")
    out = kernel_sums(torch.tensor(xt, **cu), torch.tensor(yt, **cu), kern, period=L, wrap="minimum_image")
    err = np.abs(out.shift.cpu().numpy() - ref.shift).max()
    assert err < 3e-6, f"minimum-image {kname} d={d}: shift error {err:.3g} >= 3e-6"


def test_autotuner_tries_only_the_shares_that_can_differ():
    from driftlab.engine import _triton as T

    def shares(**kw):
        return {(c.kwargs["GROUP"], c.kwargs["EMU_EXP"], c.kwargs["EMU_SQRT"]) for c in T._prune_fma(T._FMA_CONFIGS, {}, **kw)}

    everything = set(T.EMULATION_SHARES)
    assert shares(KIND=1, D=2) == everything  # Laplace: exp2 and sqrt shares
    assert shares(KIND=2, D=4) == everything  # Matérn: a square root too
    assert shares(KIND=0, D=3) == {s for s in everything if s[2] == 0}  # Gaussian: no square root
    assert shares(KIND=3, D=1) == {s for s in everything if s[2] == 0}  # IMQ: none either
    assert shares(KIND=1, D=T.EMU_MAX_DIM + 1) == {(1, 0, 0)}  # beyond EMU_MAX_DIM: plain only
    with pytest.raises(ValueError, match="emulate"):
        T._check_share((3, 1, 0))
    with pytest.raises(ValueError, match="emulate"):
        T._check_share((2, 2, 1))
