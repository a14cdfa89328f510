"""Shared test configuration.

* Hypothesis profiles: ``ci`` (default; few examples, no deadline: CI has 2 noisy cores),
  ``dev`` and ``thorough`` (many examples; used by ``make test-slow``). Select with
  ``HYPOTHESIS_PROFILE=...``.
* ``backend`` fixture: runs a test on every array backend available here (numpy, torch on
  the CPU, torch on CUDA when present), float32 and float64 (POT/ott-jax style).
* Tests marked ``gpu`` are skipped without CUDA; ``slow`` tests are deselected by default
  (``-m 'not slow and not gpu'`` in pyproject) and run by ``make test-slow``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", max_examples=60, deadline=None, print_blob=True)
settings.register_profile(
    "thorough", max_examples=400, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        return False


def pytest_collection_modifyitems(config, items):
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def single_torch_thread():
    """One intra-op torch thread for a module: tiny test problems gain nothing from OpenMP,
    and on the shared 2-core CI box its barriers stall under load (results are identical)."""
    torch = pytest.importorskip("torch")
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@dataclass(frozen=True)
class Backend:
    """An array backend + dtype under test; ``asarray`` converts float64 numpy input."""

    name: str  # "numpy", "torch-cpu", "torch-cuda"
    dtype: str  # "float32" | "float64"

    @property
    def is_torch(self) -> bool:
        return self.name.startswith("torch")

    @property
    def device(self) -> str:
        return "cuda" if self.name == "torch-cuda" else "cpu"

    @property
    def eps(self) -> float:
        return float(np.finfo(self.dtype).eps)

    def asarray(self, x: Any):
        x = np.asarray(x, dtype=self.dtype)
        if self.is_torch:
            import torch

            return torch.as_tensor(x, device=self.device)
        return x

    def to_numpy(self, x: Any) -> np.ndarray:
        if self.is_torch:
            return x.detach().cpu().numpy().astype(np.float64)
        return np.asarray(x, dtype=np.float64)

    def check_type(self, out: Any) -> None:
        """Same type, dtype and device out as in."""
        if self.is_torch:
            import torch

            assert isinstance(out, torch.Tensor), f"expected a torch tensor, got {type(out)}"
            assert str(out.dtype) == f"torch.{self.dtype}", out.dtype
            assert out.device.type == self.device, out.device
        else:
            assert isinstance(out, np.ndarray), f"expected ndarray, got {type(out)}"
            assert out.dtype == np.dtype(self.dtype), out.dtype

    def __str__(self) -> str:
        return f"{self.name}-{self.dtype}"


_BACKENDS = [Backend("numpy", "float64"), Backend("numpy", "float32"),
             Backend("torch-cpu", "float64"), Backend("torch-cpu", "float32")]
_GPU_BACKENDS = [Backend("torch-cuda", "float64"), Backend("torch-cuda", "float32")]


@pytest.fixture(params=_BACKENDS + [pytest.param(b, marks=pytest.mark.gpu) for b in _GPU_BACKENDS], ids=str)
def backend(request) -> Backend:
    return request.param


@pytest.fixture(params=[b for b in _BACKENDS if b.dtype == "float64"]
                + [pytest.param(Backend("torch-cuda", "float64"), marks=pytest.mark.gpu)], ids=str)
def backend64(request) -> Backend:
    return request.param


def assert_close(actual, expected, *, rtol: float = 0.0, atol: float = 0.0, what: str = "", inputs: Any = None):
    """np.testing-style check whose message prints input, actual, expected and difference."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    diff = np.abs(a - e)
    bound = atol + rtol * np.abs(e)
    bad = ~(diff <= bound)
    if bad.any():
        i = np.unravel_index(np.argmax(np.where(bad, diff - bound, -np.inf)), a.shape)
        raise AssertionError(
            f"{what} mismatch at {tuple(int(j) for j in i)}: actual={a[i]!r} expected={e[i]!r} "
            f"diff={diff[i]:.3e} (rtol={rtol:g}, atol={atol:g}; max diff {diff.max():.3e}; "
            f"{int(bad.sum())}/{bad.size} entries out of tolerance)"
            + (f"\ninputs: {inputs}" if inputs is not None else "")
        )
