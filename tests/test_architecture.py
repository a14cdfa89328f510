"""The package layout the architecture page promises: no subpackage imports another
subpackage's private module or name (top-level shared helpers excepted), and the scripts
outside the package (analysis/, paper_repro/) use its public namespaces alone."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _private_imports(path: Path, own: str | None, outside: bool = False):
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
            if parts[0].startswith("_") and not outside:  # a top-level shared helper: its own private names stay private
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
            bad += _private_imports(path, None, outside=True)
    assert not bad, "\n".join(bad)


def test_the_scanner_catches_a_private_import(tmp_path):
    # the check itself can fail: a module importing another package's private function
    f = ROOT / "analysis" / "_scan_probe_tmp.py"
    try:
        f.write_text("from driftlab.kernels._hankel import radial_fourier_derivative\n")
        assert _private_imports(f, None)
        f.write_text("from driftlab._io import write_json\n")  # a shared helper: public driftlab.io outside
        assert _private_imports(f, None, outside=True) and not _private_imports(f, None)
    finally:
        f.unlink()


def test_the_package_never_imports_the_checkout_folders_directly():
    """``analysis/`` and ``paper_repro/`` are not installed: a module of driftlab that imports them
    by name works only when the working directory is the checkout (``driftlab verify --full`` from
    anywhere else failed with ModuleNotFoundError). They go through driftlab.repro.import_from_checkout."""
    bad = []
    for path in sorted((ROOT / "driftlab").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            mods = ([node.module] if isinstance(node, ast.ImportFrom) and node.module else
                    [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            bad += [f"{path.relative_to(ROOT)}:{node.lineno} imports {m}" for m in mods
                    if m.split(".")[0] in ("analysis", "paper_repro")]
    assert not bad, "\n".join(bad)


def test_import_from_checkout_works_from_any_directory(tmp_path):
    import subprocess
    import sys

    code = ("import sys; from driftlab.repro import import_from_checkout as f; "
            "m = f('analysis.training_official'); print(m.run_official.__module__)")
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "analysis.training_official", (out.stdout, out.stderr)
