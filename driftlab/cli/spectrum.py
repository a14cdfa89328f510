"""``driftlab spectrum``, ``driftlab anneal`` and ``driftlab kernels``: spectral tables.

Fast table commands (numpy/scipy only; torch is never imported). Every command prints an
aligned table, CSV or JSON; JSON is a list of objects keyed by the table's column names
(infinite values are written as the string ``"inf"``).
"""

from __future__ import annotations

import csv
import io
import json
import math

import click

FORMATS = ["table", "csv", "json"]
def _kernel_choices() -> list[str]:
    from driftlab.kernels import kernel_names

    return list(kernel_names())


#: the registered kernel names (:func:`driftlab.kernels.kernel_names`), read at import
KERNEL_CHOICES = _kernel_choices()


# ----------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------
def parse_k(text: str) -> list[float]:
    """Parse wave numbers: ``"1,2,4"``, ``"1:64"`` (integers, inclusive) or ``"0.5:4:0.5"``.

    Pieces may be mixed with commas (``"1:4,8,16"``). Every k must be finite and > 0.

    >>> parse_k("1,2,4")
    [1.0, 2.0, 4.0]
    >>> parse_k("1:3,10")
    [1.0, 2.0, 3.0, 10.0]
    >>> parse_k("0.5:1.5:0.5")
    [0.5, 1.0, 1.5]
    """
    out: list[float] = []
    for piece in str(text).split(","):
        piece = piece.strip()
        if not piece:
            continue
        try:
            if ":" in piece:
                parts = [float(p) for p in piece.split(":")]
                if len(parts) == 2:
                    start, stop, step = parts[0], parts[1], 1.0
                elif len(parts) == 3:
                    start, stop, step = parts
                else:
                    raise ValueError
                if not step > 0:
                    raise click.BadParameter(f"step must be > 0 in {piece!r}", param_hint="--k")
                n = int(math.floor((stop - start) / step + 1e-9)) + 1
                if n < 1 or n > 1_000_000:
                    raise click.BadParameter(f"empty or huge range {piece!r}", param_hint="--k")
                out.extend(start + i * step for i in range(n))
            else:
                out.append(float(piece))
        except ValueError:
            raise click.BadParameter(f"cannot parse {piece!r}; use 1,2,4 or 1:64 or 0.5:4:0.5",
                                     param_hint="--k") from None
    if not out:
        raise click.BadParameter("no wave numbers given", param_hint="--k")
    for k in out:
        if not math.isfinite(k) or k <= 0:
            raise click.BadParameter(
                f"wave numbers must be finite and > 0, got {k} (k = 0 is the conserved mass mode)",
                param_hint="--k")
    return out


def _fmt(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.6g}"
    return str(v)


def _jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if hasattr(v, "item"):
        return _jsonable(v.item())
    return v


def render(rows: list[dict], columns: list[str], fmt: str) -> str:
    """Render rows as an aligned table, CSV or JSON (list of objects keyed by column)."""
    if fmt == "json":
        return json.dumps([{c: _jsonable(r[c]) for c in columns} for r in rows], indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([_jsonable(r[c]) if isinstance(r[c], float) else r[c] for c in columns])
        return buf.getvalue().rstrip("\n")
    cells = [[_fmt(r[c]) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def _kernel(name: str, scale: float, nu, beta):
    from driftlab.kernels import make_kernel

    try:
        return make_kernel(name, scale, nu=nu, beta=beta)
    except (TypeError, ValueError) as exc:
        raise click.BadParameter(str(exc)) from None


def _run(fn):
    """Turn ValueError/TypeError from the library into a clean CLI error (exit code 2)."""
    try:
        return fn()
    except (ValueError, TypeError) as exc:
        raise click.UsageError(str(exc)) from None


_format_option = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                              show_default=True, help="Output format.")
_dim_option = click.option("--dim", type=click.IntRange(min=1), default=1, show_default=True,
                           help="Dimension d >= 1.")


# ----------------------------------------------------------------------------------------
# commands
# ----------------------------------------------------------------------------------------
@click.command()
@click.option("--kernel", type=click.Choice(KERNEL_CHOICES), default="gaussian", show_default=True)
@click.option("--bandwidth", type=float, default=1.0, show_default=True,
              help="Kernel length scale (Gaussian s, Laplace tau, Matern ell, IMQ c, Wendland R).")
@_dim_option
@click.option("--k", "k_text", default="1:16", show_default=True, help="Wave numbers: 1,2,4 or 1:64 or 0.5:4:0.5.")
@click.option("--nu", type=float, default=None, help="Matern smoothness (default 1.5).")
@click.option("--beta", type=float, default=None,
              help="IMQ exponent (default dim/2 + 1; the spectrum needs beta > dim/2).")
@click.option("--method", type=click.Choice(["auto", "closed", "numerical"]), default="auto", show_default=True)
@_format_option
def spectrum(kernel, bandwidth, dim, k_text, nu, beta, method, fmt):
    """Relaxation rate lambda(k) = -k E'(k) per mode: k, rate, timescale (1/rate), ratio to the fastest."""
    from driftlab.spectral.rates import spectrum as _spectrum

    ks = parse_k(k_text)
    if kernel == "imq" and beta is None:
        beta = dim / 2.0 + 1.0
    kern = _kernel(kernel, bandwidth, nu, beta)
    rows = _run(lambda: _spectrum(kern, ks, dim, method))
    click.echo(render(rows, ["k", "rate", "timescale", "ratio"], fmt))


@click.command()
@click.option("--kernel", type=click.Choice(KERNEL_CHOICES), default="gaussian", show_default=True)
@click.option("--sigma0", type=float, default=2.0, show_default=True, help="Initial bandwidth s0.")
@click.option("--rate", "r", type=float, default=0.1, show_default=True, help="Annealing rate r in s0 exp(-r t).")
@click.option("--kmax", type=click.IntRange(min=1), default=64, show_default=True,
              help="Largest K; rows K = 1, 2, 4, ..., kmax (modes 1..K of the 2 pi torus).")
@click.option("--eps", type=float, default=1e-2, show_default=True, help="Target damping of every mode.")
@click.option("--fixed-bandwidth", type=float, default=None, help="Fixed bandwidth to compare (default sigma0).")
@_dim_option
@click.option("--nu", type=float, default=None, help="Matern smoothness (default 1.5).")
@click.option("--beta", type=float, default=None, help="IMQ exponent.")
@_format_option
def anneal(kernel, sigma0, r, kmax, eps, fixed_bandwidth, dim, nu, beta, fmt):
    """Convergence time vs K for a fixed, the best fixed (tuned) and the annealed bandwidth.

    Infinite times are printed as inf: the fixed bandwidth's rate underflowed, or r is at or
    above its admissible bound min_k (1 - E(k; s0)) / log(1/eps) (reported on stderr).
    """
    from driftlab.spectral.timescales import admissible_rate, anneal_table

    kern = _kernel(kernel, sigma0, nu, beta)
    ks = sorted({min(2**i, kmax) for i in range(int(math.log2(kmax)) + 2)})
    rows = _run(lambda: anneal_table(kern, ks, eps, sigma0, r, dim, fixed_bandwidth))
    rmax = _run(lambda: admissible_rate(kern, [1.0], eps, sigma0, dim))
    if r >= rmax:
        click.echo(f"note: rate {r} >= admissible bound {rmax:.6g}; annealed times are infinite", err=True)
    click.echo(render(rows, ["K", "T_fixed", "T_tuned", "s_tuned", "T_annealed", "s_final"], fmt))


@click.command()
@_dim_option
@click.option("--k", "k_text", default="1:16", show_default=True, help="Wave numbers: 1,2,4 or 1:64.")
@click.option("--bandwidth", type=float, default=1.0, show_default=True, help="Common length scale.")
@click.option("--kernels", "names", default="gaussian,laplace,companion,matern,imq", show_default=True,
              help="Comma-separated kernel names.")
@click.option("--nu", type=float, default=2.5, show_default=True, help="Matern smoothness.")
@click.option("--beta", type=float, default=None, help="IMQ exponent (default dim/2 + 1).")
@_format_option
def kernels(dim, k_text, bandwidth, names, nu, beta, fmt):
    """Rates lambda(k) of several kernels side by side (one column per kernel)."""
    from driftlab.spectral.rates import rate

    ks = parse_k(k_text)
    cols, values = [], []
    for name in [n.strip().lower() for n in names.split(",") if n.strip()]:
        if name not in _kernel_choices():
            raise click.BadParameter(f"unknown kernel {name!r}; choose from {', '.join(_kernel_choices())}",
                                     param_hint="--kernels")
        b = (dim / 2.0 + 1.0) if (name == "imq" and beta is None) else beta
        kern = _kernel(name, bandwidth, nu, b)
        label = f"matern-{nu:g}" if name == "matern" else (f"imq-{b:g}" if name == "imq" else name)
        cols.append(label)
        values.append(_run(lambda: rate(kern, ks, dim)))
    rows = [{"k": k, **{c: float(v[i]) for c, v in zip(cols, values)}} for i, k in enumerate(ks)]
    click.echo(render(rows, ["k"] + cols, fmt))
