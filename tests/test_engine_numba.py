"""The fused numba CPU backend: its exp against mpmath, its sums against the dense float64
reference (random and far-field inputs, weights, self-mask, every code path), the automatic
choice, and the fallback to torch when numba is not installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import assert_close
from driftlab.engine import _numba as NB
from driftlab.engine import available_backends, get_backend, kernel_sums, select_backend
from driftlab.kernels import Gaussian, InverseMultiquadric, Laplace, Matern

needs_numba = pytest.mark.skipif(not NB.numba_importable(), reason="numba is not installed (driftlab[fast])")

KERNELS = {"gaussian": Gaussian(0.4), "laplace": Laplace(0.25), "matern12": Matern(0.3, nu=0.5)}


def _tol(dtype: str) -> float:
    # as tests/test_engine_backends.py: float64 sums of <= 10^3 O(1) terms carry ~1e-13
    # relative round-off (1e-10: margin); float32 logits carry ~eps32 |logit| (|logit| <= ~60
    # here), weights ~4e-6 relative, shifts of spread ~3 ~1e-5: 1e-4 bounds it with margin
    return 1e-10 if dtype == "float64" else 1e-4


def _data(seed, n, m, d, offset=0.0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) + offset, 1.2 * rng.normal(size=(m, d)) + 0.3 + offset


# ----- the exponential ---------------------------------------------------------------------

@needs_numba
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fast_exp_within_its_stated_error_against_mpmath(dtype):
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    floor = np.log(np.finfo(dtype).tiny) + 0.5
    rng = np.random.default_rng(1)
    # the whole clamped range [floor, 0], the ends, the reduction boundaries n ln2 +- ln2/2
    # and small arguments
    ln2 = np.log(2.0)
    edges = np.concatenate([k * ln2 + np.array([-0.5, 0.5]) * ln2 for k in range(-5, 1)])
    t = np.concatenate([rng.uniform(floor, 0.0, 1500), -np.abs(rng.normal(0.0, 1.0, 500)), [0.0, floor, -1e-30],
                        edges[(edges <= 0) & (edges >= floor)]]).astype(dtype)
    got = NB.fast_exp(t)
    assert got.dtype == t.dtype
    ref = np.array([float(mp.exp(mp.mpf(float(v)))) for v in t])
    rel = np.abs(got.astype(np.float64) - ref) / ref
    worst = int(np.argmax(rel))
    # the stated bound (measured 2.2e-16 / 1.2e-7, ~1 ulp); every value a normal number
    assert rel.max() <= NB.EXP_REL_ERROR[dtype], (
        f"fast_exp({t[worst]!r}) = {got[worst]!r}, mpmath {ref[worst]!r}, rel err {rel.max():.3e} "
        f"> {NB.EXP_REL_ERROR[dtype]:.1e}")
    assert np.all(got >= np.finfo(dtype).tiny)


@needs_numba
def test_fast_exp_rejects_other_input():
    with pytest.raises(TypeError, match="t must be"):
        NB.fast_exp(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="t must be"):
        NB.fast_exp(np.zeros(3, dtype=np.int64))


# ----- the sums against the dense float64 reference ---------------------------------------

@needs_numba
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kname", list(KERNELS))
# fused loops for d <= 8 (one compiled loop per d: the other widths are in the slow profile,
# each costs ~2 s of compilation on a cold cache); 11: the buffered loop for any d
@pytest.mark.parametrize("d", [2, 11, pytest.param(1, marks=pytest.mark.slow), pytest.param(3, marks=pytest.mark.slow),
                               pytest.param(8, marks=pytest.mark.slow)])
def test_numba_agrees_with_dense_reference(kname, d, dtype):
    kern = KERNELS[kname]
    x, y = _data(7 + d, 150, 230, d, offset=5.0)  # offset: centring must absorb it
    ref = kernel_sums(x, y, kern, backend="dense")
    out = kernel_sums(x.astype(dtype), y.astype(dtype), kern, backend="numba", tile_cols=61)  # 4 tiles
    tol = _tol(dtype) * 3.0
    assert out.shift.dtype == np.dtype(dtype) and out.log_total.dtype == np.dtype(dtype)
    assert_close(out.shift, ref.shift, atol=tol, what=f"numba shift {kname} d={d} {dtype}")
    assert_close(out.log_total, ref.log_total, atol=tol, rtol=tol, what=f"numba log_total {kname} d={d} {dtype}")


@needs_numba
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("d", [2, 11])
def test_numba_masks_weights_and_far_field(dtype, d):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(90, d))
    lw = rng.normal(size=90)
    lw[::7] = -np.inf  # zero-weight references
    tol = 3 * _tol(dtype)
    kern = Laplace(0.3)
    ref = kernel_sums(x, x, kern, mask_self=True, log_weights=lw, backend="dense")
    xd = x.astype(dtype)
    out = kernel_sums(xd, xd, kern, mask_self=True, log_weights=lw.astype(dtype), backend="numba", tile_cols=23)
    assert_close(out.shift, ref.shift, atol=tol, what="masked weighted shift")
    assert_close(out.log_total, ref.log_total, atol=tol, what="masked weighted log_total")
    # far field: every distance ~1000 tau, exp(-dist/tau) underflows below the floor for
    # every pair; the fixed-reference pass leaves the sums at 0 and the exact two-pass
    # fallback gives the answer (relative error ~eps * 1000 in the logits)
    far = rng.normal(size=(40, d)) + np.r_[300.0, np.zeros(d - 1)]
    ref = kernel_sums(x, far, kern, backend="dense")
    out = kernel_sums(xd, far.astype(dtype), kern, backend="numba", tile_cols=16)
    assert np.isfinite(out.shift).all() and np.isfinite(out.log_total).all()
    # shift ~300 along the offset, O(1) across it: atol ~ eps |y - x| with margin on the small components
    assert_close(out.shift, ref.shift, rtol=1e-3 if dtype == "float32" else 1e-10,
                 atol=1e-3 if dtype == "float32" else 1e-10, what="far-field shift")
    assert_close(out.log_total, ref.log_total, rtol=1e-5 if dtype == "float32" else 1e-12, what="far-field log_total")


@needs_numba
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numba_mixed_near_and_far_rows_and_empty_rows(dtype):
    # half the queries see the references, half are far (fallback rows), one weight pattern
    # leaves no finite logit at all (every weight zero): empty rows, log_total -inf, shift 0
    rng = np.random.default_rng(5)
    y = rng.normal(size=(64, 2))
    x = np.concatenate([rng.normal(size=(20, 2)), rng.normal(size=(20, 2)) + 200.0])
    kern = Gaussian(0.5)
    ref = kernel_sums(x, y, kern, backend="dense")
    out = kernel_sums(x.astype(dtype), y.astype(dtype), kern, backend="numba")
    assert_close(out.shift, ref.shift, rtol=1e-3 if dtype == "float32" else 1e-10, atol=3 * _tol(dtype),
                 what="near+far shift")
    assert_close(out.log_total, ref.log_total, rtol=1e-5 if dtype == "float32" else 1e-12, what="near+far log_total")
    lw = np.full(64, -np.inf)
    ref = kernel_sums(x, y, kern, log_weights=lw, backend="dense")
    out = kernel_sums(x.astype(dtype), y.astype(dtype), kern, log_weights=lw.astype(dtype), backend="numba")
    assert np.all(np.isneginf(ref.log_total)) and np.all(np.isneginf(out.log_total)), out.log_total
    assert np.all(out.shift == 0.0), out.shift


@needs_numba
def test_numba_torch_input_lattice_torus_and_threads():
    torch = pytest.importorskip("torch")
    x, y = _data(11, 300, 4000, 2)  # 1.2e6 pairs: above PARALLEL_MIN_PAIRS, the row blocks run in a pool
    kern = Gaussian(0.4)
    ref = kernel_sums(x, y[:1000], kern, period=3.0, backend="dense")  # lattice torus: 9 images
    out = kernel_sums(torch.from_numpy(x), torch.from_numpy(y[:1000]), kern, period=3.0, backend="numba")
    assert isinstance(out.shift, torch.Tensor) and out.shift.dtype == torch.float64
    assert_close(out.shift.numpy(), ref.shift, atol=1e-10, what="lattice-torus shift")  # float64 round-off
    assert_close(out.log_total.numpy(), ref.log_total, atol=1e-10, what="lattice-torus log_total")
    # each row is summed by one block: the result does not depend on the thread count, bit for bit
    one = kernel_sums(x, y, kern, backend="numba", num_threads=1)
    two = kernel_sums(x, y, kern, backend="numba", num_threads=2)
    assert np.array_equal(one.shift, two.shift) and np.array_equal(one.log_total, two.log_total)


@needs_numba
@given(n=st.integers(1, 40), m=st.integers(1, 40), d=st.sampled_from([2, 11]), seed=st.integers(0, 2**16),
       scale=st.floats(0.05, 5.0), mask=st.booleans(), gauss=st.booleans())
def test_numba_matches_dense_on_random_small_problems(n, m, d, seed, scale, mask, gauss):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * 2.0
    y = x if mask else rng.normal(size=(m, d)) * 2.0
    lw = rng.normal(size=y.shape[0])
    kern = Gaussian(scale) if gauss else Laplace(scale)
    ref = kernel_sums(x, y, kern, log_weights=lw, mask_self=mask, backend="dense")
    out = kernel_sums(x, y, kern, log_weights=lw, mask_self=mask, backend="numba", tile_cols=7)
    # float64; |logit| up to ~ (8 sqrt(d) / 0.05)^2 ~ 2e5 for the Gaussian, so round-off
    # ~eps |logit| ~ 5e-11 in the log-weights: 1e-8 relative (atol for shifts ~ spread 10)
    # (n = m = 1 with the self-mask: no pair left, log_total -inf and shift 0 in both)
    assert np.array_equal(np.isneginf(out.log_total), np.isneginf(ref.log_total)), (out.log_total, ref.log_total)
    fin = np.isfinite(ref.log_total)
    assert_close(out.log_total[fin], ref.log_total[fin], rtol=1e-8, atol=1e-8, what="log_total", inputs=(n, m, d, seed))
    assert_close(out.shift, ref.shift, atol=1e-7, what="shift", inputs=(n, m, d, seed))


# ----- what it declines, the automatic choice, the fallback --------------------------------

@needs_numba
def test_numba_declines_what_it_does_not_compute():
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match="Gaussian and exponential"):
        kernel_sums(x, x + 1.0, InverseMultiquadric(1.0, 0.5), backend="numba")
    with pytest.raises(ValueError, match="Gaussian and exponential"):
        kernel_sums(x, x + 1.0, Matern(1.0, nu=1.5), backend="numba")
    with pytest.raises(ValueError, match="minimum_image"):  # the fused widths only (d <= 8)
        x9 = np.zeros((3, 9))
        kernel_sums(x9, x9 + 1.0, Gaussian(1.0), period=3.0, wrap="minimum_image", backend="numba")
    with pytest.raises(ValueError, match="expand"):
        kernel_sums(x, x + 1.0, Gaussian(1.0), distance="expand", backend="numba")


@needs_numba
def test_auto_picks_numba_on_the_cpu_above_the_dense_sizes():
    big = np.zeros((300, 300))[:, :2].copy()
    assert select_backend(big, big, Gaussian(1.0)) == "numba"
    assert select_backend(big, big, Laplace(1.0), mask_self=True, need_log_total=False) == "numba"
    assert select_backend(big, big, Gaussian(1.0), period=3.0) == "numba"  # lattice images: R^d sums
    assert select_backend(big, big, InverseMultiquadric(1.0, 0.5)) == "torch"
    assert select_backend(big, big, Gaussian(1.0), period=3.0, wrap="minimum_image") == "numba"
    big9 = np.zeros((300, 9))
    assert select_backend(big9, big9, Gaussian(1.0), period=3.0, wrap="minimum_image") == "torch"
    assert select_backend(big[:10], big[:10], Gaussian(1.0)) == "dense"


def test_without_numba_the_engine_falls_back_to_torch(monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setattr(NB, "_IMPORTABLE", False)
    big = np.random.default_rng(0).normal(size=(300, 2))
    assert "numba" not in available_backends(big)
    assert select_backend(big, big, Gaussian(1.0)) == "torch"
    with pytest.raises(ValueError, match="needs numba installed"):
        kernel_sums(big, big, Gaussian(1.0), backend="numba")
    out = kernel_sums(big, big, Gaussian(1.0))  # auto: the torch backend
    ref = kernel_sums(big[:200], big[:200], Gaussian(1.0), backend="dense")
    sub = kernel_sums(big[:200], big[:200], Gaussian(1.0))
    assert_close(sub.shift, ref.shift, atol=1e-10, what="torch fallback shift")  # float64 round-off
    assert out.shift.shape == (300, 2)
    assert get_backend("numba").unavailable() is not None


def test_importing_driftlab_does_not_import_numba():
    code = textwrap.dedent("""
        import sys
        import driftlab, driftlab.engine
        from driftlab.engine import kernel_sums, select_backend
        import numpy as np
        from driftlab.kernels import Gaussian
        select_backend(np.zeros((300, 2)), np.zeros((300, 2)), Gaussian(1.0))
        print("numba" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False", out.stdout


def _dense_minimum_image(kernel, x, y, lw, period, mask_self):
    """Independent float64 reference on the torus: nearest-image displacements, log-sum-exp."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    disp = y[None, :, :] - x[:, None, :]
    disp -= period * np.round(disp / period)
    r = np.sqrt((disp ** 2).sum(-1))
    logit = np.asarray(kernel.log_profile(r), np.float64) + (0.0 if lw is None else np.asarray(lw, np.float64)[None])
    if mask_self:
        np.fill_diagonal(logit, -np.inf)
    mx = logit.max(axis=1, keepdims=True)
    p = np.exp(logit - mx)
    s = p.sum(axis=1)
    return mx[:, 0] + np.log(s), (p[:, :, None] * disp).sum(1) / s[:, None]


@needs_numba
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kname", ["gaussian", "laplace"])
@pytest.mark.parametrize("d", [2, 3, pytest.param(1, marks=pytest.mark.slow), pytest.param(8, marks=pytest.mark.slow)])
def test_numba_minimum_image_agrees_with_dense_reference(kname, d, dtype):
    """wrap='minimum_image' on [0, 1)^d, weights and the self-mask, against the dense float64
    reference; the tiny-bandwidth case sends every row through the exact two-pass path (its
    kernel values underflow) and must give the nearest image's displacement. Tolerance _tol."""
    rng = np.random.default_rng(7 + d)
    x = rng.random((120, d)).astype(dtype)
    y = rng.random((150, d)).astype(dtype)
    lw = np.log(rng.uniform(0.1, 1.0, 150)).astype(dtype)
    kern = {"gaussian": Gaussian(0.15), "laplace": Laplace(0.08)}[kname]
    for xx, yy, w, mask in ((x, y, lw, False), (x, x, None, True)):
        got = kernel_sums(xx, yy, kern, log_weights=w, mask_self=mask, period=1.0, wrap="minimum_image",
                          backend="numba")
        want = _dense_minimum_image(kern, xx, yy, w, 1.0, mask)
        assert_close(got.log_total, want[0], rtol=_tol(dtype), atol=_tol(dtype), what="log_total, torus",
                     inputs=(kname, d, dtype, mask))
        assert_close(got.shift, want[1], rtol=_tol(dtype), atol=_tol(dtype), what="shift, torus",
                     inputs=(kname, d, dtype, mask))
    # far field on the torus: one query, references at nearest-image distance 0.3 and 0.4 across
    # the boundary, a bandwidth that underflows every kernel value (the exact row path)
    tiny = {"gaussian": Gaussian(1e-3), "laplace": Laplace(1e-4)}[kname]
    xq = np.full((1, d), 0.05, dtype=dtype)
    yr = np.full((2, d), 0.05, dtype=dtype)
    yr[0, 0], yr[1, 0] = 0.75, 0.65  # displacements -0.3 and -0.4 through the face x = 0
    got = kernel_sums(xq, yr, tiny, period=1.0, wrap="minimum_image", backend="numba")
    want_shift = np.zeros((1, d))
    want_shift[0, 0] = yr[0, 0] - 1.0 - xq[0, 0]  # the nearer image wins outright
    assert_close(got.shift, want_shift, rtol=0, atol=_tol(dtype), what="far-field shift, torus", inputs=(kname, d))
    assert np.isfinite(np.asarray(got.log_total)).all(), got.log_total
