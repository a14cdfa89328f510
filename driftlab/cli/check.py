"""``driftlab check TARGET --convention NAME``: run the conformance suite on anyone's drift function.

``TARGET`` is ``package.module:function`` or ``path/to/file.py:function``; the function has the
signature ``fn(x, y_pos, y_neg, temperature) -> V`` (numpy or torch), or one of the adapted
signatures chosen with ``--adapter``. Exit status 0 when every check passes, 1 when one fails,
2 on a usage error (a target that cannot be loaded, an unknown convention or option value).
``--format json`` prints ``{"convention", "passed", "checks": [{"id", "passed", "measured",
"tolerance", "why"}, ...]}``. Torch is imported only when the target uses it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import click

from driftlab.cli._errors import NameList, NumberList, usage_errors
from driftlab.cli._render import FORMATS, Report, format_option, render
from driftlab.testing import CHECKS

_ADAPTERS = ("loss", "grouped", "weighted-negatives", "self-masked", "float32-only")


def _load_target(target: str):
    """The callable named by ``module:function`` or ``file.py:function`` (a usage error otherwise)."""
    if ":" not in target:
        raise click.BadParameter(f"{target!r}: write package.module:function or path/to/file.py:function",
                                 param_hint="TARGET")
    where, _, name = target.rpartition(":")
    if not where or not name:
        raise click.BadParameter(f"{target!r}: both the module (or file) and the function are needed",
                                 param_hint="TARGET")
    try:
        if where.endswith(".py") or "/" in where or "\\" in where:
            path = Path(where)
            if not path.is_file():
                raise click.BadParameter(f"no such file {where!r}", param_hint="TARGET")
            mod_name = f"_driftlab_check_target_{abs(hash(str(path.resolve())))}"
            spec = importlib.util.spec_from_file_location(mod_name, path)
            if spec is None or spec.loader is None:
                raise click.BadParameter(f"cannot import {where!r} as Python", param_hint="TARGET")
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            sys.path.insert(0, str(path.resolve().parent))
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.pop(0)
        else:
            sys.path.insert(0, str(Path.cwd()))
            try:
                module = importlib.import_module(where)
            finally:
                sys.path.pop(0)
    except click.BadParameter:
        raise
    except ModuleNotFoundError as e:
        raise click.BadParameter(f"cannot import {where!r}: {e}", param_hint="TARGET") from None
    except Exception as e:  # noqa: BLE001 - importing user code may raise anything
        raise click.BadParameter(f"importing {where!r} raised {type(e).__name__}: {e}", param_hint="TARGET") from None
    obj = module
    for part in name.split("."):
        if not hasattr(obj, part):
            raise click.BadParameter(f"{where!r} has no attribute {name!r}", param_hint="TARGET")
        obj = getattr(obj, part)
    if not callable(obj):
        raise click.BadParameter(f"{target!r} is a {type(obj).__name__}, not a callable", param_hint="TARGET")
    return obj


def _report(report, fmt: str) -> Report:
    """The conformance report as rows (check, pass, measured, tolerance, message; why in csv and markdown)."""
    rows = [{"check": r.id, "pass": bool(r.passed), "measured": r.measured, "tolerance": r.tolerance, "why": r.why,
             "message": r.message} for r in report.rows]
    rows += [{"check": k, "pass": "n/a", "measured": None, "tolerance": None, "why": why, "message": ""}
             for k, why in report.not_applicable.items()]
    cols = ["check", "pass", "measured", "tolerance", "message"] if fmt == "table" else \
        ["check", "pass", "measured", "tolerance", "why", "message"]
    if fmt == "table":  # a check that does not apply says why in its message cell
        for row in rows:
            if row["pass"] == "n/a":
                row["message"] = row["why"]
    verdict = "PASS" if report.passed else f"FAIL ({', '.join(r.id for r in report.failed)})"
    return Report(f"driftlab check: {report.convention}", rows, cols,
                  header={"run": f"{report.array} arrays, {report.dtype}, {report.budget} budget",
                          "columns": "measured vs tolerance: each check's statistic and its bound; pass yes/no"},
                  notes=[verdict], digits=3)


@click.command()
@click.argument("target")
@click.option("--convention", required=True, metavar="NAME",
              help="alg2, joint, separate, official, gaussian-score or kernel-gradient.")
@click.option("--quick", is_flag=True, help="The quick budget (the default; under a minute for numpy code).")
@click.option("--full", is_flag=True, help="The full budget (96 parity cases, 12000 Monte Carlo draws, sets of 4096).")
@click.option("--dtype", type=click.Choice(["float64", "float32"]), default="float64", show_default=True,
              help="Working dtype of the checks (the far-field check is always float32).")
@format_option(FORMATS)
@click.option("--kernel", type=click.Choice(["laplace", "gaussian"]), default=None,
              help="Kernel family of a batch convention (default laplace; gaussian-score is gaussian).")
@click.option("--self-mask", is_flag=True, help="The negatives are the queries, self-pairs dropped.")
@click.option("--temperatures", type=NumberList(float, min=0.0, min_open=True), default=None,
              help="official: the default temperatures, comma-separated (default 0.02,0.05,0.2).")
@click.option("--checks", type=NameList(list(CHECKS)),
              default=None, help="Run only these checks (comma-separated).")
@click.option("--adapter", type=click.Choice(_ADAPTERS), default=None,
              help="The target's signature when it is not fn(x, y_pos, y_neg, temperature).")
@click.option("--array", type=click.Choice(["auto", "numpy", "torch"]), default="auto", show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
def check(target, convention, quick, full, dtype, fmt, kernel, self_mask, temperatures, checks, adapter, array,
          seed):
    """Check the drift function TARGET against a convention's dense float64 reference and theory."""
    if quick and full:
        raise click.UsageError("--quick and --full are exclusive")
    tier = "full" if full else "quick"
    official = str(convention).strip().lower() == "official"
    if official and (kernel is not None or self_mask or adapter == "self-masked"):
        raise click.UsageError("--kernel, --self-mask and --adapter self-masked do not apply to --convention "
                               "official (its generated batch is always self-masked)")
    if not official and temperatures is not None:
        raise click.UsageError("--temperatures applies to --convention official only")
    from driftlab.testing import (
        check_drift,
        float32_only,
        from_loss,
        get_convention,
        grouped,
        self_masked,
        weighted_negatives,
    )

    params = {}
    if kernel is not None:
        params["kernel"] = kernel
    if self_mask:
        params["self_mask"] = True
    if temperatures is not None:
        params["temperatures"] = tuple(temperatures)
    with usage_errors({"kernel": "--kernel", "self_mask": "--self-mask", "temperatures": "--temperatures"}):
        conv = get_convention(convention, **params)
    fn = _load_target(target)
    wrap = {"loss": from_loss, "grouped": grouped, "weighted-negatives": weighted_negatives,
            "self-masked": self_masked, "float32-only": float32_only}
    if adapter is not None:
        fn = wrap[adapter](fn)
        if adapter == "self-masked" and not conv.self_mask:
            with usage_errors():
                conv = get_convention(conv, self_mask=True)
    if fmt == "table" or sys.stderr.isatty():
        click.echo(f"checking {target} against {convention} ({tier} budget, {dtype}; the quick budget takes "
                   "under a minute for numpy code) ...", err=True)
    report = check_drift(fn, conv, dtype=dtype, budget=tier, checks=checks, seed=seed, array=array)
    if fmt == "json":
        click.echo(report.to_json())
    else:
        click.echo(render(_report(report, fmt), fmt))
    if not report.passed:
        click.get_current_context().exit(1)
