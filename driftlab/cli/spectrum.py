"""``driftlab spectrum``, ``driftlab anneal`` and ``driftlab kernels``: spectral tables.

Fast table commands (numpy/scipy only; torch is never imported). Every command prints an
aligned table with a header naming the kernel, its scale, the dimension and the units, or CSV,
JSON or markdown (:mod:`driftlab.cli._render`); JSON is a list of objects keyed by the table's
column names (infinite values are written as the string ``"inf"``).
"""

from __future__ import annotations

import math

import click

from driftlab.cli._errors import FiniteFloat, NameList, check_finite, refuse_unused, usage_errors
from driftlab.cli._render import (FORMATS, SCALE_NAME, SCALE_SYMBOL, Report, describe_kernel, format_option,
                                  scale_option)
from driftlab.cli._render import render as _render


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


def render(rows: list[dict], columns: list[str], fmt: str) -> str:
    """Rows in ``fmt`` through the command line's one renderer (no title or header)."""
    return _render(Report("", rows, columns), fmt).lstrip("\n")


_UNITS = ("k in 1/length (the scale's length unit); rate lambda in 1/time, time t of the drift flow "
          "dx/dt = V; timescale = 1/lambda in time")


def _kernel(name: str, scale: float, nu, beta, scale_flag: str = SCALE_NAME):
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


_format_option = format_option(FORMATS)
_NU_HELP = "Matern smoothness nu (default 1.5, the kernel registry's; --kernel matern only)."
_dim_option = click.option("--dim", type=click.IntRange(min=1), default=1, show_default=True,
                           help="Dimension d >= 1.")
_POSITIVE = FiniteFloat(min=0.0, min_open=True)
#: the largest --kmax of ``anneal``: the table costs O(kmax) per row (about 3 minutes at 2^20 on one core)
KMAX_LIMIT = 2**20
#: from this --kmax on, ``anneal`` shows a progress bar on stderr (the table takes seconds or more)
PROGRESS_KMAX = 2**13


# ----------------------------------------------------------------------------------------
# commands
# ----------------------------------------------------------------------------------------
@click.command()
@click.option("--kernel", type=click.Choice(KERNEL_CHOICES), default="gaussian", show_default=True)
@scale_option(1.0, "Kernel length scale (Gaussian s, Laplace and companion tau, Matern ell, IMQ c, Wendland R).")
@_dim_option
@click.option("--k", "k_text", default="1:16", show_default=True, help="Wave numbers: 1,2,4 or 1:64 or 0.5:4:0.5.")
@click.option("--nu", type=_POSITIVE, default=None, help=_NU_HELP)
@click.option("--beta", type=_POSITIVE, default=None,
              help="IMQ exponent (default dim/2 + 1; the spectrum needs beta > dim/2; --kernel imq only).")
@click.option("--method", type=click.Choice(["auto", "closed", "numerical"]), default="auto", show_default=True)
@_format_option
@click.pass_context
def spectrum(ctx, kernel, scale, dim, k_text, nu, beta, method, fmt):
    """Relaxation rate lambda(k) = -k E'(k) per mode: k, rate, timescale (1/rate), rate/peak.

    rate/peak is lambda(k) / lambda_max, lambda_max the kernel's fastest rate over all k
    (driftlab.spectral.peak_rate; it does not depend on the k requested). A timescale is inf
    where the rate underflows to 0; a rate that cannot be computed (NaN or inf) is an error
    (exit 1), never printed.
    """
    from driftlab.spectral.rates import peak_rate
    from driftlab.spectral.rates import spectrum as _spectrum

    ks = parse_k(k_text)
    _refuse_unused_shape(ctx, [kernel])
    if kernel == "imq" and beta is None:
        beta = dim / 2.0 + 1.0
    kern = _kernel(kernel, scale, nu, beta)
    with usage_errors({"method": "--method", "dim": "--dim", "k": "--k"}):
        rows = _spectrum(kern, ks, dim, method)
        k_star, lam_max = peak_rate(kern, dim)
    check_finite({"peak_rate": lam_max, "k_star": k_star}, what="spectrum")
    rows = [{"k": r["k"], "rate": r["rate"], "timescale": r["timescale"],
             "rate/peak": (r["rate"] / lam_max) if lam_max > 0 else 0.0} for r in rows]
    check_finite(rows, what="spectrum", allow_inf=["timescale"], ident=["k"])
    rep = Report("driftlab spectrum: relaxation rate lambda(k) = -k E'(k) of each Fourier mode", rows,
                 ["k", "rate", "timescale", "rate/peak"],
                 header={"kernel": describe_kernel(kernel, scale, kern), "dimension": f"d = {dim}",
                         "peak": f"lambda_max = {lam_max:.6g} at k* = {k_star:.6g}; rate/peak = lambda(k) / lambda_max",
                         "method": method, "units": _UNITS})
    click.echo(_render(rep, fmt))


@click.command()
@click.option("--kernel", type=click.Choice(KERNEL_CHOICES), default="gaussian", show_default=True)
@scale_option(2.0, "Initial kernel length scale s0 of the schedule s0 exp(-r t).")
@click.option("--rate", "r", type=_POSITIVE, default=0.1, show_default=True,
              help="Annealing rate r in s0 exp(-r t).")
@click.option("--kmax", type=click.IntRange(min=1, max=KMAX_LIMIT), default=64, show_default=True,
              help=f"Largest K (<= {KMAX_LIMIT}); rows K = 1, 2, 4, ..., kmax (modes 1..K of the 2 pi torus).")
@click.option("--eps", type=FiniteFloat(0.0, 1.0, min_open=True, max_open=True), default=1e-2, show_default=True,
              help="Target damping of every mode, in (0, 1).")
@click.option("--fixed-bandwidth", type=_POSITIVE, default=None,
              help="Fixed length scale to compare (default: the initial scale s0).")
@_dim_option
@click.option("--nu", type=_POSITIVE, default=None, help=_NU_HELP)
@click.option("--beta", type=_POSITIVE, default=None,
              help="IMQ exponent (default dim/2 + 1; the spectrum needs beta > dim/2; --kernel imq only).")
@_format_option
@click.pass_context
def anneal(ctx, kernel, scale, r, kmax, eps, fixed_bandwidth, dim, nu, beta, fmt):
    """Convergence time vs K for a fixed, the best fixed (tuned) and the annealed length scale.

    speedup = T_tuned / T_annealed (> 1: annealing beats the best fixed scale for modes
    1..K); the last line is the verdict at the largest K. Infinite times are printed as inf:
    the fixed scale's rate underflowed, or r is at or above its admissible bound
    min_k (1 - E(k; s0)) / log(1/eps) (reported on stderr).
    """
    from driftlab.spectral.timescales import admissible_rate, anneal_table

    sigma0 = scale
    _refuse_unused_shape(ctx, [kernel])
    if kernel == "imq" and beta is None:  # the same default as spectrum and kernels (integrable spectrum)
        beta = dim / 2.0 + 1.0
    kern = _kernel(kernel, sigma0, nu, beta)
    ks = sorted({min(2**i, kmax) for i in range(int(math.log2(kmax)) + 2)})
    flags = {"s0": SCALE_NAME, "r": "--rate", "eps": "--eps", "fixed_bandwidth": "--fixed-bandwidth", "dim": "--dim"}
    with usage_errors(flags):
        rmax = admissible_rate(kern, [1.0], eps, sigma0, dim)
        if kmax < PROGRESS_KMAX:
            rows = anneal_table(kern, ks, eps, sigma0, r, dim, fixed_bandwidth)
        else:  # seconds to minutes: one row at a time (rows are independent) under a bar on stderr
            rows = []
            with click.progressbar(ks, label="anneal: rows K", file=click.get_text_stream("stderr")) as bar:
                for K in bar:
                    rows += anneal_table(kern, [K], eps, sigma0, r, dim, fixed_bandwidth)
    for row in rows:
        tt, ta = row["T_tuned"], row["T_annealed"]
        if math.isfinite(ta) and ta > 0:
            row["speedup"] = tt / ta  # inf when only the annealed scale converges
        else:
            row["speedup"] = 0.0 if math.isfinite(tt) else math.nan  # annealing never converges: n/a if neither does
    check_finite(rows, what="anneal", allow_inf=["T_fixed", "T_tuned", "T_annealed", "speedup"],
                 allow_nan=["speedup"], ident=["K"])
    check_finite({"admissible_rate": rmax}, what="anneal")
    if r >= rmax:
        click.echo(f"note: rate {r} >= admissible bound {rmax:.6g}; annealed times are infinite", err=True)
    last = rows[-1]
    if not math.isfinite(last["T_annealed"]):
        verdict = (f"verdict: annealing does not converge (r = {r:g} >= admissible bound {rmax:.6g}); "
                   f"the best fixed scale reaches eps on modes 1..{last['K']} in T = {last['T_tuned']:.6g}")
    else:
        sp = last["speedup"]
        how = (f"{sp:.3g}x faster than" if sp > 1 else (f"{1 / sp:.3g}x slower than" if sp > 0 else "slower than"))
        verdict = (f"verdict: at K = {last['K']}, annealing (T = {last['T_annealed']:.6g}) is {how} the best fixed "
                   f"scale (T = {last['T_tuned']:.6g} at s = {last['s_tuned']:.6g})")
    fixed = sigma0 if fixed_bandwidth is None else fixed_bandwidth
    rep = Report("driftlab anneal: time to damp modes 1..K by eps (fixed, best fixed, annealed)", rows,
                 ["K", "T_fixed", "T_tuned", "s_tuned", "T_annealed", "s_final", "speedup"],
                 header={"kernel": describe_kernel(kernel, sigma0, kern) + " at t = 0 (s0)",
                         "schedule": f"s(t) = s0 exp(-r t), r = {r:g} (admissible bound {rmax:.6g})",
                         "fixed": f"T_fixed at s = {fixed:g}; T_tuned at the best fixed s_tuned for each K",
                         "target": f"every mode 1..K damped to eps = {eps:g}; dimension d = {dim}",
                         "columns": "speedup = T_tuned / T_annealed; s_final = s(T_annealed)",
                         "units": "T in the time of the drift flow dx/dt = V; s in length units; modes of "
                                  "the 2 pi torus"},
                 notes=[verdict])
    click.echo(_render(rep, fmt))


@click.command()
@_dim_option
@click.option("--k", "k_text", default="1:16", show_default=True, help="Wave numbers: 1,2,4 or 1:64.")
@scale_option(1.0, "The scale given to every kernel, as each family reads it (the header says what it is).")
@click.option("--kernels", "names", type=NameList(_kernel_choices), default="gaussian,laplace,companion,matern,imq",
              show_default=True, help="Comma-separated kernel names, each at most once.")
@click.option("--nu", type=_POSITIVE, default=None, help="Matern smoothness nu (default 1.5, the kernel "
                                                          "registry's; needs matern).")
@click.option("--beta", type=_POSITIVE, default=None, help="IMQ exponent (default dim/2 + 1; needs imq).")
@_format_option
@click.pass_context
def kernels(ctx, dim, k_text, scale, names, nu, beta, fmt):
    """Rates lambda(k) of several kernels side by side (one column per kernel).

    Every kernel gets the same --scale as its own constructor reads it: the Gaussian's s,
    Laplace's and the companion's temperature tau (the companion is a Matern-3/2 of length
    sqrt(3) tau), Matern's ell, the IMQ's c; the header lists each column's scale.
    """
    from driftlab.kernels import kernel_entry
    from driftlab.spectral.rates import rate

    ks = parse_k(k_text)
    _refuse_unused_shape(ctx, names)
    cols, values, scales = [], [], []
    for name in names:
        b = (dim / 2.0 + 1.0) if (name == "imq" and beta is None) else beta
        kern = _kernel(name, scale, nu, b)
        nu_eff = nu if nu is not None else kernel_entry(name).shape.get("nu")
        label = f"matern-{nu_eff:g}" if name == "matern" else (f"imq-{b:g}" if name == "imq" else name)
        cols.append(label)
        scales.append((label, f"{SCALE_SYMBOL.get(name, 'length scale')} = {scale:g} ({kern!r})"))
        with usage_errors({"dim": "--dim", "k": "--k"}):
            values.append(rate(kern, ks, dim))
    rows = [{"k": k, **{c: float(v[i]) for c, v in zip(cols, values)}} for i, k in enumerate(ks)]
    check_finite(rows, what="kernels", ident=["k"])
    rep = Report("driftlab kernels: relaxation rate lambda(k) = -k E'(k) per kernel", rows, ["k"] + cols,
                 header={**{f"scale of {c}": v for c, v in scales}, "dimension": f"d = {dim}",
                         "units": "k in 1/length; lambda in 1/time (time t of the drift flow dx/dt = V)"})
    click.echo(_render(rep, fmt))
