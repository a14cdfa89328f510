"""pytest plugin (entry point ``pytest11: driftlab``): conformance checks in another project's tests.

Two lines in the other project, either a fixture::

    def test_my_drift(drift_conformance):
        drift_conformance(my_drift, "alg2")          # fails with the whole report if a check fails

or one test per check (each check is reported as its own test, ``test_my_drift[parity]``)::

    from driftlab.testing.pytest_plugin import conformance_tests
    test_my_drift = conformance_tests(my_drift, "alg2", dtype="float32")

Both take the arguments of :func:`driftlab.testing.check_drift`. The plugin defines no autouse
fixture and imports driftlab.testing (never torch) only when a test uses it, so it changes
nothing in a test run that does not ask for it.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

__all__ = ["conformance_tests", "drift_conformance"]


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "drift_conformance: a test that runs driftlab.testing.check_drift on a drift callable")


def _fail_text(report) -> str:
    return "drift conformance failed:\n" + report.to_table()


@pytest.fixture
def drift_conformance(request) -> Callable[..., Any]:
    """``drift_conformance(fn, convention, **check_drift_kwargs) -> ConformanceReport``; fails the
    test, printing every check, when one check fails. The report is attached to the test's
    ``user_properties`` as ``drift_conformance`` (JSON)."""

    def run(fn: Callable, convention: Any, **kwargs):
        from driftlab.testing import check_drift

        report = check_drift(fn, convention, **kwargs)
        request.node.user_properties.append(("drift_conformance", report.to_json(indent=None)))
        if not report.passed:
            pytest.fail(_fail_text(report), pytrace=False)
        return report

    return run


def conformance_tests(fn: Callable, convention: Any, **kwargs) -> Callable:
    """A test function parametrised over the checks of ``convention``: one pytest test per check.

    The suite runs once (on the first of these tests); each test asserts its own row and
    prints its measured value, tolerance and why on failure. Checks the convention does not
    imply are reported as skipped with the reason.
    """
    from driftlab.testing import CHECKS

    ids = list(kwargs.pop("checks", None) or CHECKS)
    cache: dict = {}

    @pytest.mark.drift_conformance
    @pytest.mark.parametrize("check_id", ids)
    def test_drift_conformance(check_id):
        from driftlab.testing import check_drift

        if "report" not in cache:
            cache["report"] = check_drift(fn, convention, checks=ids, **kwargs)
        report = cache["report"]
        if check_id in report.not_applicable:
            pytest.skip(f"{check_id}: {report.not_applicable[check_id]}")
        row = report[check_id]
        if not row.passed:
            pytest.fail(f"{row.id}: measured {row.measured!r}, tolerance {row.tolerance!r} ({row.why}); "
                        f"{row.message}", pytrace=False)

    return test_drift_conformance
