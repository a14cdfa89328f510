"""``driftlab check``: exit 0 when every check passes, 1 when one fails, 2 on a usage error;
the JSON schema; module and file targets; adapters."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from driftlab.cli import main

_IMPL = textwrap.dedent('''
    import numpy as np
    from driftlab.fields import batch_drift
    from driftlab.kernels import Laplace

    def good(x, yp, yn, t):
        return batch_drift(x, yp, yn, Laplace(t), method="alg2", mask_self=yn is x)

    def flipped(x, yp, yn, t):
        return -good(x, yp, yn, t)

    def self_masked(x, yp, t):
        return good(x, yp, x, t)

    def boom(x, yp, yn, t):
        raise RuntimeError("kaboom")

    NOT_CALLABLE = 3
''')


@pytest.fixture
def impl(tmp_path, monkeypatch):
    path = tmp_path / "user_impl_for_check.py"
    path.write_text(_IMPL)
    monkeypatch.chdir(tmp_path)
    return path


def _run(*args):
    return CliRunner().invoke(main, ["check", *args])


def test_passing_target_exits_0_and_prints_the_table(impl):
    r = _run(f"{impl}:good", "--convention", "alg2", "--checks", "parity,rotation,types")
    assert r.exit_code == 0, r.output
    assert "parity" in r.output and r.output.strip().endswith("PASS")


def test_failing_target_exits_1_with_the_json_schema(impl):
    r = _run("user_impl_for_check:flipped", "--convention", "alg2", "--checks", "parity,translation",
             "--format", "json")
    assert r.exit_code == 1, r.output
    data = json.loads(r.output)
    assert set(data) == {"convention", "passed", "checks"} and data["passed"] is False
    rows = {c["id"]: c for c in data["checks"]}
    assert rows["parity"]["passed"] is False and rows["translation"]["passed"] is True
    for c in data["checks"]:
        assert {"id", "passed", "measured", "tolerance", "why"} <= set(c)


def test_a_raising_target_is_a_failed_check_not_a_crash(impl):
    r = _run(f"{impl}:boom", "--convention", "joint", "--checks", "parity")
    assert r.exit_code == 1, r.output
    assert "kaboom" in r.output and "Traceback" not in r.output


def test_self_masked_adapter_and_markdown(impl):
    r = _run(f"{impl}:self_masked", "--convention", "alg2", "--adapter", "self-masked", "--checks", "parity",
             "--format", "markdown")
    assert r.exit_code == 0, r.output
    assert "self_mask=True" in r.output and "| parity | yes |" in r.output


@pytest.mark.parametrize("args,needle", [
    (["{impl}:nope", "--convention", "joint"], "no attribute"),
    (["missing_file.py:good", "--convention", "joint"], "no such file"),
    (["no_such_module_xyz:good", "--convention", "joint"], "cannot import"),
    (["{impl}", "--convention", "joint"], "module:function"),
    (["{impl}:NOT_CALLABLE", "--convention", "joint"], "not a callable"),
    (["{impl}:good", "--convention", "bogus"], "unknown convention"),
    (["{impl}:good", "--convention", "joint", "--quick", "--full"], "exclusive"),
    (["{impl}:good", "--convention", "official", "--kernel", "gaussian"], "do not apply"),
    (["{impl}:good", "--convention", "joint", "--temperatures", "0.1"], "official only"),
    (["{impl}:good", "--convention", "official", "--temperatures", "0.1,-1"], "--temperatures"),
    (["{impl}:good", "--convention", "joint", "--checks", "parity,bogus"], "unknown name"),
    (["{impl}:good", "--convention", "gaussian-score", "--kernel", "laplace"], "Gaussian"),
    (["{impl}:good", "--convention", "official", "--adapter", "self-masked"], "self-masked"),
    (["{impl}:good"], "--convention"),
])
def test_usage_errors_exit_2_with_one_line(impl, args, needle):
    r = _run(*[a.format(impl=impl) for a in args])
    assert r.exit_code == 2, r.output
    assert needle in r.output, r.output
    assert "Traceback" not in r.output
