"""The engine's backend protocol: the registry, self-registered backends, the automatic choice
and the trusted (unvalidated) entry point.

Exact-equality tests compare the same computation reached two ways (validating vs trusted
entry point): they must agree bit for bit, so their tolerance is zero. Tests against the
dense reference state their round-off tolerance.
"""

from __future__ import annotations

import ast
import itertools
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import driftlab.engine as E
from conftest import assert_close
from driftlab.engine import (
    AUTO_DENSE_PAIRS,
    BACKENDS,
    Backend,
    SumsCall,
    available_backends,
    get_backend,
    kernel_sums,
    kernel_sums_trusted,
    register,
    registered,
    select_backend,
    unregister,
)
from driftlab.kernels import Gaussian, InverseMultiquadric, Laplace, Matern, Wendland

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.usefixtures("single_torch_thread")

ENGINE_DIR = Path(E.__file__).resolve().parent
BUILTIN = ("dense", "torch", "compiled", "sdpa", "triton", "numba")


# ----- registry contents ------------------------------------------------------------------

def test_builtin_backends_are_registered_in_order():
    names = tuple(be.name for be in registered())
    assert names == BUILTIN, names
    assert tuple(BACKENDS) == ("auto",) + BUILTIN, BACKENDS
    assert BACKENDS == ("auto",) + BUILTIN and repr(BACKENDS) == repr(("auto",) + BUILTIN)
    assert "auto" in BACKENDS and "sdpa" in BACKENDS and "cuda" not in BACKENDS and 3 not in BACKENDS
    for be in registered():
        assert isinstance(be, Backend) and get_backend(be.name) is be
        assert be.arrays in ("torch", "numpy"), be
    # dense is the only backend that handles the torus itself (the others get lattice images)
    assert [be.name for be in registered() if be.periodic] == ["dense"]
    # here: no CUDA device; dense, torch and sdpa need nothing beyond torch
    have = available_backends()
    assert {"dense", "torch", "sdpa"} <= set(have) and set(have) <= set(BUILTIN), have
    assert "dense" in available_backends(np.zeros((2, 2)))


def test_registry_refuses_bad_registrations_and_names():
    with pytest.raises(ValueError, match="backend must be one of"):
        get_backend("cuda")
    with pytest.raises(ValueError, match="already registered"):
        register(get_backend("dense").__class__())
    with pytest.raises(TypeError, match="Backend instance"):
        register("dense")  # type: ignore[arg-type]

    class Auto(Backend):
        name = "auto"

    class Bad(Backend):
        name = "bad-arrays"
        arrays = "jax"

    with pytest.raises(ValueError, match="other than 'auto'"):
        register(Auto())
    with pytest.raises(ValueError, match="arrays must be"):
        register(Bad())
    with pytest.raises(ValueError, match="no engine backend named"):
        unregister("never-registered")
    assert tuple(BACKENDS) == ("auto",) + BUILTIN


# ----- a toy backend registered by a test -------------------------------------------------

class ToyDense(Backend):
    """An independent dense implementation in R^d (numpy), with a configurable auto rank."""

    name = "toy"
    arrays = "numpy"
    periodic = False

    def __init__(self, rank=None, available=True):
        self.rank, self.ok, self.seen = rank, available, []

    def unavailable(self, x=None):
        return None if self.ok else "toy backend switched off"

    def unsupported(self, call):
        return "toy: no mask_self on a lattice torus" if (call.mask_self and call.lattice) else None

    def auto_rank(self, call):
        return self.rank

    def sums(self, call, x, y, log_weights):
        self.seen.append((x.shape, y.shape))
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        diff = y[None, :, :] - x[:, None, :]
        if call.minimum_image:
            diff = diff - call.period * np.round(diff / call.period)
        logk = np.asarray(call.kernel.log_profile(np.sqrt((diff * diff).sum(-1))), dtype=np.float64)
        if log_weights is not None:
            logk = logk + np.asarray(log_weights, dtype=np.float64)[None, :]
        if call.mask_self:
            logk[np.arange(x.shape[0]), np.arange(x.shape[0])] = -np.inf
        top = logk.max(axis=1, keepdims=True)
        w = np.exp(logk - top)
        tot = w.sum(axis=1)
        return np.log(tot) + top[:, 0], np.einsum("nm,nmd->nd", w, diff) / tot[:, None]


@pytest.fixture
def toy():
    be = ToyDense()
    register(be)
    try:
        yield be
    finally:
        if "toy" in BACKENDS:
            unregister("toy")


@pytest.mark.parametrize("torus", [None, "lattice", "minimum_image"])
@pytest.mark.parametrize("arr", ["numpy", "torch"])
def test_toy_backend_is_listed_selectable_and_agrees_with_dense(toy, torus, arr):
    rng = np.random.default_rng(3)
    x, y, lw = rng.uniform(0, 3, size=(9, 2)), rng.uniform(0, 3, size=(11, 2)), rng.normal(size=11)
    conv = (lambda a: a) if arr == "numpy" else torch.tensor
    kw = {} if torus is None else {"period": 3.0, "wrap": torus}
    assert "toy" in BACKENDS and "toy" in available_backends() and tuple(BACKENDS)[-1] == "toy"
    out = kernel_sums(conv(x), conv(y), Laplace(0.7), log_weights=conv(lw), backend="toy", **kw)
    ref = kernel_sums(x, y, Laplace(0.7), log_weights=lw, backend="dense", **kw)
    # both are exact float64 sums of <= 99 terms in another order: round-off ~1e-15 relative
    assert type(out.shift) is type(conv(x)) and type(out.log_total) is type(conv(x))
    assert_close(np.asarray(out.shift), ref.shift, atol=1e-12, what=f"toy shift {torus} {arr}")
    assert_close(np.asarray(out.log_total), ref.log_total, atol=1e-12, rtol=1e-13, what=f"toy log_total {torus}")
    # a non-periodic backend receives the lattice images: 3^2 copies of the 11 references
    assert toy.seen[-1] == ((9, 2), (99 if torus == "lattice" else 11, 2)), toy.seen
    # the self-mask (no torus)
    if torus is None:
        out = kernel_sums(conv(x), conv(x), Laplace(0.7), mask_self=True, backend="toy")
        ref = kernel_sums(x, x, Laplace(0.7), mask_self=True, backend="dense")
        assert_close(np.asarray(out.shift), ref.shift, atol=1e-12, what="toy mask_self shift")


def test_toy_backend_auto_rank_availability_and_removal(toy):
    x = np.zeros((4, 2))
    assert select_backend(x, x, Gaussian(1.0)) == "dense"  # rank None: never automatic
    toy.rank = 100.0
    assert select_backend(x, x, Gaussian(1.0)) == "toy"
    # unsupported calls fall back to the next rank; the reason is the error of an explicit call
    assert select_backend(x, x, Gaussian(1.0), mask_self=True, period=1.0) == "dense"
    with pytest.raises(ValueError, match="toy: no mask_self"):
        kernel_sums(x, x, Gaussian(1.0), mask_self=True, period=1.0, backend="toy")
    toy.ok = False
    assert "toy" not in available_backends() and "toy" in BACKENDS
    assert select_backend(x, x, Gaussian(1.0)) == "dense"
    with pytest.raises(ValueError, match="switched off"):
        kernel_sums(x, x, Gaussian(1.0), backend="toy")
    toy.ok = True
    assert unregister("toy") is toy
    assert "toy" not in BACKENDS and "toy" not in available_backends()
    assert select_backend(x, x, Gaussian(1.0)) == "dense"
    with pytest.raises(ValueError, match="backend must be one of"):
        kernel_sums(x, x, Gaussian(1.0), backend="toy")


# ----- the automatic choice ----------------------------------------------------------------

def _documented_rule(n, m, d, kernel, cuda, float32, need_log_total, mask_self, period, wrap, images, triton,
                     numba=None):
    """select_backend's rule as documented (and as it was coded before the registry); ``numba``:
    whether the numba backend is installed (None: as here)."""
    if numba is None:
        from driftlab.engine._numba import numba_importable

        numba = numba_importable()
    imgs = (2 * images + 1) ** d if (period is not None and wrap == "lattice") else 1
    gaussian = isinstance(kernel, Gaussian)
    min_image = period is not None and wrap == "minimum_image"
    sdpa_ok = gaussian and not need_log_total and not mask_self and not min_image and not (cuda and not float32)
    triton_kernel = isinstance(kernel, (Gaussian, Laplace, InverseMultiquadric)) or (
        isinstance(kernel, Matern) and kernel.nu in (0.5, 1.5, 2.5))
    if cuda:
        if triton and float32 and not (min_image and d > 8) and triton_kernel:
            return "triton"
        return "sdpa" if sdpa_ok else "torch"
    numba_kernel = isinstance(kernel, (Gaussian, Laplace)) or (isinstance(kernel, Matern) and kernel.nu == 0.5)
    if numba and numba_kernel and not (min_image and d > 8) and n * m * imgs > AUTO_DENSE_PAIRS:
        return "numba"
    if sdpa_ok and n * m * imgs > AUTO_DENSE_PAIRS:
        return "sdpa"
    return "dense" if n * m * imgs <= AUTO_DENSE_PAIRS else "torch"


KERNELS = {"gaussian": Gaussian(0.5), "laplace": Laplace(0.5), "matern25": Matern(nu=2.5, length_scale=0.5),
           "matern35": Matern(nu=3.5, length_scale=0.5), "imq": InverseMultiquadric(scale=1.0, beta=0.5), "wendland": Wendland(1.0)}
GEOMETRIES = [(None, "lattice", 1), (3.0, "lattice", 1), (3.0, "lattice", 0), (3.0, "minimum_image", 1)]


def test_auto_choice_on_the_cpu_follows_the_documented_rule():
    # sizes around the dense threshold 2^16 (256 x 256), with and without lattice images
    checked = 0
    for (n, m), d, kname, float32, nl, ms, (per, wrap, im) in itertools.product(
            [(10, 10), (256, 256), (257, 256), (100, 3000), (29, 29)], [1, 2], KERNELS, [False, True],
            [True, False], [False, True], GEOMETRIES):
        a = np.zeros((n, d), dtype=np.float32 if float32 else np.float64)
        b = np.zeros((m, d), dtype=a.dtype)
        for arr in (a, torch.from_numpy(a)):
            got = select_backend(arr, b if arr is a else torch.from_numpy(b), KERNELS[kname], need_log_total=nl,
                                 mask_self=ms, period=per, wrap=wrap, images=im)
            want = _documented_rule(n, m, d, KERNELS[kname], False, float32, nl, ms, per, wrap, im, False)
            assert got == want, (n, m, d, kname, float32, nl, ms, per, wrap, im, type(arr), got, want)
            checked += 1
    assert checked == 5 * 2 * 6 * 2 * 2 * 2 * 4 * 2


# hand-derived rows of the rule (n, m, d, kernel, geometry, need_log_total, mask_self) -> CPU choice
CPU_TABLE = [
    ((256, 256, 2, "gaussian", 0, False, False), "dense"),      # 2^16 pairs: still dense
    ((257, 256, 2, "gaussian", 0, False, False), "sdpa"),
    ((257, 256, 2, "gaussian", 0, True, False), "torch"),       # normaliser wanted: not sdpa
    ((257, 256, 2, "laplace", 0, False, False), "torch"),
    ((29, 29, 2, "gaussian", 1, False, False), "dense"),        # 29^2 * 9 = 7569 pairs
    ((100, 100, 2, "gaussian", 1, False, False), "sdpa"),       # 10^4 * 9 pairs, images counted
    ((100, 100, 2, "gaussian", 3, False, False), "dense"),      # minimum image: one copy, 10^4 pairs
    ((300, 300, 2, "gaussian", 3, False, False), "torch"),      # ... 9e4 pairs, and sdpa refuses it
    ((100, 100, 2, "gaussian", 2, False, False), "dense"),      # images=0: one copy, 10^4 pairs
]


# with numba installed, the fused numba loop takes the Gaussian and Laplace rows above the
# dense sizes (the minimum-image torus too, for d <= 8)
CPU_TABLE_NUMBA = {(257, 256, 2, "gaussian", 0, False, False): "numba", (257, 256, 2, "gaussian", 0, True, False): "numba",
                   (257, 256, 2, "laplace", 0, False, False): "numba", (100, 100, 2, "gaussian", 1, False, False): "numba",
                   (300, 300, 2, "gaussian", 3, False, False): "numba"}


@pytest.mark.parametrize(("case", "want"), CPU_TABLE)
def test_auto_choice_table_on_the_cpu(case, want):
    from driftlab.engine._numba import numba_importable

    if numba_importable():
        want = CPU_TABLE_NUMBA.get(case, want)
    n, m, d, kname, geo, nl, ms = case
    per, wrap, im = GEOMETRIES[geo]
    got = select_backend(np.zeros((n, d)), np.zeros((m, d)), KERNELS[kname], need_log_total=nl, mask_self=ms,
                         period=per, wrap=wrap, images=im)
    assert got == want, (case, got, want)


@pytest.mark.parametrize("triton_here", [False, True])
def test_auto_choice_on_cuda_follows_the_documented_rule(monkeypatch, triton_here):
    # no CUDA device here: ask the registry with a CUDA call description and triton's
    # availability switched by hand (its real check needs a CUDA tensor)
    triton_be = get_backend("triton")
    monkeypatch.setattr(type(triton_be), "unavailable", lambda self, x=None: None if triton_here else "off")
    for (n, m), d, kname, float32, nl, ms, (per, wrap, im) in itertools.product(
            [(10, 10), (300, 300)], [2, 3, 9], KERNELS, [False, True], [True, False], [False, True], GEOMETRIES):
        call = SumsCall(KERNELS[kname], n, m, d, "cuda", "float32" if float32 else "float64", True,
                        need_log_total=nl, mask_self=ms, period=per, wrap=wrap, images=im)
        got = E._registry.choose(call, None)
        want = _documented_rule(n, m, d, KERNELS[kname], True, float32, nl, ms, per, wrap, im, triton_here)
        assert got == want, (n, m, d, kname, float32, nl, ms, per, wrap, im, triton_here, got, want)
    # the triton kernels' 32-bit offsets (row * 16 < 2^31 at d = 2): a set too large goes to torch
    fits = SumsCall(Laplace(1.0), 10, 2**27 - 1, 2, "cuda", "float32", True)
    assert E._registry.choose(fits, None) == ("triton" if triton_here else "torch")
    too_big = SumsCall(Laplace(1.0), 10, 2**27, 2, "cuda", "float32", True)
    assert E._registry.choose(too_big, None) == "torch"


# ----- kernels reach the fast backends through their FastForm -----------------------------

def test_triton_profile_codes_from_fast_form():
    from driftlab.engine._triton_backend import kernel_code

    # closed forms: Gaussian -r^2/(2 s^2); Laplace and Matérn-1/2 -r/l; Matérn-3/2 and -5/2
    # (1 + z) e^-z and (1 + z + z^2/3) e^-z, z = sqrt(2 nu) r / l; IMQ -beta log(1 + r^2/c^2)
    cases = [
        (Gaussian(0.5), (0, 2.0, 0.0, 0.0, 0.0, 0.0)),
        (Laplace(0.25), (1, 4.0, 0.0, 0.0, 0.0, 0.0)),
        (Matern(nu=0.5, length_scale=0.5), (1, 2.0, 0.0, 0.0, 0.0, 0.0)),
        (Matern(nu=1.5, length_scale=0.5), (2, math.sqrt(3.0) / 0.5, 0.0, 1.0, 1.0, 0.0)),
        (Matern(nu=2.5, length_scale=0.5), (2, math.sqrt(5.0) / 0.5, 0.0, 1.0, 1.0, 1.0 / 3.0)),
        (InverseMultiquadric(scale=0.5, beta=1.5), (3, 4.0, 1.5, 0.0, 0.0, 0.0)),
    ]
    for kern, want in cases:
        got = kernel_code(kern)
        assert got is not None and got[0] == want[0], (kern, got, want)
        # rates by division / sqrt: within 2 ulp of the closed form
        assert_close(np.array(got[1:]), np.array(want[1:]), rtol=4e-16, what=f"kernel_code({kern})")
    for kern in (Matern(nu=3.5, length_scale=0.5), Matern(nu=1.2, length_scale=0.5), Wendland(1.0)):
        assert kernel_code(kern) is None, kern


def test_fused_and_attention_backends_read_the_fast_form():
    from driftlab.engine import _compiled

    for kern, ok in ((Gaussian(1.0), True), (Laplace(1.0), True), (Matern(nu=0.5, length_scale=1.0), True),
                     (Matern(nu=1.5, length_scale=1.0), False), (InverseMultiquadric(1.0), False), (Wendland(1.0), False)):
        assert _compiled.supported(kern) is ok, kern
        call = SumsCall(kern, 3, 3, 2, need_log_total=False)
        sdpa_reason = get_backend("sdpa").unsupported(call)
        assert (sdpa_reason is None) is isinstance(kern, Gaussian), (kern, sdpa_reason)


def _engine_sources():
    return sorted(ENGINE_DIR.glob("*.py"))


def test_engine_imports_no_private_name_of_another_package_and_reads_no_private_kernel_field():
    bad = []
    for path in _engine_sources():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("driftlab"):
                for alias in node.names:
                    parts = f"{node.module}.{alias.name}".split(".")[1:]
                    # the engine's own modules and the top-level shared modules are fine
                    if parts[0] == "engine" or parts[0] in ("_backend", "_validation", "_estimators"):
                        continue
                    if any(p.startswith("_") for p in parts):
                        bad.append(f"{path.name}:{node.lineno} from {node.module} import {alias.name}")
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and isinstance(node.value, ast.Name) and node.value.id in ("kernel", "kern", "k")):
                bad.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
                if any(isinstance(a, ast.Name) and a.id in ("Gaussian", "Laplace", "Matern", "InverseMultiquadric")
                       for a in ast.walk(node.args[1])):
                    bad.append(f"{path.name}:{node.lineno} isinstance on a kernel class")
    assert not bad, bad


def test_importing_the_engine_imports_neither_torch_nor_triton():
    code = ("import sys, driftlab.engine as E; assert len(E.registered()) >= 5; "
            "print('torch' in sys.modules, 'triton' in sys.modules, 'scipy' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["False", "False", "False"], res.stdout


# ----- the trusted entry point -------------------------------------------------------------

def _identical(actual, expected, what):
    """Same array type, dtype, device and bits (NaN/inf compared as values)."""
    assert type(actual) is type(expected), f"{what}: {type(actual)} != {type(expected)}"
    if actual is None:
        return
    if torch.is_tensor(actual):
        assert actual.dtype == expected.dtype and actual.device == expected.device, what
        a, e = actual.cpu().numpy(), expected.cpu().numpy()
    else:
        assert actual.dtype == expected.dtype, f"{what}: {actual.dtype} != {expected.dtype}"
        a, e = actual, expected
    if not np.array_equal(a, e, equal_nan=True):
        with np.errstate(invalid="ignore"):
            diff = np.abs(a.astype(np.float64) - e.astype(np.float64))
        raise AssertionError(f"{what}: not bit-identical; actual={a!r} expected={e!r} max diff={np.nanmax(diff):.3e}")


_KERNEL_ST = st.sampled_from([Gaussian(0.6), Laplace(0.4), Matern(nu=1.5, length_scale=0.7), InverseMultiquadric(scale=0.8, beta=1.0),
                              Wendland(1.2)])


@given(n=st.integers(1, 9), m=st.integers(1, 9), d=st.integers(1, 3), kernel=_KERNEL_ST,
       arr=st.sampled_from(["numpy64", "numpy32", "torch64", "torch32"]),
       backend=st.sampled_from(["auto", "dense", "torch", "sdpa"]), weights=st.booleans(),
       self_set=st.booleans(), geometry=st.sampled_from(GEOMETRIES + [(None, "lattice", 1)]),
       tiles=st.sampled_from([(None, None), (2, 3)]), seed=st.integers(0, 2**16))
def test_trusted_entry_equals_validating_entry(n, m, d, kernel, arr, backend, weights, self_set, geometry, tiles,
                                               seed):
    per, wrap, im = geometry
    rng = np.random.default_rng(seed)
    dt = np.float32 if arr.endswith("32") else np.float64
    x = rng.uniform(0.0, 3.0, size=(n, d)).astype(dt)
    y = x.copy() if self_set else rng.uniform(0.0, 3.0, size=(m, d)).astype(dt)
    lw = rng.normal(size=y.shape[0]).astype(dt) if weights else None
    if arr.startswith("torch"):
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        lw = None if lw is None else torch.from_numpy(lw)
    kw = dict(log_weights=lw, mask_self=self_set, period=per, wrap=wrap, images=im, backend=backend,
              tile_rows=tiles[0], tile_cols=tiles[1])
    sdpa_refuses = not isinstance(kernel, Gaussian) or self_set or (per is not None and wrap == "minimum_image")
    if backend == "sdpa" and sdpa_refuses:
        with pytest.raises(ValueError, match="sdpa"):
            kernel_sums(x, y, kernel, **kw)
        with pytest.raises(ValueError, match="sdpa"):
            kernel_sums_trusted(x, y, kernel, need_log_total=False, **kw)
        return
    ref = kernel_sums(x, y, kernel, **kw)
    got = kernel_sums_trusted(x, y, kernel, need_log_total=backend != "sdpa", **kw)
    what = f"{arr} {type(kernel).__name__} backend={backend} n={n} m={y.shape[0]} d={d} {geometry}"
    _identical(got.shift, ref.shift, what + " shift")
    _identical(got.log_total, ref.log_total, what + " log_total")


def test_trusted_entry_is_keyword_only_and_still_refuses_what_a_backend_cannot_do():
    x = np.zeros((3, 2))
    with pytest.raises(TypeError):
        kernel_sums_trusted(x, x, Gaussian(1.0), None)  # type: ignore[misc]
    with pytest.raises(ValueError, match="backend must be one of"):
        kernel_sums_trusted(x, x, Gaussian(1.0), backend="cuda")
    with pytest.raises(ValueError, match="Gaussian"):
        kernel_sums_trusted(x, x, Laplace(1.0), backend="sdpa", need_log_total=False)
    with pytest.raises(ValueError, match="mean shift only"):
        kernel_sums_trusted(x, x, Gaussian(1.0), backend="sdpa")  # need_log_total defaults to True
    if "triton" not in available_backends(x):
        with pytest.raises(ValueError, match="triton"):
            kernel_sums_trusted(x.astype(np.float32), x.astype(np.float32), Gaussian(1.0), backend="triton")
    # mean shift only: the automatic choice may take sdpa, which gives no normaliser
    big = np.random.default_rng(0).normal(size=(300, 2))
    out = kernel_sums_trusted(big, big + 0.5, Gaussian(1.0), need_log_total=False)
    ref = kernel_sums(big, big + 0.5, Gaussian(1.0), backend="dense")
    from driftlab.engine._numba import numba_importable

    # sdpa above 2^16 pairs on the CPU; the numba loop (with normaliser) ranks above it when installed
    assert (out.log_total is None) == (not numba_importable())
    # fused attention / the fused loop in float64 on centred data: round-off ~1e-15 on O(1) shifts
    assert_close(out.shift, ref.shift, atol=1e-12, what="auto (sdpa or numba) shift vs dense")
