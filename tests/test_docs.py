"""The documentation site's sources stay consistent: examples run, toctree entries exist."""

import re
import runpy
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
EXAMPLES = sorted((DOCS / "examples").glob("plot_*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    monkeypatch.chdir(script.parent)
    try:
        runpy.run_path(str(script), run_name="__main__")
        assert plt.get_fignums(), f"{script.name} drew no figure"
    finally:
        plt.close("all")


def test_every_toctree_entry_exists():
    text = (DOCS / "index.md").read_text()
    entries = [line.strip() for block in re.findall(r"```\{toctree\}(.*?)```", text, re.S)
               for line in block.splitlines() if line.strip() and not line.strip().startswith(":")]
    assert entries, "index.md has no toctree"
    missing = [e for e in entries if e != "auto_examples/index"
               and not any((DOCS / f"{e}{ext}").exists() for ext in (".md", ".rst"))]
    assert not missing, f"toctree entries without a page: {missing}"
