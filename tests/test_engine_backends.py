"""Every engine backend agrees with the dense float64 reference (and the reference with
independent implementations and closed forms)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import assert_close
from driftlab.engine import AUTO_DENSE_PAIRS, drift, kernel_sums, mean_shift, select_backend
from driftlab.fields import batch_drift, batch_mean_shift
from driftlab.kernels import Gaussian, InverseMultiquadric, Laplace, Matern

torch = pytest.importorskip("torch")


pytestmark = pytest.mark.usefixtures("single_torch_thread")

KERNELS = {
    "gaussian": Gaussian(0.4),
    "laplace": Laplace(0.25),
    "matern32": Matern(0.5, nu=1.5),
    "imq": InverseMultiquadric(0.5, 1.0),
}


@dataclass(frozen=True)
class EngineBackend:
    engine: str  # dense | torch | sdpa | numba
    device: str
    dtype: str

    def to(self, a):
        if self.engine == "dense" and self.device == "numpy":
            return np.asarray(a, dtype=self.dtype)
        return torch.as_tensor(np.asarray(a, dtype=self.dtype), device=self.device)

    def __str__(self):
        return f"{self.engine}-{self.device}-{self.dtype}"


_EB = [EngineBackend("dense", "numpy", "float64"), EngineBackend("dense", "numpy", "float32"),
       EngineBackend("torch", "cpu", "float64"), EngineBackend("torch", "cpu", "float32"),
       EngineBackend("sdpa", "cpu", "float64"), EngineBackend("sdpa", "cpu", "float32"),
       EngineBackend("numba", "cpu", "float64"), EngineBackend("numba", "cpu", "float32")]
# (no sdpa-cuda-float64: the fused CUDA attention kernels have no float64; tested to raise below)
_EB_GPU = [EngineBackend("torch", "cuda", "float64"), EngineBackend("torch", "cuda", "float32"),
           EngineBackend("sdpa", "cuda", "float32")]


@pytest.fixture(params=_EB + [pytest.param(b, marks=pytest.mark.gpu) for b in _EB_GPU], ids=str)
def engine_backend(request):
    return request.param


def _tol(eb: EngineBackend, scale: float) -> float:
    # float64: sums of <= 1000 terms of O(1) round-off -> ~1e-13 relative; 1e-10 leaves margin.
    # float32: each logit carries ~eps32 * |logit| (|logit| <= ~60 here) and the centred
    # coordinates ~eps32 * R, so weights are off by ~4e-6 relative and a shift of spread
    # ~3 by ~1e-5; 1e-4 * scale bounds it with margin (all cases below measured <= 6e-6).
    return (1e-10 if eb.dtype == "float64" else 1e-4) * scale


def _data(seed, n, m, d, offset=0.0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) + offset, 1.2 * rng.normal(size=(m, d)) + 0.3 + offset


def _oracle_log_profile(kname, r):
    """log phi(r) of KERNELS[kname] from the textbook formula (not the kernel's own code)."""
    k = KERNELS[kname]
    if kname == "gaussian":
        return -(r**2) / (2.0 * k.bandwidth**2)
    if kname == "laplace":
        return -r / k.temperature
    if kname == "matern32":  # (1 + z) e^{-z}, z = sqrt(3) r / ell
        z = math.sqrt(3.0) * r / k.length_scale
        return np.log1p(z) - z
    if kname == "imq":  # (1 + r^2 / c^2)^{-beta}
        return -k.beta * np.log1p(r**2 / k.scale**2)
    raise KeyError(kname)


def _oracle_sums(kname, x, y, log_weights=None, mask_self=False):
    """log sum_j w_j k(x_i, y_j) and sum_j a_ij (y_j - x_i), the (n, m) matrices written out."""
    diff = y[None, :, :] - x[:, None, :]
    logk = _oracle_log_profile(kname, np.sqrt(np.sum(diff**2, axis=-1)))
    if log_weights is not None:
        logk = logk + log_weights[None, :]
    if mask_self:
        logk[np.arange(len(x)), np.arange(len(x))] = -np.inf
    log_total = np.log(np.sum(np.exp(logk - logk.max(axis=1, keepdims=True)), axis=1)) + logk.max(axis=1)
    a = np.exp(logk - log_total[:, None])
    return log_total, np.einsum("nm,nmd->nd", a, diff)


@pytest.mark.parametrize("kname", list(KERNELS))
@pytest.mark.parametrize("d", [1, 3])
def test_backends_agree_with_dense_reference(engine_backend, kname, d):
    kern = KERNELS[kname]
    if engine_backend.engine == "sdpa" and kname != "gaussian":
        pytest.skip("sdpa is Gaussian-only (tested to raise below)")
    if engine_backend.engine == "numba":
        from driftlab.engine._numba import numba_importable

        if not numba_importable():
            pytest.skip("numba is not installed")
        if kname not in ("gaussian", "laplace"):
            pytest.skip("numba: Gaussian and exponential profiles only (tests/test_engine_numba.py)")
    x, y = _data(7 + d, 150, 230, d, offset=5.0)  # offset: centring must absorb it
    ref_log_total, ref_shift = _oracle_sums(kname, x, y)  # every backend, dense included, vs written-out sums
    kw = dict(tile_rows=37, tile_cols=61) if engine_backend.engine == "torch" else {}
    out = kernel_sums(engine_backend.to(x), engine_backend.to(y), kern, backend=engine_backend.engine, **kw)
    tol = _tol(engine_backend, 3.0)
    shift = out.shift.cpu().numpy() if hasattr(out.shift, "cpu") else out.shift
    assert str(shift.dtype) == engine_backend.dtype
    assert_close(shift, ref_shift, atol=tol, what=f"shift {engine_backend} {kname}")
    if out.log_total is not None:
        lt = out.log_total.cpu().numpy() if hasattr(out.log_total, "cpu") else out.log_total
        assert_close(lt, ref_log_total, atol=tol, rtol=tol, what=f"log_total {engine_backend} {kname}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kname", ["gaussian", "imq"])
def test_inner_product_distances_in_high_d_match_dense(dtype, kname):
    # distance="auto" takes |x|^2 + |y|^2 - 2 x.y for squared-distance kernels at d > 8. Queries
    # up to 40 units from the data: the logits' round-off ~eps * r^2 / (2 s^2) (r^2 <= ~1700,
    # s = 2) moves weights by ~1e-12 (float64) / ~3e-5 (float32) relative, a shift of spread ~5
    # by ~5e-12 / ~1.5e-4; the tolerances bound that (measured: float32 <= 2e-5 for both
    # distance methods, direct differences being no better here).
    kern = Gaussian(2.0) if kname == "gaussian" else KERNELS[kname]
    rng = np.random.default_rng(11)
    d = 16
    x = rng.normal(size=(60, d)) + np.linspace(0.0, 40.0, 60)[:, None] / np.sqrt(d)
    y = rng.normal(size=(900, d))
    ref = kernel_sums(x, y, kern, backend="dense")
    xt, yt = (torch.tensor(a, dtype=getattr(torch, dtype)) for a in (x, y))
    tol = 1e-9 if dtype == "float64" else 3e-4
    outs = {dist: kernel_sums(xt, yt, kern, backend="torch", distance=dist) for dist in ("auto", "expand", "direct")}
    assert torch.equal(outs["auto"].shift, outs["expand"].shift)  # auto = expand at d = 16
    for dist, out in outs.items():
        assert_close(out.shift.numpy(), ref.shift, atol=tol, what=f"{dist} shift, {dtype}")
        assert_close(out.log_total.numpy(), ref.log_total, atol=tol, rtol=tol, what=f"{dist} log_total, {dtype}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_masks_weights_and_far_field(dtype):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(90, 2))
    lw = rng.normal(size=90)
    lw[::7] = -np.inf  # zero-weight references
    tol = 1e-10 if dtype == "float64" else 1e-4  # see _tol
    ref = kernel_sums(x, x, Laplace(0.3), mask_self=True, log_weights=lw, backend="dense")
    xt = torch.as_tensor(x.astype(dtype))
    out = kernel_sums(xt, xt, Laplace(0.3), mask_self=True, log_weights=torch.as_tensor(lw.astype(dtype)),
                      backend="torch", tile_rows=16, tile_cols=23)
    assert_close(out.shift.numpy(), ref.shift, atol=3 * tol, what="masked weighted shift")
    assert_close(out.log_total.numpy(), ref.log_total, atol=3 * tol, what="masked weighted log_total")
    # far field: every distance ~1000 tau, exp(-dist/tau) underflows to exactly 0 in float32;
    # the fixed-reference fast path detects it and the online fallback must give the exact
    # answer (the shift points at the far set; relative error ~eps * 1000 in the logits).
    far = rng.normal(size=(40, 2)) + np.array([300.0, 0.0])
    ref = kernel_sums(x, far, Laplace(0.3), backend="dense")
    out = kernel_sums(xt, torch.as_tensor(far.astype(dtype)), Laplace(0.3), backend="torch", tile_cols=16)
    assert np.isfinite(out.shift.numpy()).all()
    assert_close(out.shift.numpy(), ref.shift, rtol=1e-3 if dtype == "float32" else 1e-10,
                 what="far-field shift")
    assert_close(out.log_total.numpy(), ref.log_total, rtol=1e-5 if dtype == "float32" else 1e-12,
                 what="far-field log_total")


@pytest.mark.parametrize("kname", list(KERNELS))
def test_dense_reference_matches_written_out_sums_with_weights_and_mask(kname):
    # the dense backend is the reference of the other tests here: weights (some zero) and the
    # self-mask against the (n, m) matrices written out; float64, ~90-term sums: ~1e-15
    rng = np.random.default_rng(12)
    x = rng.normal(size=(90, 2))
    lw = rng.normal(size=90)
    lw[::7] = -np.inf
    for log_w, mask in ((None, False), (lw, False), (None, True), (lw, True)):
        lt, sh = _oracle_sums(kname, x, x, log_w, mask)
        out = kernel_sums(x, x, KERNELS[kname], log_weights=log_w, mask_self=mask, backend="dense")
        what = f"dense {kname} weights={log_w is not None} mask_self={mask}"
        assert_close(out.log_total, lt, atol=1e-12, rtol=1e-12, what=what + " log_total")
        assert_close(out.shift, sh, atol=1e-12, what=what + " shift")


def test_dense_reference_matches_fields_and_closed_form():
    # independent implementation: the foundation's streamed batch estimators (float64)
    x, y = _data(11, 60, 80, 2)
    for kern in KERNELS.values():
        assert_close(kernel_sums(x, y, kern, backend="dense").shift, batch_mean_shift(x, y, kern),
                     atol=1e-12, what=f"dense vs fields {kern}")  # both float64, ~80-term sums
    assert_close(drift(x, y, x, Laplace(0.5), method="joint", backend="torch"),
                 batch_drift(x, y, x, Laplace(0.5), method="joint"), atol=1e-12, what="joint drift")
    assert_close(drift(x, y, x[::-1], Laplace(0.5), method="separate", backend="torch"),
                 batch_drift(x, y, x[::-1], Laplace(0.5), method="separate", mask_self=False), atol=1e-12,
                 what="separate drift")
    # closed form: two references at -1 and 3, Gaussian s = 1, query 0
    w1, w2 = math.exp(-0.5), math.exp(-4.5)
    out = kernel_sums(np.zeros((1, 1)), np.array([[-1.0], [3.0]]), Gaussian(1.0), backend="dense")
    assert_close(out.shift[0, 0], (-w1 + 3 * w2) / (w1 + w2), rtol=1e-14, what="two-point shift")
    assert_close(out.log_total[0], math.log(w1 + w2), rtol=1e-14, what="two-point log_total")


@pytest.mark.parametrize("wrap", ["lattice", "minimum_image"])
@pytest.mark.parametrize("kname", ["gaussian", "laplace"])
def test_torus_torch_matches_dense(wrap, kname):
    rng = np.random.default_rng(5)
    L = 2.0
    x = rng.uniform(-1, 3, size=(70, 2))  # outside [0, L): must be wrapped
    y = rng.uniform(0, L, size=(90, 2))
    kern = KERNELS[kname]
    ref = kernel_sums(x, y, kern, period=L, wrap=wrap, backend="dense")
    out = kernel_sums(torch.as_tensor(x), torch.as_tensor(y), kern, period=L, wrap=wrap, backend="torch",
                      tile_rows=32, tile_cols=50)
    assert_close(out.shift.numpy(), ref.shift, atol=1e-10, what=f"torus {wrap}")  # float64 round-off
    assert_close(out.log_total.numpy(), ref.log_total, atol=1e-10, what=f"torus {wrap}")


def test_lattice_sum_converges_and_minimum_image_error_is_tail_sized():
    rng = np.random.default_rng(6)
    L = 1.0
    x = rng.uniform(0, L, size=(40, 1))
    y = rng.uniform(0, L, size=(50, 1))
    kern = Laplace(0.1)
    exact = kernel_sums(x, y, kern, period=L, images=4, backend="dense").shift
    one = kernel_sums(x, y, kern, period=L, images=1, backend="dense").shift
    mi = kernel_sums(x, y, kern, period=L, wrap="minimum_image", backend="dense").shift
    # images=1 misses only images farther than L: relative weight <= ~2 e^{-L/tau} / (L/tau)
    assert np.abs(one - exact).max() < 4 * math.exp(-L / kern.temperature)
    # minimum image drops images beyond L/2: error of order phi(L/2) = e^{-5}, and really > 0
    err = np.abs(mi - exact).max()
    assert 1e-5 < err < 10 * math.exp(-0.5 * L / kern.temperature)


@given(shift=st.floats(-50, 50), angle=st.floats(0, 2 * math.pi), seed=st.integers(0, 1000))
def test_torch_backend_invariances(shift, angle, seed):
    # translation invariance and rotation equivariance (float64; tolerance: round-off of
    # coordinates of size <= 55 -> ~1e-14 * 55 per logit, amplified by 1/tau = 4).
    x, y = _data(seed, 30, 40, 2)
    kern = Laplace(0.25)
    base = mean_shift(torch.as_tensor(x), torch.as_tensor(y), kern, backend="torch").numpy()
    moved = mean_shift(torch.as_tensor(x + shift), torch.as_tensor(y + shift), kern, backend="torch").numpy()
    assert_close(moved, base, atol=1e-9, what="translation")
    c, s = math.cos(angle), math.sin(angle)
    R = np.array([[c, -s], [s, c]])
    rot = mean_shift(torch.as_tensor(x @ R.T), torch.as_tensor(y @ R.T), kern, backend="torch").numpy()
    assert_close(rot, base @ R.T, atol=1e-9, what="rotation")
    perm = np.random.default_rng(seed).permutation(40)
    assert_close(mean_shift(torch.as_tensor(x), torch.as_tensor(y[perm]), kern, backend="torch").numpy(), base,
                 atol=1e-12, what="permutation")


def test_bad_input_and_selection():
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match="backend"):
        kernel_sums(x, x, Gaussian(1.0), backend="cuda")
    with pytest.raises(ValueError, match="Gaussian"):
        kernel_sums(torch.zeros(3, 2), torch.ones(4, 2), Laplace(1.0), backend="sdpa")
    with pytest.raises(ValueError, match="sdpa"):
        drift(torch.zeros(3, 2), torch.ones(4, 2), torch.ones(3, 2), Gaussian(1.0), method="joint", backend="sdpa")
    with pytest.raises(ValueError, match="mask_self"):
        kernel_sums(x, np.zeros((4, 2)), Gaussian(1.0), mask_self=True)
    with pytest.raises(ValueError, match="log_weights"):
        kernel_sums(x, x, Gaussian(1.0), log_weights=np.zeros(2))
    with pytest.raises(ValueError, match="log_weights"):
        kernel_sums(x, x, Gaussian(1.0), log_weights=np.array([0.0, np.nan, 0.0]))
    with pytest.raises(ValueError, match="period"):
        kernel_sums(x, x, Gaussian(1.0), period=-1.0)
    with pytest.raises(ValueError, match="wrap"):
        kernel_sums(x, x, Gaussian(1.0), period=1.0, wrap="mirror")
    with pytest.raises(TypeError, match="kernel"):
        kernel_sums(x, x, "gaussian")
    with pytest.raises(ValueError, match="dense"):
        kernel_sums(np.zeros((3000, 1)), np.zeros((3000, 1)), Gaussian(1.0), backend="dense")
    small, big = np.zeros((10, 2)), np.zeros((2 * AUTO_DENSE_PAIRS, 2))
    assert select_backend(small, small, Gaussian(1.0)) == "dense"
    from driftlab.engine._numba import numba_importable

    assert select_backend(small, big, Gaussian(1.0)) == ("numba" if numba_importable() else "torch")


TRITON_SCRIPT = textwrap.dedent("""
    import numpy as np, torch
    from driftlab.engine import kernel_sums
    from driftlab.engine._triton import triton_sums
    from driftlab.kernels import Gaussian, Laplace, Matern, InverseMultiquadric
    rng = np.random.default_rng(0)
    worst = 0.0
    for d, method, layout in ((1, "fma", "row"), (3, "fma", "coord"), (8, "fma", "row"), (8, "fma", "coord"),
                              (3, "dot", "row"), (2, "dot", "coord"), (3, "dot_fixed", "row"),
                              (5, "dot_fixed", "coord")):
        x = rng.normal(size=(70, d)) + 4.0
        x[:3] += 40.0  # far-field rows (fixed-reference underflow -> online fallback)
        y = 1.2 * rng.normal(size=(90, d)) + 4.3
        lw = rng.normal(size=90)
        f32 = lambda a: torch.tensor(a, dtype=torch.float32)
        for k in (Gaussian(0.4), Laplace(0.25), Matern(0.5, nu=1.5), Matern(0.5, nu=2.5), InverseMultiquadric(0.5, 1.0)):
            ref = kernel_sums(x, y, k, log_weights=lw, backend="dense")
            ls, sh = triton_sums(k, f32(x), f32(y), f32(lw), method=method, layout=layout)
            rel = np.abs(ls.numpy() - ref.log_total) / np.maximum(1.0, np.abs(ref.log_total))
            worst = max(worst, np.abs(sh.numpy() - ref.shift).max(), rel.max())
        ref = kernel_sums(x, x, Laplace(0.3), mask_self=True, backend="dense")
        ls, sh = triton_sums(Laplace(0.3), f32(x), f32(x), mask_self=True, method=method, layout=layout)
        worst = max(worst, np.abs(sh.numpy() - ref.shift).max())
    print("WORST", worst)
""")


def test_triton_kernel_under_interpreter_matches_dense():
    pytest.importorskip("triton")
    env = dict(os.environ, TRITON_INTERPRET="1")
    res = subprocess.run([sys.executable, "-c", TRITON_SCRIPT], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    worst = float(res.stdout.split("WORST")[-1])
    # float32 kernel (see _tol): logits ~eps32 * 60, coordinates ~eps32 * 45 -> ~1e-5 (log_total
    # relative to max(1, |log_total|): far rows have |logit| ~ 1e4)
    assert worst < 3e-4, worst


def test_triton_refuses_sets_beyond_32_bit_offsets():
    pytest.importorskip("triton")
    from driftlab.engine._triton import fits, triton_sums

    # offsets row * BLOCK_D + k must stay below 2^31 (BLOCK_D = 16 for d <= 7, 32 for d = 16..31)
    assert fits(2**27 - 1, 10, 2) and not fits(10, 2**27, 2) and not fits(2**26, 10, 16)
    big = torch.zeros((1, 2)).expand(2**27, 2)  # no memory behind it: refused before any copy
    with pytest.raises(ValueError, match="2\\^31"):
        triton_sums(Gaussian(1.0), big[:4], big)


@pytest.mark.gpu
@pytest.mark.parametrize(("method", "layout"), [("fma", "row"), ("fma", "coord"), ("dot", "row"),
                                                ("dot_fixed", "row"), ("dot_fixed", "coord")])
@pytest.mark.parametrize("kname", list(KERNELS))
@pytest.mark.parametrize("d", [1, 3, 8])
def test_triton_on_cuda_matches_dense(kname, method, layout, d):
    pytest.importorskip("triton")
    from driftlab.engine import _triton

    # fixed blocks (autotuning compiles every configuration: tested once, below)
    def triton_sums(*a, **k):
        return _triton.triton_sums(*a, block_m=64, block_n=32, layout=layout, **k)

    x, y = _data(10 + d, 500, 700, d, offset=2.0)
    x[:7] += 40.0  # far-field rows: the fixed-reference sums underflow there and are redone online
    lw = np.random.default_rng(d).normal(size=700)
    cu = {"dtype": torch.float32, "device": "cuda"}
    for log_w in (None, lw):
        ref = kernel_sums(x, y, KERNELS[kname], log_weights=log_w, backend="dense")
        ls, sh = triton_sums(KERNELS[kname], torch.tensor(x, **cu), torch.tensor(y, **cu),
                             None if log_w is None else torch.tensor(log_w, **cu), method=method)
        # float32 kernel (see _tol): logits carry ~eps32 * |logit| (far rows: |logit| ~ 1e4, so
        # their log_total is compared relatively), coordinates ~eps32 * 45 -> shifts ~1e-5
        assert_close(sh.cpu().numpy(), ref.shift, atol=3e-4, what=f"triton cuda shift ({method})")
        assert_close(ls.cpu().numpy(), ref.log_total, rtol=1e-6, atol=3e-4, what=f"triton cuda log_total ({method})")
    ref = kernel_sums(x, x, KERNELS[kname], mask_self=True, backend="dense")
    ls, sh = triton_sums(KERNELS[kname], torch.tensor(x, **cu), torch.tensor(x, **cu), mask_self=True, method=method)
    assert_close(sh.cpu().numpy(), ref.shift, atol=3e-4, what=f"triton cuda mask_self shift ({method})")
    assert_close(ls.cpu().numpy(), ref.log_total, rtol=1e-6, atol=3e-4, what=f"triton cuda mask_self ({method})")


@pytest.mark.gpu
def test_sdpa_cuda_float64_raises_clearly():
    x = torch.zeros((4, 2), dtype=torch.float64, device="cuda")
    with pytest.raises(ValueError, match="float32"):
        kernel_sums(x, x + 1.0, Gaussian(1.0), backend="sdpa")
    assert select_backend(x, x, Gaussian(1.0), need_log_total=False) == "torch"


@pytest.mark.gpu
@pytest.mark.parametrize("d", [2, 8])
def test_triton_autotuned_launch_on_cuda(d):
    pytest.importorskip("triton")
    from driftlab.engine._triton import triton_sums

    x, y = _data(3, 3000, 2500, d)
    xc, yc = (torch.tensor(a, dtype=torch.float32, device="cuda") for a in (x, y))
    for kern in (Gaussian(0.4), Laplace(0.25)):
        ref = kernel_sums(x, y, kern, backend="dense")
        out = kernel_sums(xc, yc, kern, backend="triton")
        assert_close(out.shift.cpu().numpy(), ref.shift, atol=3e-4, what="autotuned triton shift")  # see _tol
        assert_close(out.log_total.cpu().numpy(), ref.log_total, atol=3e-4, what="autotuned triton log_total")
        for method, layout in (("fma", "coord"), ("dot_fixed", "row"), ("dot_fixed", "coord")):
            ls, sh = triton_sums(kern, xc, yc, method=method, layout=layout)
            what = f"autotuned triton {method}/{layout}"
            assert_close(sh.cpu().numpy(), ref.shift, atol=3e-4, what=what + " shift")
            assert_close(ls.cpu().numpy(), ref.log_total, atol=3e-4, what=what + " log_total")


def _compiler_works() -> bool:
    import shutil

    return shutil.which("cc") is not None or shutil.which("gcc") is not None


@pytest.mark.skipif(not _compiler_works(), reason="backend='compiled' needs Inductor's C++ compiler")
@pytest.mark.parametrize("kname", ["gaussian", "laplace"])
def test_compiled_backend_matches_dense(kname):
    # float64 through the fused tiles: the same sums as the dense reference up to summation
    # order (~1e-13 for sums of ~1e3 O(1) terms; 1e-10 leaves margin, see _tol); far rows
    # (x + 40) underflow the fixed reference and go through the eager online fallback.
    kern = KERNELS[kname]
    x, y = _data(5, 300, 400, 2)
    x[:3] += 40.0
    lw = np.random.default_rng(2).normal(size=400)
    for log_w in (None, lw):
        ref = kernel_sums(x, y, kern, log_weights=log_w, backend="dense")
        out = kernel_sums(torch.tensor(x), torch.tensor(y), kern, backend="compiled", tile_rows=128, tile_cols=256,
                          log_weights=None if log_w is None else torch.tensor(log_w))
        assert_close(out.shift.numpy(), ref.shift, atol=1e-10, what="compiled shift")
        assert_close(out.log_total.numpy(), ref.log_total, atol=1e-10, rtol=1e-13, what="compiled log_total")
    ref = kernel_sums(x, x, kern, mask_self=True, backend="dense")
    out = kernel_sums(torch.tensor(x), torch.tensor(x), kern, mask_self=True, backend="compiled", tile_rows=128,
                      tile_cols=256)
    assert_close(out.shift.numpy(), ref.shift, atol=1e-10, what="compiled mask_self shift")
    with pytest.raises(ValueError, match="compiled"):
        kernel_sums(torch.tensor(x), torch.tensor(y), Matern(0.5, nu=1.5), backend="compiled")
