"""`driftlab spectrum | anneal | kernels`: formats, values, errors, and no torch import."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys

import pytest
from click.testing import CliRunner

from driftlab.cli import main
from driftlab.cli.spectrum import parse_k
from driftlab.kernels import Gaussian, Laplace
from driftlab.spectral import rate
from tests.conftest import assert_close


def _invoke(*args):
    return CliRunner().invoke(main, list(args))


def _table_columns(output: str) -> list[str]:
    """The column names of a rendered table: the line above the first dashed rule."""
    lines = output.splitlines()
    rule = next(i for i, ln in enumerate(lines) if ln.startswith("-") and set(ln) <= {"-", " "})
    return lines[rule - 1].split()


def test_spectrum_json_keys_are_table_columns_and_values_match_library():
    res = _invoke("spectrum", "--kernel", "laplace", "--scale", "0.5", "--dim", "2", "--k", "1:100",
                  "--format", "json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert len(rows) == 100
    table = _invoke("spectrum", "--kernel", "laplace", "--scale", "0.5", "--dim", "2", "--k", "1:100")
    header = _table_columns(table.output)
    assert header == ["k", "rate", "timescale", "rate/peak"]
    assert all(list(r) == header for r in rows)
    ks = [r["k"] for r in rows]
    # JSON carries full float64 repr: exact equality with the library call.
    assert [r["rate"] for r in rows] == list(rate(Laplace(0.5), ks, 2))
    # lambda_max of Laplace in d dimensions, closed form 2 ((d+1)/(d+3))^((d+3)/2) (scale-free);
    # rtol 1e-14: two float64 divisions and a power, a few ulps
    lam_max = 2.0 * (3.0 / 5.0) ** 2.5
    assert_close([r["rate/peak"] for r in rows], [r["rate"] / lam_max for r in rows], rtol=1e-14,
                 what="rate/peak vs the closed-form peak")
    assert all(r["rate/peak"] <= 1.0 for r in rows), max(r["rate/peak"] for r in rows)


def test_spectrum_rate_over_peak_does_not_depend_on_the_k_requested():
    """The old `ratio` column read 0.0134 or 0.0225 for the same k depending on --k."""
    a = json.loads(_invoke("spectrum", "--kernel", "laplace", "--k", "1:4", "--format", "json").output)
    b = json.loads(_invoke("spectrum", "--kernel", "laplace", "--k", "4,64", "--format", "json").output)
    row_a, row_b = a[-1], b[0]
    assert row_a["k"] == row_b["k"] == 4.0
    # the same float64 computation on both sides: bit-identical
    assert row_a["rate/peak"] == row_b["rate/peak"], (row_a, row_b)


def test_spectrum_csv_and_infinite_timescale():
    res = _invoke("spectrum", "--k", "1,60", "--format", "csv")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.output)))
    assert list(rows[0]) == ["k", "rate", "timescale", "rate/peak"]
    assert float(rows[0]["rate"]) == float(rate(Gaussian(1.0), 1.0))
    assert rows[1]["timescale"] == "inf"  # e^{-1800} underflows: documented infinite time


def test_kernels_side_by_side():
    res = _invoke("kernels", "--dim", "3", "--k", "1,2", "--format", "json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    # nu defaults to 1.5 (the kernel registry's default), as in spectrum and anneal
    assert list(rows[0]) == ["k", "gaussian", "laplace", "companion", "matern-1.5", "imq-2.5"]
    assert rows[1]["laplace"] == float(rate(Laplace(1.0), 2.0, 3))
    table = _invoke("kernels", "--dim", "3", "--k", "1,2").output
    # the header says what --scale is for each column: tau for companion (length sqrt(3) tau), ell for matern
    assert "scale of companion: temperature tau = 1" in table and "scale of matern-1.5: length scale ell = 1" in table


def test_anneal_speedup_and_verdict():
    res = _invoke("anneal", "--kernel", "gaussian", "--scale", "2", "--rate", "0.1", "--kmax", "16", "--format", "json")
    rows = json.loads(res.output)
    for r in rows:  # speedup = T_tuned / T_annealed, the same float64 division
        assert r["speedup"] == r["T_tuned"] / r["T_annealed"], r
    table = _invoke("anneal", "--kernel", "gaussian", "--scale", "2", "--rate", "0.1", "--kmax", "16").output
    verdict = table.strip().splitlines()[-2:]
    assert " ".join(verdict).startswith("verdict: at K = 16, annealing") and "faster than the best fixed" in table, \
        verdict


def test_anneal_table_and_inadmissible_rate():
    res = _invoke("anneal", "--kernel", "gaussian", "--sigma0", "3", "--rate", "0.1", "--kmax", "16",
                  "--eps", "0.01", "--format", "json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["K"] for r in rows] == [1, 2, 4, 8, 16]
    # Gaussian, large K: T(2K) - T(K) -> log 2 / r (mode K dominates, e^{-s0^2K^2/2} ~ 0).
    assert_close(rows[-1]["T_annealed"] - rows[-2]["T_annealed"], math.log(2) / 0.1, rtol=1e-10,
                 what="doubling cost")
    bad = CliRunner().invoke(main, ["anneal", "--rate", "0.5", "--sigma0", "2", "--format", "json"])
    assert bad.exit_code == 0
    assert all(r["T_annealed"] == "inf" for r in json.loads(bad.stdout))
    assert "admissible bound" in bad.stderr


@pytest.mark.parametrize("args, needle", [
    (["spectrum", "--bandwidth", "-1"], "'--bandwidth' / '--sigma0' / '--tau': '-1' is not > 0"),
    (["spectrum", "--k", "0,1"], "k = 0"),
    (["spectrum", "--k", "a:b"], "cannot parse"),
    (["spectrum", "--dim", "0"], "x>=1"),
    (["spectrum", "--kernel", "imq", "--beta", "0.5"], "beta > dim/2"),
    (["spectrum", "--kernel", "wendland", "--method", "closed"], "no closed-form"),
    (["anneal", "--eps", "2"], "'--eps': '2' is not > 0 and < 1"),
    (["kernels", "--kernels", "foo"], "unknown name(s) 'foo'"),
])
def test_bad_input_gives_usage_error(args, needle):
    res = _invoke(*args)
    assert res.exit_code == 2
    assert needle in res.output


def test_imq_default_beta_is_integrable():
    res = _invoke("spectrum", "--kernel", "imq", "--dim", "3", "--k", "1", "--format", "json")
    assert res.exit_code == 0, res.output
    from driftlab.kernels import InverseMultiquadric

    assert json.loads(res.output)[0]["rate"] == float(rate(InverseMultiquadric(1.0, 2.5), 1.0, 3))


def test_parse_k():
    assert parse_k("1:4,8") == [1.0, 2.0, 3.0, 4.0, 8.0]
    assert parse_k("0.25:1:0.25") == [0.25, 0.5, 0.75, 1.0]


def test_table_commands_never_import_torch():
    code = ("import sys\nfrom click.testing import CliRunner\nfrom driftlab.cli import main\n"
            "for a in (['spectrum','--k','1:100'], ['kernels','--k','1:5'], ['anneal','--kmax','4']):\n"
            "    r = CliRunner().invoke(main, a); assert r.exit_code == 0, r.output\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
