"""docs/gallery.md: generated from the figure scripts, the ledger, docs/claims.md and
figures/runtimes.json; the generator refuses a figure that shows no claim and a claim that
names a figure that does not exist. Assertions are on text (no numerical tolerances)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from driftlab import repro as R
from driftlab.cli import main
from driftlab.theory import ledger as L
from driftlab.theory._claims._record import Claim

ROOT = Path(__file__).resolve().parents[1]


def _claim(cid: str, figures: tuple[str, ...]) -> Claim:
    return Claim(cid, "test", "[T]", "a statement", "t", "w", lambda q: None, figures=figures)


def test_every_figure_shows_a_claim_and_every_cited_figure_exists():
    assert R.gallery_problems() == []


def test_problems_name_the_figure_without_claim_and_the_missing_figure():
    scripts = R.discover()
    cites = {c.id: tuple(c.figures) for c in L.CLAIMS}
    orphan = next(iter(scripts))
    pruned = {cid: tuple(f for f in figs if f != orphan) for cid, figs in cites.items()}
    pruned["x.ghost"] = ("no-such-figure",)
    problems = R.gallery_problems(scripts, pruned)
    assert problems == [f"figure {orphan!r} ({scripts[orphan].path.name}) is cited by no claim",
                        "claim 'x.ghost' names figure 'no-such-figure', which does not exist"], problems


def test_generator_fails_on_a_figure_without_claim(monkeypatch):
    keep = [c for c in L.CLAIMS if "spacetime-alanine" not in c.figures]
    monkeypatch.setattr(L, "CLAIMS", keep)
    with pytest.raises(R.GalleryError, match="'spacetime-alanine'.*cited by no claim"):
        R.render_gallery()


def test_generator_fails_on_a_claim_naming_a_missing_figure(monkeypatch):
    monkeypatch.setattr(L, "CLAIMS", [*L.CLAIMS, _claim("x.ghost", ("no-such-figure",))])
    with pytest.raises(R.GalleryError, match="'x.ghost' names figure 'no-such-figure'"):
        R.render_gallery()


def test_committed_gallery_is_up_to_date():
    want = R.render_gallery()
    got = (ROOT / "docs" / "gallery.md").read_text()
    assert got == want, "docs/gallery.md is stale: run `make gallery` (driftlab repro --gallery)"


def test_gallery_shows_each_figure_with_png_claims_command_and_runtime():
    text = (ROOT / "docs" / "gallery.md").read_text()
    cites = R.claims_by_figure()
    verdicts, _ = R.committed_verdicts()
    for name, script in R.discover().items():
        stem = name.replace("-", "_")
        section = text.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]
        assert f"![{name}](../figures/{stem}.png)" in section and (ROOT / "figures" / f"{stem}.png").is_file()
        assert script.title in section and f"`driftlab repro {name}`" in section and "- runtime: " in section
        for cid in cites[name]:
            v = verdicts.get(cid, ("not in claims.md",))[0]
            assert f"`{cid}` " in section and f"**{v}**" in section, (name, cid)


def test_committed_verdicts_reads_the_claims_table(tmp_path):
    md = tmp_path / "claims.md"
    md.write_text("Summary: 2 claims (tier `quick`).\n\n| claim | paper | statement | measured | tolerance | verdict "
                  "| expected | tier | figures |\n|---|\n| `a.one` | [T] | s \\| t | 1 | 2 | **verified** | verified | "
                  "quick | - |\n| `a.two` | [S] | s | 1 | 2 | **refuted** | refuted | quick | - |\n")
    assert R.committed_verdicts(md) == ({"a.one": ("verified", "verified"), "a.two": ("refuted", "refuted")}, "quick")


def test_cli_gallery(monkeypatch, tmp_path):
    out = tmp_path / "gallery.md"
    monkeypatch.setattr(R, "write_gallery", lambda path=None: out.write_text(R.render_gallery()) and out)
    r = CliRunner().invoke(main, ["repro", "--gallery"])
    assert r.exit_code == 0 and out.read_text().startswith("# Figure gallery"), r.output
    r = CliRunner().invoke(main, ["repro", "--gallery", "spacetime-alanine"])
    assert r.exit_code == 2 and "--gallery takes no figure NAMES" in r.output, r.output
    r = CliRunner().invoke(main, ["repro", "--gallery", "--quick"])
    assert r.exit_code == 2 and "--quick is ignored by --gallery" in r.output, r.output
    monkeypatch.setattr(L, "CLAIMS", [*L.CLAIMS, _claim("x.ghost", ("no-such-figure",))])
    monkeypatch.setattr(R, "write_gallery", lambda path=None: R.render_gallery())
    r = CliRunner().invoke(main, ["repro", "--gallery"])
    assert r.exit_code == 1 and "no-such-figure" in r.output, r.output
