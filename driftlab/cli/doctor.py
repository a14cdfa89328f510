"""``driftlab doctor``: which backends and dtypes work on this machine."""

from __future__ import annotations

import json

import click

from driftlab.cli._render import FORMATS, Report, format_option, render


def diagnose() -> dict:
    """Probe numpy/scipy, torch (CPU, CUDA, dtypes), triton and POT; never raises."""
    import numpy as np
    import scipy

    from driftlab._version import __version__

    report: dict = {"driftlab": __version__, "numpy": np.__version__, "scipy": scipy.__version__}
    try:
        import torch

        report["torch"] = torch.__version__
        report["torch_threads"] = torch.get_num_threads()
        report["cuda_available"] = bool(torch.cuda.is_available())
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        if torch.cuda.is_available():
            report["cuda_device"] = torch.cuda.get_device_name(0)
            report["cuda_version"] = torch.version.cuda
        checks = {}
        for dev in devices:
            for dt in (torch.float32, torch.float64):
                key = f"{dev}/{str(dt).replace('torch.', '')}"
                try:
                    from driftlab.fields import batch_mean_shift
                    from driftlab.kernels import Laplace

                    x = torch.zeros(4, 2, dtype=dt, device=dev)
                    y = torch.ones(8, 2, dtype=dt, device=dev)
                    v = batch_mean_shift(x, y, Laplace(1.0))
                    checks[key] = "ok" if bool(torch.isfinite(v).all()) else "non-finite"
                except Exception as exc:  # report, do not crash
                    checks[key] = f"error: {exc}"
        report["backends"] = checks
    except ImportError as exc:
        report["torch"] = f"not importable: {exc}"
    for mod in ("triton", "ot"):
        try:
            m = __import__(mod)
            report[mod] = getattr(m, "__version__", "present")
        except Exception as exc:
            report[mod] = f"not available ({type(exc).__name__})"
    return report


@click.command()
@format_option(FORMATS)
def doctor(fmt: str) -> None:
    """Report which backends (numpy, torch CPU/CUDA, float32/float64, triton, POT) work here."""
    report = diagnose()
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    rows = []
    for key, val in report.items():
        if isinstance(val, dict):
            rows += [{"item": f"{key}.{k2}", "value": v2} for k2, v2 in val.items()]
        else:
            rows.append({"item": key, "value": val})
    rep = Report("driftlab doctor: versions, and which backends and dtypes work on this machine", rows,
                 ["item", "value"], header={"backends": "ok = a small batch mean shift runs and is finite"})
    click.echo(render(rep, fmt))
