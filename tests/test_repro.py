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
    r = CliRunner().invoke(main, ["repro", "--list"])
    assert r.exit_code == 0, r.output
    row = next(line for line in r.output.splitlines() if line.startswith("fake-fig"))
    assert " s " in row and row.split()[-4] == "2", row  # time measured, 2 claims
    row = next(line for line in r.output.splitlines() if line.startswith("broken-fig"))
    assert " ? " in row, row


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
