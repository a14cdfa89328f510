"""The pytest plugin (``pytest11`` entry point): another project's two-line conformance tests,
run in a fresh pytest process in a temporary directory."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

_TESTS = textwrap.dedent('''
    from driftlab.fields import batch_drift
    from driftlab.kernels import Laplace
    from driftlab.testing.pytest_plugin import conformance_tests

    def good(x, yp, yn, t):
        return batch_drift(x, yp, yn, Laplace(t), method="separate")

    def flipped(x, yp, yn, t):
        return -good(x, yp, yn, t)

    def test_good(drift_conformance):
        drift_conformance(good, "separate", checks=["parity", "rotation"])

    def test_flipped(drift_conformance):
        drift_conformance(flipped, "separate", checks=["parity", "rotation"])

    test_each = conformance_tests(flipped, "separate", checks=["parity", "rotation", "unbiased"])
''')


def _pytest(tmp_path, *args):
    (tmp_path / "test_user_drift.py").write_text(_TESTS)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:randomly", "-p", "no:cacheprovider",
                           str(tmp_path), *args], capture_output=True, text=True, cwd=tmp_path, timeout=300)


def test_the_entry_point_is_registered():
    from importlib.metadata import entry_points

    eps = [e for e in entry_points(group="pytest11") if e.value == "driftlab.testing.pytest_plugin"]
    if not eps:
        pytest.skip("driftlab is not installed with its entry points here (pip install -e .)")
    assert eps[0].name == "driftlab"


def test_fixture_and_per_check_tests_in_another_project(tmp_path):
    out = _pytest(tmp_path)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert "PASSED test_user_drift.py::test_good" in text, text
    assert "FAILED test_user_drift.py::test_flipped" in text and "drift conformance failed" in text, text
    # one test per check: the flipped sign fails parity, keeps rotation equivariance, and the
    # separate convention implies no unbiasedness (skipped with the reason)
    assert "FAILED test_user_drift.py::test_each[parity]" in text, text
    assert "PASSED test_user_drift.py::test_each[rotation]" in text, text
    assert "SKIPPED" in text and "biased" in text, text
