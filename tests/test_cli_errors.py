"""Bad invocations of every subcommand: exit 2 (usage) or 1 (failure), one line, no traceback.

Every row fails before any long computation (option parsing, option combinations, the output
folder, the device), so the whole table runs in seconds. A few rows go through a real
``python -m driftlab`` subprocess to prove that nothing reaches stderr but the one line.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from driftlab.cli import main

# (arguments, exit code, text the single "Error:" line must contain -- the option it names)
# {file}: an existing regular file; {tmp}: a fresh folder.
ROWS = [
    # --- the group itself ------------------------------------------------------------------
    (["bogus"], 2, "No such command 'bogus'"),
    (["--bogus"], 2, "--bogus"),
    # --- doctor ----------------------------------------------------------------------------
    (["doctor", "--format", "xml"], 2, "'--format'"),
    (["doctor", "extra"], 2, "unexpected extra argument"),
    # --- repro -----------------------------------------------------------------------------
    (["repro", "no-such-figure", "--out", "{tmp}/r"], 2, "unknown figure"),
    (["repro", "--list", "extra"], 2, "--list takes no figure NAMES"),
    (["repro", "--list", "--quick"], 2, "--quick is ignored by --list"),
    (["repro", "--list", "--out", "{tmp}/r"], 2, "--out is ignored by --list"),
    (["repro", "foundation-float32", "--quick", "--out", "{file}"], 1, "--out"),
    (["repro", "foundation-float32", "--quick", "--out", "{file}/sub"], 1, "--out"),
    # --- verify ----------------------------------------------------------------------------
    (["verify", "--format", "xml"], 2, "'--format'"),
    (["verify", "--only", "no.such.claim"], 2, "unknown claim id"),
    (["verify", "--quick", "--full"], 2, "--quick and --full"),
    (["verify", "--list", "--only", "x"], 2, "--only is ignored by --list"),
    (["verify", "--list", "--format", "json"], 2, "--format is ignored by --list"),
    (["verify", "--format", "table", "--output", "{tmp}/v.txt"], 2, "--output is for --format json, csv or markdown"),
    (["verify", "--format", "markdown", "--only", "x"], 2, "--output"),
    (["verify", "--format", "json", "--output", "{tmp}"], 1, "--output"),
    (["verify", "--format", "json", "--output", "{file}/v.json"], 1, "--output"),
    # --- spectrum --------------------------------------------------------------------------
    (["spectrum", "--k", "1:inf"], 2, "'--k'"),
    (["spectrum", "--k", "inf"], 2, "'--k'"),
    (["spectrum", "--k", "nan"], 2, "'--k'"),
    (["spectrum", "--k", "0,1"], 2, "'--k'"),
    (["spectrum", "--k", "-1"], 2, "'--k'"),
    (["spectrum", "--k", "1:2:0"], 2, "'--k'"),
    (["spectrum", "--k", "1:1e9"], 2, "'--k'"),
    (["spectrum", "--k", ""], 2, "'--k'"),
    (["spectrum", "--k", "1::2"], 2, "'--k'"),
    (["spectrum", "--bandwidth", "0"], 2, "'--bandwidth'"),
    (["spectrum", "--bandwidth", "nan"], 2, "'--bandwidth'"),
    (["spectrum", "--bandwidth", "inf"], 2, "'--bandwidth'"),
    (["spectrum", "--bandwidth", "1e300", "--k", "1"], 2, "--bandwidth"),
    (["spectrum", "--kernel", "matern", "--nu", "0"], 2, "'--nu'"),
    (["spectrum", "--kernel", "gaussian", "--nu", "2"], 2, "--nu is ignored by --kernel gaussian"),
    (["spectrum", "--kernel", "laplace", "--beta", "2"], 2, "--beta is ignored by --kernel laplace"),
    (["spectrum", "--kernel", "imq", "--beta", "0.5"], 2, "beta > dim/2"),
    (["spectrum", "--kernel", "foo"], 2, "'--kernel'"),
    (["spectrum", "--dim", "0"], 2, "'--dim'"),
    (["spectrum", "--format", "xml"], 2, "'--format'"),
    # --- anneal ----------------------------------------------------------------------------
    (["anneal", "--sigma0", "0"], 2, "'--sigma0'"),
    (["anneal", "--sigma0", "nan"], 2, "'--sigma0'"),
    (["anneal", "--sigma0", "1e300"], 2, "--sigma0"),
    (["anneal", "--rate", "0"], 2, "'--rate'"),
    (["anneal", "--rate", "-inf"], 2, "'--rate'"),
    (["anneal", "--eps", "0"], 2, "'--eps'"),
    (["anneal", "--eps", "1"], 2, "'--eps'"),
    (["anneal", "--kmax", "0"], 2, "'--kmax'"),
    (["anneal", "--kmax", "100000000"], 2, "'--kmax'"),
    (["anneal", "--fixed-bandwidth", "0"], 2, "'--fixed-bandwidth'"),
    (["anneal", "--nu", "2"], 2, "--nu is ignored"),
    # --- kernels ---------------------------------------------------------------------------
    (["kernels", "--kernels", ""], 2, "'--kernels'"),
    (["kernels", "--kernels", ",,"], 2, "'--kernels'"),
    (["kernels", "--kernels", "gaussian,gaussian"], 2, "'--kernels'"),
    (["kernels", "--kernels", "foo"], 2, "'--kernels'"),
    (["kernels", "--kernels", "gaussian,laplace", "--beta", "2"], 2, "--beta is ignored"),
    (["kernels", "--kernels", "gaussian", "--nu", "1.5"], 2, "--nu is ignored"),
    (["kernels", "--nu", "nan"], 2, "'--nu'"),
    (["kernels", "--bandwidth", "-1"], 2, "'--bandwidth'"),
    (["kernels", "--k", "1:inf"], 2, "'--k'"),
    # --- simulate (every row fails before the first step) -----------------------------------
    (["simulate", "--steps", "1"], 2, "'--out'"),
    (["simulate", "--out", "{file}", "--n", "8", "--steps", "1"], 1, "--out"),
    (["simulate", "--out", "{file}/sub", "--n", "8", "--steps", "1"], 1, "--out"),
    (["simulate", "--out", "{tmp}/s", "--device", "bogus"], 2, "'--device'"),
    (["simulate", "--out", "{tmp}/s", "--device", ""], 2, "'--device'"),
    (["simulate", "--out", "{tmp}/s", "--threads", "0"], 2, "'--threads'"),
    (["simulate", "--out", "{tmp}/s", "--n", "0"], 2, "'--n'"),
    (["simulate", "--out", "{tmp}/s", "--m", "0"], 2, "'--m'"),
    (["simulate", "--out", "{tmp}/s", "--dim", "0"], 2, "'--dim'"),
    (["simulate", "--out", "{tmp}/s", "--seed", "-1"], 2, "'--seed'"),
    (["simulate", "--out", "{tmp}/s", "--scale", "0"], 2, "'--scale'"),
    (["simulate", "--out", "{tmp}/s", "--scale", "nan"], 2, "'--scale'"),
    (["simulate", "--out", "{tmp}/s", "--scale", "1e300"], 2, "--scale"),
    (["simulate", "--out", "{tmp}/s", "--step", "inf"], 2, "'--step'"),
    (["simulate", "--out", "{tmp}/s", "--steps", "-1"], 2, "'--steps'"),
    (["simulate", "--out", "{tmp}/s", "--period", "0"], 2, "'--period'"),
    (["simulate", "--out", "{tmp}/s", "--eps", "1"], 2, "'--eps'"),
    (["simulate", "--out", "{tmp}/s", "--observe-every", "0"], 2, "'--observe-every'"),
    (["simulate", "--out", "{tmp}/s", "--checkpoint-every", "-1"], 2, "'--checkpoint-every'"),
    (["simulate", "--out", "{tmp}/s", "--mode", "1.5"], 2, "'--mode'"),
    (["simulate", "--out", "{tmp}/s", "--mode", "a"], 2, "'--mode'"),
    (["simulate", "--out", "{tmp}/s", "--mode", "0"], 2, "--mode"),
    (["simulate", "--out", "{tmp}/s", "--mode", "1,2"], 2, "--mode"),
    (["simulate", "--out", "{tmp}/s", "--kernel", "foo"], 2, "unknown kernel"),
    (["simulate", "--out", "{tmp}/s", "--schedule", "bogus"], 2, "unknown schedule"),
    (["simulate", "--out", "{tmp}/s", "--rate", "1"], 2, "--rate is ignored by --schedule constant"),
    (["simulate", "--out", "{tmp}/s", "--s-min", "0.01"], 2, "--s-min is ignored"),
    (["simulate", "--out", "{tmp}/s", "--schedule", "exponential"], 2, "needs --rate"),
    (["simulate", "--out", "{tmp}/s", "--schedule", "linear"], 2, "needs --s1 and --duration"),
    (["simulate", "--out", "{tmp}/s", "--s1", "0.01"], 2, "--s1 is ignored"),
    (["simulate", "--out", "{tmp}/s", "--problem", "gmm", "--mode", "3"], 2, "--mode is ignored by --problem gmm"),
    (["simulate", "--out", "{tmp}/s", "--problem", "gmm", "--eps", "0.1"], 2, "--eps is ignored"),
    (["simulate", "--out", "{tmp}/s", "--problem", "gmm", "--wrap", "lattice"], 2, "--wrap is ignored"),
    (["simulate", "--out", "{tmp}/s", "--n", "10", "--layout", "grid", "--dim", "2"], 2, "--layout"),
    (["simulate", "--out", "{tmp}/s", "--backend", "compiled", "--kernel", "matern"], 2, "compiled"),
    (["simulate", "--out", "{tmp}/s", "--backend", "nope"], 2, "'--backend'"),
    # --- spacetime -------------------------------------------------------------------------
    (["spacetime", "bogus"], 2, "No such command 'bogus'"),
    (["spacetime", "geodesic", "--za", "0,1", "--zb", "1,1", "--schedule", "bogus"], 2, "'--schedule'"),
    (["spacetime", "geodesic", "--za", "0,1", "--zb", "1,1", "--points", "9,9"], 2, "'--points'"),
    (["spacetime", "geodesic", "--za", "0,1", "--zb", "1,1", "--points", "9.5,17"], 2, "'--points'"),
    (["spacetime", "geodesic", "--za", "0,1", "--zb", "1,1", "--points", "2"], 2, "'--points'"),
    (["spacetime", "geodesic", "--za", "0,1", "--zb", "1,1", "--inits", "bogus"], 2, "'--inits'"),
    (["spacetime", "geodesic", "--za", "0,1", "--zb", "1,1", "--inits", ""], 2, "'--inits'"),
    (["spacetime", "geodesic", "--za", "0,1", "--zb", "1,1", "--inits", "straight", "--lam-peak", "1"], 2,
     "--lam-peak is ignored"),
    (["spacetime", "geodesic", "--za", "0,1", "--zb", "1,1", "--lam-peak", "nan"], 2, "'--lam-peak'"),
    (["spacetime", "geodesic", "--za", "0,1", "--zb", "1,1,2"], 2, "--za and --zb"),
    (["spacetime", "geodesic", "--za", "0", "--zb", "1"], 2, "'--za'"),
    (["spacetime", "geodesic", "--za", "a,b", "--zb", "1,1"], 2, "'--za'"),
    (["spacetime", "geodesic", "--za", "nan,1", "--zb", "1,1"], 2, "'--za'"),
    (["spacetime", "geodesic", "--za", "0,0,1", "--zb", "1,1,1"], 2, "--data toy1d"),
    (["spacetime", "geodesic", "--za", "0,1e300", "--zb", "1,1", "--points", "5"], 1, "lambda"),
    (["spacetime", "geodesic", "--za", "0,2", "--zb", "1,0.5", "--coords", "xt", "--points", "5"], 1, "t must lie"),
    (["spacetime", "diffed", "--a", "0", "--b", "1", "--t-min", "0"], 2, "'--t-min'"),
    (["spacetime", "diffed", "--a", "0", "--b", "1", "--t-min", "1"], 2, "'--t-min'"),
    (["spacetime", "diffed", "--a", "0", "--b", "1", "--t-min", "nan"], 2, "'--t-min'"),
    (["spacetime", "diffed", "--a", "0", "--b", "1"], 2, "'--t-min'"),
    (["spacetime", "diffed", "--a", "0", "--b", "1", "--t-min", "0.5", "--schedule", "bogus"], 2, "'--schedule'"),
    (["spacetime", "diffed", "--a", "0,1", "--b", "1", "--t-min", "0.5", "--data", "gaussian"], 2, "--a and --b"),
    (["spacetime", "diffed", "--a", "x", "--b", "1", "--t-min", "0.5"], 2, "'--a'"),
    (["spacetime", "paths", "--kT", "0"], 2, "'--kT'"),
    (["spacetime", "paths", "--kT", "nan"], 2, "'--kT'"),
    (["spacetime", "paths", "--lam-end", "inf"], 2, "'--lam-end'"),
    (["spacetime", "paths", "--budget", "0"], 2, "'--budget'"),
    (["spacetime", "paths", "--budget", "10.5"], 2, "'--budget'"),
    (["spacetime", "paths", "--seeds", "-1"], 2, "'--seeds'"),
    (["spacetime", "paths", "--seeds", "0.5"], 2, "'--seeds'"),
    (["spacetime", "paths", "--seeds", "1,1"], 2, "'--seeds'"),
    (["spacetime", "paths", "--chains", "0"], 2, "'--chains'"),
    (["spacetime", "paths", "--quick", "--kT", "5"], 2, "--kT is ignored by --quick"),
    (["spacetime", "paths", "--quick", "--chains", "4"], 2, "--chains is ignored by --quick"),
    # --- train (only options that fail while parsing) ---------------------------------------
    (["train", "--data", "foo"], 2, "'--data'"),
    (["train", "--field", "foo"], 2, "'--field'"),
    (["train", "--method", "foo"], 2, "'--method'"),
    (["train", "--steps", "abc"], 2, "'--steps'"),
    (["train", "--dim", "3", "--out", "{tmp}/t"], 2, "--dim"),
    # --- check -----------------------------------------------------------------------------
    (["check", "--bogus"], 2, "--bogus"),
    (["check", "--checks", "nope"], 2, "'--checks'"),
]


def _is_noise(line: str) -> bool:
    """Progress bars (tqdm) and one-line library warnings are not error output."""
    return not line.strip() or "step/s" in line or "it/s" in line or "%|" in line or line.startswith("warning: ")


def _error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.replace("\r", "\n").splitlines() if not _is_noise(ln)]


def _fill(args, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    return [a.replace("{file}", str(afile)).replace("{tmp}", str(tmp_path)) for a in args]


def _row_id(row):
    return " ".join(row[0])[:70] or "(none)"


@pytest.mark.parametrize("args, code, needle", ROWS, ids=[_row_id(r) for r in ROWS])
def test_bad_invocation_fails_cleanly(args, code, needle, tmp_path, monkeypatch):
    monkeypatch.delenv("DRIFTLAB_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)  # nothing a row might create lands in the checkout
    argv = _fill(args, tmp_path)
    res = CliRunner().invoke(main, argv)
    shown = f"driftlab {' '.join(argv)}\nexit {res.exit_code}\nstdout: {res.stdout!r}\nstderr: {res.stderr!r}"
    assert res.exception is None or isinstance(res.exception, SystemExit), f"{shown}\n{res.exception!r}"
    assert res.exit_code == code, f"expected exit {code}\n{shown}"
    assert "Traceback" not in res.output and "Aborted!" not in res.output, shown
    lines = _error_lines(res.stderr)
    assert len(lines) == 1 and lines[0].startswith("Error: "), f"expected one 'Error:' line\n{shown}"
    assert needle in lines[0], f"expected {needle!r} in the message\n{shown}"
    assert res.stdout == "", f"nothing may be printed as a result\n{shown}"


def test_table_covers_every_subcommand():
    import click

    ctx = click.Context(main)
    covered = {r[0][0] for r in ROWS}
    missing = [c for c in main.list_commands(ctx) if c not in covered]
    assert not missing, f"subcommands without a bad-invocation row: {missing}"
    space = main.get_command(ctx, "spacetime")
    sub = {r[0][1] for r in ROWS if r[0][0] == "spacetime"}
    assert set(space.list_commands(ctx)) <= sub, (sorted(space.list_commands(ctx)), sorted(sub))
    assert len(ROWS) > 60, len(ROWS)


# ---------------------------------------------------------------------------------------------
# the central mechanism: library exceptions, interrupts, non-finite results, debug mode
# ---------------------------------------------------------------------------------------------
def _patch_spectrum(monkeypatch, fn):
    import driftlab.spectral.rates as rates

    monkeypatch.setattr(rates, "spectrum", fn)


@pytest.mark.parametrize("exc, code, needle", [
    (ValueError("k must be finite,\n got nan"), 1, "Error: k must be finite, got nan"),
    (RuntimeError("the solver did not converge"), 1, "Error: the solver did not converge"),
    (PermissionError(13, "Permission denied", "/x/y"), 1, "Error: Permission denied: /x/y"),
    (ZeroDivisionError("float division by zero"), 1, "internal error (ZeroDivisionError: float division by zero)"),
    (OverflowError(), 1, "internal error (OverflowError)"),
    (MemoryError(), 1, "out of memory"),
])
def test_library_exceptions_become_one_line(exc, code, needle, monkeypatch):
    # the work itself failing (here the DiffED computation) is exit 1, whatever the exception
    import driftlab.spacetime

    monkeypatch.delenv("DRIFTLAB_DEBUG", raising=False)

    def boom(*a, **k):
        raise exc

    monkeypatch.setattr(driftlab.spacetime, "diffusion_edit_distance", boom)
    res = CliRunner().invoke(main, ["spacetime", "diffed", "--a", "0", "--b", "1", "--t-min", "0.5"])
    assert res.exit_code == code and isinstance(res.exception, SystemExit), (res.exit_code, res.output)
    lines = _error_lines(res.stderr)
    assert len(lines) == 1 and needle in lines[0], (needle, res.stderr)
    assert "Traceback" not in res.output


def test_value_error_while_building_from_options_is_a_usage_error(monkeypatch):
    # spectrum's library call only evaluates the options: its ValueError rejects them (exit 2)
    def boom(*a, **k):
        raise ValueError("k must be finite, got nan")

    _patch_spectrum(monkeypatch, boom)
    res = CliRunner().invoke(main, ["spectrum", "--k", "1"])
    assert res.exit_code == 2, (res.exit_code, res.output)
    assert _error_lines(res.stderr) == ["Error: --k must be finite, got nan (see 'main spectrum --help')"], res.stderr


def test_keyboard_interrupt_is_one_line_and_exit_130(monkeypatch):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    _patch_spectrum(monkeypatch, interrupted)
    res = CliRunner().invoke(main, ["spectrum", "--k", "1"])
    assert res.exit_code == 130, (res.exit_code, res.output)
    assert res.stderr.strip() == "interrupted", repr(res.stderr)
    assert "Aborted!" not in res.output


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_result_fails_naming_the_quantity(bad, monkeypatch):
    _patch_spectrum(monkeypatch, lambda *a, **k: [{"k": 2.0, "rate": bad, "timescale": 1.0, "ratio": 1.0}])
    res = CliRunner().invoke(main, ["spectrum", "--k", "2"])
    assert res.exit_code == 1, (res.exit_code, res.output)
    lines = _error_lines(res.stderr)
    assert len(lines) == 1 and f"non-finite rate = {bad}" in lines[0] and "k=2" in lines[0], res.stderr
    assert res.stdout == "", res.stdout  # the NaN row is not printed


def test_documented_infinite_timescale_is_still_printed(monkeypatch):
    # rate underflowing to 0 -> timescale inf: the documented answer, not an error
    _patch_spectrum(monkeypatch, lambda *a, **k: [{"k": 60.0, "rate": 0.0, "timescale": math.inf, "ratio": 0.0}])
    res = CliRunner().invoke(main, ["spectrum", "--k", "60", "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[1] == "60.0,0.0,inf,0.0", res.stdout


def test_debug_env_lets_the_traceback_through(monkeypatch):
    def boom(*a, **k):
        raise ZeroDivisionError("x")

    _patch_spectrum(monkeypatch, boom)
    monkeypatch.setenv("DRIFTLAB_DEBUG", "1")
    res = CliRunner().invoke(main, ["spectrum", "--k", "1"])
    assert isinstance(res.exception, ZeroDivisionError), repr(res.exception)


def test_check_finite_walks_nested_results():
    from driftlab.cli._errors import NonFiniteResult, check_finite

    check_finite({"a": 1.0, "rows": [{"x": 2.0, "y": "n/a"}], "n": None}, what="t")  # all finite: no error
    check_finite([{"K": 1, "T": math.inf}], what="t", allow_inf=["T"])
    check_finite({"L": math.nan}, what="t", allow_nan=["L"])
    with pytest.raises(NonFiniteResult, match=r"t: non-finite y = nan at K=3"):
        check_finite([{"K": 3, "rows": [{"y": math.nan}]}], what="t", ident=["K"])
    with pytest.raises(NonFiniteResult, match=r"non-finite L = inf"):  # inf is not allowed where NaN is
        check_finite({"L": math.inf}, what="t", allow_nan=["L"])


@pytest.mark.parametrize("typ, text, expected", [
    ("int", "17,33,65", [17, 33, 65]),
    ("int", " 3 , 5 ", [3, 5]),
    ("float", "-1.5,2e3", [-1.5, 2000.0]),
])
def test_number_list_parses(typ, text, expected):
    from driftlab.cli._errors import NumberList

    assert NumberList(int if typ == "int" else float).convert(text, None, None) == expected


@pytest.mark.parametrize("kw, text, needle", [
    ({"kind": int}, "1e3", "not an integer"),
    ({"kind": int}, "9.0", "not an integer"),
    ({"kind": float}, "1,,2", "empty entry"),
    ({"kind": float}, "1,-inf", "not a finite number"),
    ({"kind": int, "min": 3}, "3,2", "not >= 3"),
    ({"kind": int, "increasing": True}, "5,5", "strictly increasing"),
    ({"kind": float, "min_len": 2}, "1", "at least 2"),
])
def test_number_list_refuses(kw, text, needle):
    import click

    from driftlab.cli._errors import NumberList

    with pytest.raises(click.BadParameter, match=needle):
        NumberList(**kw).convert(text, None, None)


@pytest.mark.parametrize("text, ok", [("0.5", True), ("1e-300", True), ("0", False), ("nan", False),
                                      ("inf", False), ("-1", False), ("x", False)])
def test_finite_positive_float(text, ok):
    import click

    from driftlab.cli._errors import FiniteFloat

    t = FiniteFloat(min=0.0, min_open=True)
    if ok:
        assert t.convert(text, None, None) == float(text)
    else:
        with pytest.raises(click.BadParameter):
            t.convert(text, None, None)


# ---------------------------------------------------------------------------------------------
# real processes: python -m driftlab, stderr exactly one line, Ctrl-C
# ---------------------------------------------------------------------------------------------
def _run(*args, **kw):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("DRIFTLAB_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "driftlab", *args], capture_output=True, text=True, env=env,
                          timeout=120, **kw)


def test_python_m_driftlab_is_the_driftlab_command():
    from driftlab import __version__

    out = _run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"driftlab, version {__version__}", out
    out = _run("spectrum", "--k", "1,2", "--format", "csv")
    assert out.returncode == 0 and out.stdout.splitlines()[0] == "k,rate,timescale,rate/peak", out


@pytest.mark.parametrize("args, code, needle", [
    (["spectrum", "--k", "1:inf"], 2, "'--k'"),
    (["spacetime", "geodesic", "--za", "0,1", "--zb", "1,1", "--points", "9,9"], 2, "'--points'"),
    (["simulate", "--out", "{file}", "--n", "8"], 1, "--out"),
    (["bogus"], 2, "No such command"),
])
def test_subprocess_stderr_is_exactly_one_line(args, code, needle, tmp_path):
    out = _run(*_fill(args, tmp_path), cwd=tmp_path)
    assert out.returncode == code, out
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], out.stderr
    assert "driftlab" in lines[0] or code == 1, out.stderr  # usage errors point to `driftlab ... --help`
    assert out.stdout == "", out.stdout


def test_simulate_cuda_without_cuda_is_exit_1(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    res = CliRunner().invoke(main, ["simulate", "--device", "cuda", "--n", "8", "--steps", "1",
                                    "--out", str(tmp_path / "s")])
    assert res.exit_code == 1, res.output
    assert res.stderr.splitlines() == ["Error: --device cuda: CUDA is not available on this machine; "
                                       "use --device cpu"], res.stderr
    assert not (tmp_path / "s").exists()  # refused before the output folder is made


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigint_prints_interrupted_and_exits_130(tmp_path):
    # anneal at the largest --kmax runs for minutes: it is certainly still running after 3 s, and
    # past its imports (numpy/scipy only, about 1 s), so the interrupt lands inside the command
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen([sys.executable, "-m", "driftlab", "anneal", "--kmax", "1048576"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(3.0)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, out, err)
    # stderr: the progress label of the long table (not a terminal: the label only), then the one line
    lines = err.strip().splitlines()
    assert lines[-1] == "interrupted" and all(ln.startswith("anneal: rows K") for ln in lines[:-1]), err
