"""The worked example of docs/conformance.md behaves as documented: the naive-exp joint field
fails exactly extreme-temperatures and far-field-float32, and the one-line fix passes every check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from driftlab.testing import check_drift

DOC = Path(__file__).resolve().parents[1] / "docs" / "conformance.md"

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the example divides 0 by 0 on purpose


def _example_source() -> str:
    text = DOC.read_text()
    section = text[text.index("## Worked example"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def _load(src: str):
    ns: dict = {}
    exec(compile(src, str(DOC), "exec"), ns)
    return ns["my_drift"]


def test_the_documented_wrong_implementation_fails_the_documented_checks():
    report = check_drift(_load(_example_source()), "joint")
    assert {r.id for r in report.failed} == {"extreme-temperatures", "far-field-float32"}, report.to_table()
    assert "FAIL (extreme-temperatures, far-field-float32)" in DOC.read_text()


def test_the_documented_fix_passes_every_check():
    src = _example_source()
    old = "k = np.exp(-np.linalg.norm(diff, axis=-1) / temperature)"
    assert old in src
    fixed = src.replace(old, "l = -np.linalg.norm(diff, axis=-1) / temperature\n"
                             "    k = np.exp(l - l.max(axis=1, keepdims=True))")
    report = check_drift(_load(fixed), "joint")
    assert report.passed, report.to_table()
