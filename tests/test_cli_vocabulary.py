"""One command-line vocabulary: every result in ``--format table|csv|json|markdown``, tables
that fit 80 columns, ``--scale`` and its aliases, one default for ``--nu``, summaries always.

Every invocation is tiny (a few wave numbers, a handful of particles or training steps, one
fast claim); the Müller–Brown and alanine sweeps are replaced by a recorded result of the
same shape (their real quick runs are the slow tests of test_spacetime_paths / test_cli_alanine).
"""

from __future__ import annotations

import csv
import io
import json
import math

import click
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from driftlab.cli import SUBCOMMANDS, main
from driftlab.cli._render import FORMATS, Report, render, wrap_text

WIDTH = 80

_CHECK_IMPL = """
from driftlab.fields import batch_drift
from driftlab.kernels import Laplace

def good(x, yp, yn, t):
    return batch_drift(x, yp, yn, Laplace(t), method="alg2", mask_self=yn is x)
"""


def _mb_result() -> dict:
    """A Müller–Brown sweep result of run_sweep's shape (two methods, one with no chain reaching B)."""
    row = {"kT": 10.0, "lam_end": 4.6, "budget": 640, "method": "geodesic", "excess_kT_mean": 1.234567891234,
           "excess_kT_se": 0.1, "excess_kT_success_mean": 1.2, "excess_kT_success_se": 0.05, "success": 0.875,
           "fr_length": 12.5, "evals_per_chain": 640}
    row2 = {**row, "method": "straight (fixed noise)", "excess_kT_success_mean": math.nan,
            "excess_kT_success_se": math.nan, "success": 0.0}
    return {"bound": -40.66484, "saddle": [-0.82200, 0.62430], "rows": [row, row2],
            "config": {"kTs": [10.0], "lam_ends": [4.6], "budgets": [640], "seeds": [0], "n_chains": 8}}


def _alanine_result() -> dict:
    row = {"kT": 2.5, "budget": 4096, "method": "geodesic", "max_energy_mean": 56.1, "max_energy_se": 1.1,
           "max_energy_success_mean": 55.0, "max_energy_success_se": 1.0, "success": 1.0, "n_chains": 8,
           "fr_length": 3.2, "evals_per_chain": 4096}
    return {"bound": {"grid": 36.33, "mep_max": 36.34, "saddle_node": [0.1, 0.2]}, "mep": [[0.0, 0.0]],
            "published": {"x": [1.0]}, "endpoints": {"a": [0.0, 1.0], "b": [1.0, 0.0], "lam_end": 4.0},
            "config": {"kTs": [2.5]}, "rows": [row]}


@pytest.fixture
def stub_sweeps(monkeypatch):
    from driftlab.spacetime import alanine, paths

    monkeypatch.setattr(paths, "run_sweep", lambda **kw: _mb_result())
    monkeypatch.setattr(alanine, "run_alanine", lambda **kw: _alanine_result())


@pytest.fixture
def check_target(tmp_path, monkeypatch):
    (tmp_path / "vocab_check_impl.py").write_text(_CHECK_IMPL)
    monkeypatch.chdir(tmp_path)
    return "vocab_check_impl:good"


#: every command that prints a result, as a tiny invocation (without --format); "{out}" is a fresh folder
COMMANDS: dict[str, list[str]] = {
    "spectrum": ["spectrum", "--kernel", "laplace", "--scale", "0.5", "--k", "1:3"],
    "anneal": ["anneal", "--kmax", "4"],
    "kernels": ["kernels", "--k", "1,2"],
    "simulate": ["simulate", "--n", "16", "--steps", "2", "--kernel", "laplace", "--no-progress", "--threads", "1",
                 "--out", "{out}"],
    "train": ["train", "--data", "two-moons", "--field", "gaussian", "--scale", "0.3", "--batch", "32", "--hidden",
              "8", "--depth", "2", "--in-dim", "4", "--eval-every", "0", "--n-eval", "32", "--no-w2", "--threads",
              "1", "--quiet", "--steps", "2", "--out", "{out}"],
    "spacetime geodesic": ["spacetime", "geodesic", "--data", "gaussian", "--za=-0.5,4", "--zb=0.5,4", "--points",
                           "5,9", "--inits", "straight"],
    "spacetime diffed": ["spacetime", "diffed", "--data", "gaussian", "--a", "-0.5", "--b", "0.5", "--t-min", "0.3"],
    "spacetime paths": ["spacetime", "paths", "--quick"],
    "spacetime paths alanine": ["spacetime", "paths", "--potential", "alanine", "--quick"],
    "verify": ["verify", "--only", "d.alg2.antisymmetry"],
    "doctor": ["doctor"],
    "check": ["check", "{target}", "--convention", "alg2", "--checks", "parity"],
}


def _invoke(args, tmp_path, target="", env=None):
    out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
    args = [a.format(out=out, target=target) for a in args]
    return CliRunner(env={"COLUMNS": str(WIDTH), **(env or {})}).invoke(main, args)


@pytest.fixture
def run(tmp_path, stub_sweeps, check_target):
    def go(args, env=None):
        return _invoke(args, tmp_path, check_target, env)

    return go


def test_every_result_command_offers_the_four_formats():
    """Introspection: each subcommand that prints a result has --format with exactly FORMATS."""
    ctx = click.Context(main)
    missing = []
    for name in SUBCOMMANDS:
        cmd = main.get_command(ctx, name)
        if cmd is None:
            continue
        subs = cmd.commands.values() if isinstance(cmd, click.Group) else [cmd]
        for sub in subs:
            opt = next((p for p in sub.params if p.name == "fmt"), None)
            choices = list(getattr(opt.type, "choices", [])) if opt is not None else None
            if choices != list(FORMATS):
                missing.append((name, sub.name, choices))
    assert not missing, f"commands without --format {'|'.join(FORMATS)}: {missing}"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_json_parses(run, name):
    res = run(COMMANDS[name] + ["--format", "json"])
    assert res.exit_code == 0, f"{name}: exit {res.exit_code}\n{res.output}"
    data = json.loads(res.stdout)  # strict JSON: no NaN/Infinity tokens
    assert data, f"{name}: empty JSON {res.stdout!r}"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_csv_markdown_and_table(run, name, tmp_path):
    for fmt in ("csv", "markdown", "table"):
        # verify writes its markdown ledger to a file (--output, required with --only)
        to_file = name == "verify" and fmt == "markdown"
        extra = ["--output", str(tmp_path / "claims.md")] if to_file else []
        res = run(COMMANDS[name] + ["--format", fmt] + extra)
        assert res.exit_code == 0, f"{name} --format {fmt}: exit {res.exit_code}\n{res.output}"
        text = (tmp_path / "claims.md").read_text() if to_file else res.stdout
        assert text.strip(), f"{name} --format {fmt}: nothing printed"
        if fmt == "csv":
            rows = list(csv.reader(io.StringIO(text)))
            assert len(rows) >= 2 and all(len(r) == len(rows[0]) for r in rows), f"{name}: ragged CSV\n{text}"
        elif to_file:
            assert "d.alg2.antisymmetry" in text and "|---" in text, text
        elif fmt == "markdown":
            assert text.startswith("**driftlab"), f"{name}: markdown without its title\n{text}"
            if name not in ("simulate", "train", "spacetime diffed"):  # one-record summaries are lists
                assert "|---" in text.replace(":", ""), f"{name}: no markdown table\n{text}"
        else:
            assert text.startswith("driftlab"), f"{name}: table without a title line naming the command\n{text}"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_table_fits_80_columns(run, name):
    res = run(COMMANDS[name])
    assert res.exit_code == 0, res.output
    wide = [(len(ln), ln) for ln in res.stdout.splitlines() if len(ln) > WIDTH]
    assert not wide, f"{name}: lines over {WIDTH} columns at COLUMNS={WIDTH}: {wide}"


def test_verify_list_fits_80_columns_and_keeps_claim_ids_whole(run):
    res = run(["verify", "--list"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert max(len(ln) for ln in lines) <= WIDTH, max(lines, key=len)
    from driftlab.theory.ledger import CLAIMS

    firsts = {ln.split()[0] for ln in lines if ln.strip()}
    missing = [c.id for c in CLAIMS if c.id not in firsts]
    assert not missing, f"claim ids wrapped or missing in --list: {missing[:5]}"


@pytest.mark.parametrize("cmd", ["spectrum", "anneal", "kernels", "simulate"])
@pytest.mark.parametrize("alias", ["--bandwidth", "--sigma0", "--tau"])
def test_scale_aliases_give_identical_results(tmp_path, cmd, alias):
    base = {"spectrum": ["spectrum", "--kernel", "matern", "--k", "1:3"], "anneal": ["anneal", "--kmax", "4"],
            "kernels": ["kernels", "--k", "1,2"],
            "simulate": ["simulate", "--n", "8", "--steps", "1", "--no-progress", "--threads", "1", "--out", "{out}"]}
    a = _invoke(base[cmd] + ["--scale", "0.7", "--format", "json"], tmp_path)
    b = _invoke(base[cmd] + [alias, "0.7", "--format", "json"], tmp_path)
    assert a.exit_code == 0 and b.exit_code == 0, (a.output, b.output)
    ja, jb = json.loads(a.stdout), json.loads(b.stdout)
    if cmd == "simulate":  # the output folder differs by construction
        ja.pop("out"), jb.pop("out")
    assert ja == jb, f"{cmd}: --scale 0.7 and {alias} 0.7 differ:\n{ja}\n{jb}"


def test_train_scale_and_tau_are_the_same_option(tmp_path):
    args = COMMANDS["train"]
    a = _invoke(args + ["--format", "json"], tmp_path)
    b = _invoke([("--tau" if x == "--scale" else x) for x in args] + ["--format", "json"], tmp_path)
    assert a.exit_code == 0 and b.exit_code == 0, (a.output, b.output)
    ja, jb = json.loads(a.stdout), json.loads(b.stdout)
    for j in (ja, jb):
        j.pop("out"), j.pop("seconds")
    assert ja == jb, (ja, jb)


@pytest.mark.parametrize("name", ["spacetime geodesic", "spacetime diffed", "spacetime paths"])
def test_deprecated_json_flag_is_format_json(run, name):
    a, b = run(COMMANDS[name] + ["--json"]), run(COMMANDS[name] + ["--format", "json"])
    assert a.exit_code == 0 and a.stdout == b.stdout, (a.output, b.output)
    bad = run(COMMANDS[name] + ["--json", "--format", "csv"])
    assert bad.exit_code == 2 and "--json" in bad.output, bad.output


def test_nu_default_is_the_registry_default_everywhere(tmp_path):
    from driftlab.kernels import kernel_entry

    nu = kernel_entry("matern").shape["nu"]
    assert nu == 1.5
    side = json.loads(_invoke(["kernels", "--kernels", "matern", "--k", "1,2", "--format", "json"], tmp_path).stdout)
    one = json.loads(_invoke(["spectrum", "--kernel", "matern", "--k", "1,2", "--format", "json"], tmp_path).stdout)
    # the same float64 rate on both paths: bit-identical
    assert [r[f"matern-{nu:g}"] for r in side] == [r["rate"] for r in one], (side, one)


def test_simulate_no_progress_still_prints_the_summary(tmp_path):
    res = _invoke(COMMANDS["simulate"], tmp_path)
    assert res.exit_code == 0, res.output
    assert "step 2" in res.stdout and "resumed_from=0" in res.stdout and "kernel: laplace" in res.stdout, res.stdout


def test_headers_name_kernel_scale_dimension_and_units(tmp_path):
    out = _invoke(["spectrum", "--kernel", "laplace", "--scale", "0.5", "--dim", "2", "--k", "1"], tmp_path).stdout
    for needle in ("kernel: laplace, temperature tau = 0.5", "dimension: d = 2", "units:", "lambda_max"):
        assert needle in out, f"{needle!r} not in\n{out}"


def test_verify_table_has_statement_and_counting_summary(tmp_path):
    res = _invoke(["verify", "--only", "d.alg2.antisymmetry"], tmp_path)
    assert res.exit_code == 0, res.output
    assert "statement" in res.stdout and "swapping" in res.stdout, res.stdout
    assert "verified 1, refuted 0, inconclusive 0, error 0" in " ".join(res.stdout.split()), res.stdout


# ----- the renderer ---------------------------------------------------------------------------
_words = st.text(alphabet="abcdefghij._/- ", min_size=0, max_size=60)


@given(text=_words, width=st.integers(1, 40))
def test_wrap_text_fits_and_keeps_every_character(text, width):
    lines = wrap_text(text, width)
    assert all(len(ln) <= width for ln in lines), (text, width, lines)
    assert "".join("".join(lines).split()) == "".join(text.split()), (text, width, lines)


@given(rows=st.lists(st.fixed_dictionaries({"name": _words, "value": st.floats(allow_nan=True, allow_infinity=True),
                                            "long_column_name_here": _words}), min_size=1, max_size=5),
       width=st.integers(40, 120))
def test_rendered_table_fits_its_width_and_csv_round_trips(rows, width):
    rep = Report("title " * 12, rows, ["name", "value", "long_column_name_here"], header={"k": "v " * 50})
    text = render(rep, "table", width=width)
    assert max(len(ln) for ln in text.splitlines()) <= width, text
    back = list(csv.DictReader(io.StringIO(render(rep, "csv"))))
    for r, b in zip(rows, back):  # full precision: repr round-trips every finite float64
        v = r["value"]
        if math.isnan(v):
            assert b["value"] == "", b
        elif math.isinf(v):
            assert b["value"] == ("inf" if v > 0 else "-inf"), b
        else:
            assert float(b["value"]) == v, (v, b)


def test_markdown_and_json_of_a_report():
    rep = Report("t", [{"a": 1.0, "b": float("inf"), "c": float("nan"), "d": "x|y"}], header={"kernel": "g"},
                 notes=["done"])
    assert json.loads(render(rep, "json")) == [{"a": 1.0, "b": "inf", "c": None, "d": "x|y"}]
    md = render(rep, "markdown")
    assert "| 1 | inf | n/a | x\\|y |" in md and "- kernel: g" in md and md.endswith("done"), md
    with pytest.raises(ValueError, match="fmt must be one of"):
        render(rep, "xml")


def test_anneal_imq_beta_defaults_as_in_spectrum_and_kernels(tmp_path):
    """anneal's IMQ beta used to default to 0.5 (no spectrum in d = 1: beta must exceed d/2)."""
    a = _invoke(["anneal", "--kernel", "imq", "--kmax", "2", "--format", "json"], tmp_path)
    b = _invoke(["anneal", "--kernel", "imq", "--beta", "1.5", "--kmax", "2", "--format", "json"], tmp_path)
    assert a.exit_code == 0, a.output
    assert json.loads(a.stdout) == json.loads(b.stdout), (a.stdout, b.stdout)


@given(names=st.lists(st.text(alphabet="abcdefgh_", min_size=1, max_size=30), min_size=1, max_size=12, unique=True),
       width=st.integers(40, 100), data=st.data())
def test_any_table_fits_any_width_from_40(names, width, data):
    """Many long-named columns force the one-block-per-row layout; it fits too."""
    rows = [{n: data.draw(st.one_of(st.floats(), _words)) for n in names} for _ in range(2)]
    text = render(Report("t", rows, names), "table", width=width)
    assert max(len(ln) for ln in text.splitlines()) <= width, (width, text)
