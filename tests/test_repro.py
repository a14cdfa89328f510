"""`driftlab repro`'s runner: claim ids and the command in every figure's JSON and PDF/PNG
metadata, a PNG beside each PDF, runtimes outside the figure data, quick runs kept out of the
committed figures/ and marked, a summary table, and script names that match their files.

Most tests drive a tiny stand-in script (a line plot and a JSON) so that they take well under a
second; one runs a real figure in its quick form. No numerical tolerances: the assertions are on
files, bytes and text.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from driftlab import repro as R
from driftlab.cli import main


def _fake_make(out_dir: Path, quick: bool = False, fail: bool = False, data=None) -> list[Path]:
    from driftlab._io import write_json
    from driftlab.plotting import figure, save_figure

    if fail:
        raise RuntimeError("boom")
    fig, ax = figure()
    ax[0, 0].plot([0, 1, 2], [0, 1, 4 if not quick else 3])
    out_dir = Path(out_dir)
    return [save_figure(fig, out_dir / "fake_fig.pdf"),
            write_json(out_dir / "fake_fig.json", {"y": [0, 1, 4]} if data is None else data)]


def _script(name: str, **kw) -> R.FigureScript:
    mod = types.ModuleType(f"fake_{name}")
    mod.make = lambda out_dir, quick=False: _fake_make(out_dir, quick, **kw)
    return R.FigureScript(name, f"title of {name}", Path(f"paper_repro/fig_{name.replace('-', '_')}.py"), mod)


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """A checkout whose figures/ is tmp_path/figures, with stand-in scripts."""
    figures = tmp_path / "figures"
    figures.mkdir()
    scripts = {"fake-fig": _script("fake-fig"), "broken-fig": _script("broken-fig", fail=True),
               "list-fig": _script("list-fig", data=[{"a": 1}, {"a": 2}])}
    monkeypatch.setattr(R, "discover", lambda root=None: scripts)
    monkeypatch.setattr(R, "default_figures_dir", lambda: figures)
    monkeypatch.setattr(R, "claims_by_figure", lambda: {"fake-fig": ["x.one", "x.two"], "list-fig": ["x.three"]})
    return figures


def test_metadata_png_and_runtimes_of_a_full_run(fake):
    lines: list[str] = []
    res = R.run(["fake-fig"], echo=lines.append)
    pdf, js, png = fake / "fake_fig.pdf", fake / "fake_fig.json", fake / "fake_fig.png"
    assert res["fake-fig"] == [pdf, js, png]
    meta = json.loads(js.read_text())["figure"]
    assert meta == {"name": "fake-fig", "title": "title of fake-fig", "claims": ["x.one", "x.two"],
                    "command": "driftlab repro fake-fig", "quick": False}, meta
    assert json.loads(js.read_text())["y"] == [0, 1, 4]  # the script's data untouched
    raw = pdf.read_bytes()
    assert b"/Subject (" in raw and b"x.one, x.two" in raw and b"driftlab repro fake-fig" in raw, raw[-600:]
    assert b"/Keywords (driftlab, fake-fig, x.one, x.two)" in raw and b"CreationDate" not in raw
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and b"x.one" in png.read_bytes()
    assert b"QUICK" not in raw
    times = json.loads((fake / R.RUNTIMES_FILE).read_text())["figures"]
    assert set(times) == {"fake-fig"} and times["fake-fig"]["quick"] is False and times["fake-fig"]["seconds"] >= 0
    assert "seconds" not in js.read_text()  # runtimes never go into the figure data
    table = "\n".join(lines)
    assert "figure" in table and "status" in table and "1/1 figures ok" in table, table


def test_outputs_are_byte_stable_with_metadata(fake, tmp_path):
    R.run(["fake-fig"], echo=lambda s: None)
    first = {p.name: p.read_bytes() for p in fake.glob("fake_fig.*")}
    R.run(["fake-fig"], echo=lambda s: None)
    second = {p.name: p.read_bytes() for p in fake.glob("fake_fig.*")}
    assert set(first) == {"fake_fig.pdf", "fake_fig.png", "fake_fig.json"} and first == second


def test_quick_goes_to_its_own_folder_marked(fake):
    committed = fake / "fake_fig.pdf"
    R.run(["fake-fig"], echo=lambda s: None)
    before = committed.read_bytes()
    R.run(["fake-fig"], quick=True, echo=lambda s: None)
    assert committed.read_bytes() == before  # the committed figure is not overwritten
    q = fake / R.QUICK_SUBDIR
    meta = json.loads((q / "fake_fig.json").read_text())["figure"]
    assert meta["quick"] is True and meta["command"] == "driftlab repro fake-fig --quick" and "QUICK" in meta["note"]
    raw = (q / "fake_fig.pdf").read_bytes()
    assert b"QUICK SMOKE RUN" in raw and b", quick)" in raw
    assert (q / "fake_fig.png").is_file() and (q / R.RUNTIMES_FILE).is_file()
    assert json.loads((fake / R.RUNTIMES_FILE).read_text())["figures"]["fake-fig"]["quick"] is False
    with pytest.raises(ValueError, match="committed figures"):
        R.run(["fake-fig"], out_dir=fake, quick=True, echo=lambda s: None)


def test_quick_folder_is_git_ignored():
    root = Path(__file__).resolve().parents[1]
    assert "/figures/quick/" in (root / ".gitignore").read_text().splitlines()


def test_a_failing_script_does_not_stop_the_others(fake):
    lines: list[str] = []
    with pytest.raises(R.FigureRunError, match="broken-fig: RuntimeError: boom") as info:
        R.run(["broken-fig", "fake-fig"], echo=lines.append)
    assert list(info.value.failed) == ["broken-fig"]
    assert (fake / "fake_fig.pdf").is_file()  # ran after the failure
    table = "\n".join(lines)
    assert "FAILED" in table and "1/2 figures ok" in table, table


def test_a_list_json_gets_its_metadata_as_rows(fake):
    R.run(["list-fig"], echo=lambda s: None)
    obj = json.loads((fake / "fake_fig.json").read_text())
    assert obj["rows"] == [{"a": 1}, {"a": 2}] and obj["figure"]["claims"] == ["x.three"]


def test_unknown_name(fake):
    with pytest.raises(R.UnknownFigureError, match="no-such"):
        R.run(["no-such"], echo=lambda s: None)


def test_cli_quick_into_committed_folder_is_a_usage_error(fake):
    r = CliRunner().invoke(main, ["repro", "fake-fig", "--quick", "--out", str(fake)])
    assert r.exit_code == 2 and "must not overwrite the committed figures" in r.output, r.output
    r = CliRunner().invoke(main, ["repro", "broken-fig"])
    assert r.exit_code == 1 and "boom" in r.output, r.output


def test_cli_list_shows_expected_times(fake):
    R.run(["fake-fig"], echo=lambda s: None)
    r = CliRunner(env={"COLUMNS": "80"}).invoke(main, ["repro", "--list"])
    assert r.exit_code == 0, r.output
    assert all(len(line) <= 80 for line in r.output.splitlines()), r.output
    row = next(line for line in r.output.splitlines() if line.startswith("fake-fig"))
    assert " s " in row and row.split()[3] == "?" and row.split()[4] == "2", row  # full time measured, 2 claims
    row = next(line for line in r.output.splitlines() if line.startswith("broken-fig"))
    assert row.split()[1:3] == ["?", "?"], row
    r = CliRunner().invoke(main, ["repro", "--list", "--format", "json"])
    assert r.exit_code == 0, r.output
    by_name = {row["figure"]: row for row in json.loads(r.stdout)}
    recorded = json.loads((fake / R.RUNTIMES_FILE).read_text())["figures"]["fake-fig"]["seconds"]
    assert by_name["fake-fig"]["full"] == recorded and by_name["fake-fig"]["claims"] == 2, by_name
    assert by_name["broken-fig"]["full"] is None and by_name["broken-fig"]["quick"] is None, by_name


def _runs(tmp_path):
    a = tmp_path / "fake_fig.pdf"
    return [R.FigureRun("fake-fig", 1.23456789, (a, a.with_suffix(".json"), a.with_suffix(".png"))),
            R.FigureRun("broken-fig", 0.5, (), "RuntimeError: boom\nsecond line")]


def test_summary_json_and_csv_carry_full_values(tmp_path):
    import csv
    import io

    runs = _runs(tmp_path)
    obj = json.loads(R.summary_table(runs, tmp_path, "json"))
    assert obj["ok"] == 1 and obj["total"] == 2 and obj["seconds"] == 1.23456789 + 0.5, obj
    first, second = obj["figures"]
    assert first["seconds"] == 1.23456789, first  # unrounded
    assert first["files"] == [str(p.resolve()) for p in runs[0].paths], first  # every file, absolute
    assert second["status"] == "FAILED" and second["error"] == "RuntimeError: boom\nsecond line", second
    rows = list(csv.DictReader(io.StringIO(R.summary_table(runs, tmp_path, "csv"))))
    assert [r["figure"] for r in rows] == ["fake-fig", "broken-fig"], rows
    assert float(rows[0]["seconds"]) == 1.23456789 and rows[0]["files"].split("; ") == first["files"], rows[0]
    table = R.summary_table(runs, tmp_path, "table", width=80)
    assert "1.2" in table and "1.23456789" not in table and "fake_fig.pdf" in table, table
    assert str(tmp_path.resolve()) in table and "1/2 figures ok" in table and "FAILED: broken-fig" in table, table
    assert all(len(line) <= 80 for line in table.splitlines()), table
    md = R.summary_table(runs, tmp_path, "markdown")
    assert "| figure |" in md and "| fake-fig | ok |" in md, md
    with pytest.raises(ValueError, match="fmt must be one of"):
        R.summary_table(runs, tmp_path, "yaml")


def test_run_refuses_an_unknown_format_before_running(fake):
    with pytest.raises(ValueError, match="fmt must be one of"):
        R.run(["fake-fig"], echo=lambda s: None, fmt="yaml")
    assert not (fake / "fake_fig.pdf").exists()


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_cli_machine_formats_keep_progress_off_stdout(fake, fmt):
    r = CliRunner().invoke(main, ["repro", "fake-fig", "--format", fmt])
    assert r.exit_code == 0, r.output
    assert "[1/1] fake-fig" in r.stderr and "[1/1]" not in r.stdout, (r.stdout, r.stderr)
    if fmt == "json":
        obj = json.loads(r.stdout)
        assert obj["ok"] == 1 and obj["figures"][0]["files"][0].endswith("fake_fig.pdf"), obj
    else:
        assert r.stdout.splitlines()[0] == "figure,status,seconds,files,error", r.stdout


def test_cli_table_and_markdown_formats(fake):
    r = CliRunner(env={"COLUMNS": "80"}).invoke(main, ["repro", "fake-fig"])
    assert r.exit_code == 0 and "[1/1] fake-fig" in r.stdout and "1/1 figures ok" in r.stdout, r.output
    r = CliRunner().invoke(main, ["repro", "fake-fig", "--format", "markdown"])
    assert r.exit_code == 0 and "| fake-fig | ok |" in r.stdout and "[1/1]" not in r.stdout, r.output


def test_cli_gallery_takes_no_format(fake):
    r = CliRunner().invoke(main, ["repro", "--gallery", "--format", "json"])
    assert r.exit_code == 2 and "--format is ignored by --gallery" in r.output, r.output


def test_script_names_must_match_their_files(tmp_path):
    (tmp_path / "paper_repro").mkdir()
    (tmp_path / "paper_repro" / "fig_good_one.py").write_text('NAME = "good-one"\ndef make(out_dir, quick=False):\n    return []\n')
    assert list(R.discover(tmp_path)) == ["good-one"]
    (tmp_path / "paper_repro" / "fig_bad_one.py").write_text('NAME = "other"\ndef make(out_dir, quick=False):\n    return []\n')
    with pytest.raises(RuntimeError, match="requires 'bad-one'"):
        R.discover(tmp_path)


def test_every_real_script_name_matches_its_file():
    for name, s in R.discover().items():
        assert s.path.name == "fig_" + name.replace("-", "_") + ".py", (name, s.path.name)


def test_a_real_quick_figure_end_to_end(tmp_path):
    out = tmp_path / "q"
    res = R.run(["foundation-float32"], out_dir=out, quick=True, echo=lambda s: None)
    assert sorted(p.name for p in res["foundation-float32"]) == [
        "foundation_float32.json", "foundation_float32.pdf", "foundation_float32.png"]
    meta = json.loads((out / "foundation_float32.json").read_text())["figure"]
    assert meta["claims"] == ["d.raw-form.far-field"] and meta["quick"] is True, meta
