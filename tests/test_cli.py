"""The command line: --version, doctor, repro (listing, a quick figure, byte-stability)."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from driftlab import __version__
from driftlab.cli import main


def test_version():
    res = CliRunner().invoke(main, ["--version"])
    assert res.exit_code == 0 and __version__ in res.output


def test_import_and_version_do_not_import_torch():
    code = "import sys, driftlab.cli, driftlab.fields, driftlab.kernels; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stdout


def test_doctor_json_reports_backends():
    res = CliRunner().invoke(main, ["doctor", "--format", "json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["backends"]["cpu/float64"] == "ok" and report["backends"]["cpu/float32"] == "ok"


def test_repro_list_and_unknown_name(tmp_path):
    res = CliRunner().invoke(main, ["repro", "--list"])
    assert res.exit_code == 0 and "foundation-kernels" in res.output and "foundation-bias" in res.output
    res = CliRunner().invoke(main, ["repro", "no-such-figure", "--out", str(tmp_path)])
    assert res.exit_code != 0 and "unknown figure" in res.output


def test_repro_quick_figure_is_byte_stable(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        res = CliRunner().invoke(main, ["repro", "foundation-float32", "--quick", "--out", str(out)])
        assert res.exit_code == 0, res.output
    pdf_a, pdf_b = (a / "foundation_float32.pdf").read_bytes(), (b / "foundation_float32.pdf").read_bytes()
    assert pdf_a == pdf_b and b"CreationDate" not in pdf_a
    assert (a / "foundation_float32.json").read_bytes() == (b / "foundation_float32.json").read_bytes()


def test_write_json_is_strict_json_for_numpy_nonfinite_scalars(tmp_path):
    """numpy scalars are float subclasses: NaN/inf used to bypass the null/"inf" mapping and
    come out as the non-standard tokens NaN / Infinity."""
    import json
    import stat

    import numpy as np

    from driftlab._io import write_json

    data = {"a": np.float64("nan"), "b": np.float32("-inf"), "c": np.float64(0.5)}
    path = write_json(tmp_path / "x.json", data)
    text = path.read_text()
    assert json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c))) == {
        "a": None, "b": "-inf", "c": 0.5}
    assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044  # group/other readable


def test_without_timings_drops_wall_clock_keys_at_any_depth():
    from driftlab._io import without_timings

    data = {"rows": [{"t": 1.0, "seconds": 3.2}, {"elapsed_s": 1, "x": (2, {"wall_s": 9, "y": 3})}],
            "seconds": 1}
    assert without_timings(data) == {"rows": [{"t": 1.0}, {"x": [2, {"y": 3}]}]}
