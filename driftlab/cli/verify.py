"""``driftlab verify``: run the claims ledger and print verdicts.

Tiers: ``--quick`` (under 2 minutes on 2 cores, every paper), the default (under 15
minutes), ``--full`` (heavy sweeps, trained models); ``--recompute`` reruns the command behind
every claim read from a committed result. The last line counts verified / refuted /
inconclusive / error. Exit status 1 when a claim's verdict differs from the expected one (a
claim expected to hold failed, or a claim expected to be refuted was not). ``--format
markdown`` writes the ledger, grouped by paper, to docs/claims.md of the checkout (or
``--output``). Torch is not imported here.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from driftlab.cli._errors import prepare_out_file, refuse_unused

_MARK = {"verified": "verified", "refuted": "REFUTED", "inconclusive": "inconclusive", "error": "ERROR"}


def _table(results) -> str:
    rows = [("claim", "paper", "measured", "tolerance", "verdict", "expected", "s")]
    for r in results:
        o, c = r.outcome, r.claim
        flag = "" if r.ok else "  <-- UNEXPECTED"
        rows.append((c.id, c.paper, o.display, c.tolerance, _MARK[o.verdict] + flag, c.expected, f"{r.seconds:.1f}"))
    widths = [min(max(len(row[i]) for row in rows), cap) for i, cap in enumerate((42, 22, 60, 44, 28, 9, 6))]

    def fmt(row):
        return "  ".join((cell if len(cell) <= w else cell[: w - 1] + "~").ljust(w) for cell, w in zip(row, widths))

    lines = [fmt(rows[0]), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows[1:]]
    return "\n".join(lines)


def _markdown(results, tier: str) -> str:
    from driftlab.theory.ledger import render_markdown

    return render_markdown(results, tier)


@click.command()
@click.option("--quick", is_flag=True, help="The quick tier: smaller checks, every paper (under 2 minutes on 2 cores).")
@click.option("--full", is_flag=True, help="The full tier: also the heavy sweeps and trained models.")
@click.option("--recompute", is_flag=True, help="Rerun the command behind every committed-result claim first.")
@click.option("--only", "only", multiple=True, metavar="ID", help="Run only this claim (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table", show_default=True)
@click.option("--output", type=click.Path(path_type=Path), default=None,
              help="Where --format markdown/json writes (markdown default: docs/claims.md of the checkout; "
                   "with --only, --output is required so that the full ledger is not replaced by a part).")
@click.option("--list", "list_only", is_flag=True, help="List the claims and exit.")
@click.pass_context
def verify(ctx: click.Context, quick: bool, full: bool, recompute: bool, only: tuple[str, ...], fmt: str,
           output: Path | None, list_only: bool) -> None:
    """Run the theorem checks of the claims ledger and print claim, paper, measured value, tolerance, verdict."""
    from driftlab.theory.ledger import CLAIMS, run_claims, summary_line

    if quick and full:
        raise click.UsageError("--quick and --full are exclusive")
    tier = "quick" if quick else ("full" if full else "default")
    if list_only:
        refuse_unused(ctx, ["quick", "full", "recompute", "only", "fmt", "output"], "by --list")
    elif output is not None and fmt == "table":
        raise click.UsageError("--output is for --format json or markdown; the table goes to stdout")
    elif fmt == "markdown" and only and output is None:
        raise click.UsageError("--format markdown with --only would replace docs/claims.md by a partial ledger; "
                               "give --output FILE")
    if output is not None and not list_only:
        prepare_out_file(output, "--output")  # before the checks run, not after

    if list_only:
        for c in CLAIMS:
            click.echo(f"{c.id:42s} {c.paper:18s} {c.tier:7s} {c.statement}")
        return
    known = {c.id for c in CLAIMS}
    unknown = [i for i in only if i not in known]
    if unknown:
        raise click.UsageError(f"unknown claim id(s) {unknown}; see `driftlab verify --list`")
    progress = (lambda cid: click.echo(f"  running {cid} ...", err=True)) if fmt == "table" else None
    results = run_claims(list(only) or None, progress=progress, tier=tier, recompute=recompute)
    if fmt == "table":
        click.echo(_table(results))
    elif fmt == "json":
        from driftlab._io import jsonable

        text = json.dumps(jsonable([r.as_dict() for r in results]), indent=2, sort_keys=True) + "\n"
        if output is not None:
            from driftlab._io import atomic_write_text

            atomic_write_text(output, text)
            click.echo(f"wrote {output}", err=True)
        else:
            click.echo(text, nl=False)
    else:
        text = _markdown(results, tier)
        if output is None:
            from driftlab.repro import repo_root

            output = repo_root() / "docs" / "claims.md"
        from driftlab._io import atomic_write_text

        atomic_write_text(output, text)
        click.echo(f"wrote {output}")
    click.echo(f"summary ({tier} tier): {summary_line(results)}", err=True)
    bad = [r for r in results if not r.ok]
    if bad:
        click.echo(f"{len(bad)} claim(s) not as expected: {', '.join(r.claim.id for r in bad)}", err=True)
        ctx.exit(1)
    click.echo(f"all {len(results)} claim(s) as expected", err=True)
