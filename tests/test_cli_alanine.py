"""``driftlab spacetime paths --potential alanine``."""

import json

import pytest
from click.testing import CliRunner

from driftlab.cli import main


@pytest.mark.parametrize("args,flag", [(["--lam-end", "3,4"], "--lam-end"), (["--quick", "--kT", "1"], "--kT")])
def test_alanine_paths_usage_errors(args, flag):
    res = CliRunner().invoke(main, ["spacetime", "paths", "--potential", "alanine", *args])
    assert res.exit_code == 2, res.output
    assert flag in res.output and "Traceback" not in res.output


@pytest.mark.slow
def test_alanine_paths_quick_json():
    res = CliRunner().invoke(main, ["spacetime", "paths", "--potential", "alanine", "--quick", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    # the bound two ways agree within one grid cell's energy variation (see test_spacetime_surfaces)
    assert abs(out["bound_grid"] - out["bound_mep"]) < 0.05
    methods = {r["method"] for r in out["rows"]}
    assert {"geodesic", "straight (fixed noise)", "MEP restraint", "shooting (TPS)"} <= methods
