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

from driftlab.cli._errors import FiniteFloat, NameList, check_finite, refuse_unused, usage_errors

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
                if not all(math.isfinite(p) for p in parts):
                    raise click.BadParameter(f"range ends and step must be finite in {piece!r}", param_hint="'--k'")
                if not step > 0:
                    raise click.BadParameter(f"step must be > 0 in {piece!r}", param_hint="'--k'")
                n = int(math.floor((stop - start) / step + 1e-9)) + 1
                if n < 1 or n > 1_000_000:
                    raise click.BadParameter(f"empty or huge range {piece!r}", param_hint="'--k'")
                out.extend(start + i * step for i in range(n))
            else:
                out.append(float(piece))
        except ValueError:
            raise click.BadParameter(f"cannot parse {piece!r}; use 1,2,4 or 1:64 or 0.5:4:0.5",
                                     param_hint="'--k'") from None
    if not out:
        raise click.BadParameter("no wave numbers given", param_hint="'--k'")
    for k in out:
        if not math.isfinite(k) or k <= 0:
            raise click.BadParameter(
                f"wave numbers must be finite and > 0, got {k} (k = 0 is the conserved mass mode)",
                param_hint="'--k'")
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


def _kernel(name: str, scale: float, nu, beta, scale_flag: str = "--bandwidth"):
    from driftlab.kernels import make_kernel

    with usage_errors({"scale": scale_flag, "bandwidth": scale_flag, "length_scale": scale_flag, "nu": "--nu",
                       "beta": "--beta"}):
        return make_kernel(name, scale, nu=nu, beta=beta)


def _shape_params(name: str) -> set[str]:
    from driftlab.kernels import kernel_entry

    return set(kernel_entry(name).shape)


def _refuse_unused_shape(ctx: click.Context, names: list[str]) -> None:
    """--nu / --beta given for kernels that do not take them would be ignored: refuse them."""
    taken = set().union(*(_shape_params(n) for n in names))
    unused = [p for p in ("nu", "beta") if p not in taken]
    refuse_unused(ctx, unused, f"by --kernel{'s' if ctx.command.name == 'kernels' else ''} "
                               f"{','.join(names)} (--nu is Matern's smoothness, --beta the IMQ exponent)")


_format_option = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                              show_default=True, help="Output format.")
_dim_option = click.option("--dim", type=click.IntRange(min=1), default=1, show_default=True,
                           help="Dimension d >= 1.")
_POSITIVE = FiniteFloat(min=0.0, min_open=True)
#: the largest --kmax of ``anneal``: the table costs O(kmax) per row (about 3 minutes at 2^20 on one core)
KMAX_LIMIT = 2**20


# ----------------------------------------------------------------------------------------
# commands
# ----------------------------------------------------------------------------------------
@click.command()
@click.option("--kernel", type=click.Choice(KERNEL_CHOICES), default="gaussian", show_default=True)
@click.option("--bandwidth", type=_POSITIVE, default=1.0, show_default=True,
              help="Kernel length scale (Gaussian s, Laplace tau, Matern ell, IMQ c, Wendland R).")
@_dim_option
@click.option("--k", "k_text", default="1:16", show_default=True, help="Wave numbers: 1,2,4 or 1:64 or 0.5:4:0.5.")
@click.option("--nu", type=_POSITIVE, default=None, help="Matern smoothness (default 1.5; --kernel matern only).")
@click.option("--beta", type=_POSITIVE, default=None,
              help="IMQ exponent (default dim/2 + 1; the spectrum needs beta > dim/2; --kernel imq only).")
@click.option("--method", type=click.Choice(["auto", "closed", "numerical"]), default="auto", show_default=True)
@_format_option
@click.pass_context
def spectrum(ctx, kernel, bandwidth, dim, k_text, nu, beta, method, fmt):
    """Relaxation rate lambda(k) = -k E'(k) per mode: k, rate, timescale (1/rate), ratio to the fastest.

    A timescale is inf where the rate underflows to 0; a rate that cannot be computed
    (NaN or inf) is an error (exit 1), never printed.
    """
    from driftlab.spectral.rates import spectrum as _spectrum

    ks = parse_k(k_text)
    _refuse_unused_shape(ctx, [kernel])
    if kernel == "imq" and beta is None:
        beta = dim / 2.0 + 1.0
    kern = _kernel(kernel, bandwidth, nu, beta)
    with usage_errors({"method": "--method", "dim": "--dim", "k": "--k"}):
        rows = _spectrum(kern, ks, dim, method)
    check_finite(rows, what="spectrum", allow_inf=["timescale"], ident=["k"])
    click.echo(render(rows, ["k", "rate", "timescale", "ratio"], fmt))


@click.command()
@click.option("--kernel", type=click.Choice(KERNEL_CHOICES), default="gaussian", show_default=True)
@click.option("--sigma0", type=_POSITIVE, default=2.0, show_default=True, help="Initial bandwidth s0.")
@click.option("--rate", "r", type=_POSITIVE, default=0.1, show_default=True,
              help="Annealing rate r in s0 exp(-r t).")
@click.option("--kmax", type=click.IntRange(min=1, max=KMAX_LIMIT), default=64, show_default=True,
              help=f"Largest K (<= {KMAX_LIMIT}); rows K = 1, 2, 4, ..., kmax (modes 1..K of the 2 pi torus).")
@click.option("--eps", type=FiniteFloat(0.0, 1.0, min_open=True, max_open=True), default=1e-2, show_default=True,
              help="Target damping of every mode, in (0, 1).")
@click.option("--fixed-bandwidth", type=_POSITIVE, default=None, help="Fixed bandwidth to compare (default sigma0).")
@_dim_option
@click.option("--nu", type=_POSITIVE, default=None, help="Matern smoothness (default 1.5; --kernel matern only).")
@click.option("--beta", type=_POSITIVE, default=None, help="IMQ exponent (--kernel imq only).")
@_format_option
@click.pass_context
def anneal(ctx, kernel, sigma0, r, kmax, eps, fixed_bandwidth, dim, nu, beta, fmt):
    """Convergence time vs K for a fixed, the best fixed (tuned) and the annealed bandwidth.

    Infinite times are printed as inf: the fixed bandwidth's rate underflowed, or r is at or
    above its admissible bound min_k (1 - E(k; s0)) / log(1/eps) (reported on stderr).
    """
    from driftlab.spectral.timescales import admissible_rate, anneal_table

    _refuse_unused_shape(ctx, [kernel])
    kern = _kernel(kernel, sigma0, nu, beta, "--sigma0")
    ks = sorted({min(2**i, kmax) for i in range(int(math.log2(kmax)) + 2)})
    flags = {"s0": "--sigma0", "r": "--rate", "eps": "--eps", "fixed_bandwidth": "--fixed-bandwidth", "dim": "--dim"}
    with usage_errors(flags):
        rmax = admissible_rate(kern, [1.0], eps, sigma0, dim)
        rows = anneal_table(kern, ks, eps, sigma0, r, dim, fixed_bandwidth)
    check_finite(rows, what="anneal", allow_inf=["T_fixed", "T_tuned", "T_annealed"], ident=["K"])
    check_finite({"admissible_rate": rmax}, what="anneal")
    if r >= rmax:
        click.echo(f"note: rate {r} >= admissible bound {rmax:.6g}; annealed times are infinite", err=True)
    click.echo(render(rows, ["K", "T_fixed", "T_tuned", "s_tuned", "T_annealed", "s_final"], fmt))


@click.command()
@_dim_option
@click.option("--k", "k_text", default="1:16", show_default=True, help="Wave numbers: 1,2,4 or 1:64.")
@click.option("--bandwidth", type=_POSITIVE, default=1.0, show_default=True, help="Common length scale.")
@click.option("--kernels", "names", type=NameList(_kernel_choices), default="gaussian,laplace,companion,matern,imq",
              show_default=True, help="Comma-separated kernel names, each at most once.")
@click.option("--nu", type=_POSITIVE, default=2.5, show_default=True, help="Matern smoothness (needs matern).")
@click.option("--beta", type=_POSITIVE, default=None, help="IMQ exponent (default dim/2 + 1; needs imq).")
@_format_option
@click.pass_context
def kernels(ctx, dim, k_text, bandwidth, names, nu, beta, fmt):
    """Rates lambda(k) of several kernels side by side (one column per kernel)."""
    from driftlab.spectral.rates import rate

    ks = parse_k(k_text)
    _refuse_unused_shape(ctx, names)
    cols, values = [], []
    for name in names:
        b = (dim / 2.0 + 1.0) if (name == "imq" and beta is None) else beta
        kern = _kernel(name, bandwidth, nu, b)
        label = f"matern-{nu:g}" if name == "matern" else (f"imq-{b:g}" if name == "imq" else name)
        cols.append(label)
        with usage_errors({"dim": "--dim", "k": "--k"}):
            values.append(rate(kern, ks, dim))
    rows = [{"k": k, **{c: float(v[i]) for c, v in zip(cols, values)}} for i, k in enumerate(ks)]
    check_finite(rows, what="kernels", ident=["k"])
    click.echo(render(rows, ["k"] + cols, fmt))
