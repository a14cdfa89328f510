"""The package layout the architecture page promises: no subpackage imports another
subpackage's private module or name (top-level shared helpers excepted)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _private_imports(path: Path, own: str | None):
    bad = []
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "driftlab":
            names = [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.split(".")[0] == "driftlab"]
        for full in names:
            parts = full.split(".")[1:]
            if not parts:
                continue
            if parts[0].startswith("_"):  # a top-level shared helper: its own private names stay private
                rest = parts[1:]
            elif parts[0] == own:  # inside one subpackage everything is allowed
                continue
            else:
                rest = parts
            if any(p.startswith("_") and not p.startswith("__") for p in rest):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {full}")
    return bad


def test_no_private_imports_across_packages():
    bad = []
    for path in sorted((ROOT / "driftlab").rglob("*.py")):
        rel = path.relative_to(ROOT / "driftlab").parts
        own = rel[0] if len(rel) > 1 else None
        bad += _private_imports(path, own)
    for folder in ("analysis", "paper_repro"):
        for path in sorted((ROOT / folder).glob("*.py")):
            bad += _private_imports(path, None)
    assert not bad, "\n".join(bad)


def test_the_scanner_catches_a_private_import(tmp_path):
    # the check itself can fail: a module importing another package's private function
    f = ROOT / "analysis" / "_scan_probe_tmp.py"
    try:
        f.write_text("from driftlab.kernels._hankel import radial_fourier_derivative\n")
        assert _private_imports(f, None)
    finally:
        f.unlink()
