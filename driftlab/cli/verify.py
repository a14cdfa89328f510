"""``driftlab verify``: run the claims ledger and print verdicts.

Tiers: ``--quick`` (under 2 minutes on 2 cores, every paper), the default (under 15
minutes), ``--full`` (heavy sweeps, trained models); ``--recompute`` reruns the command behind
every claim read from a committed result. The table has a statement column (wrapped to fit
the terminal); the summary line counts verified / refuted / inconclusive / error (after the
table, or on stderr for the other formats). Exit status 1 when a claim's verdict differs from the expected one (a
claim expected to hold failed, or a claim expected to be refuted was not). ``--format
markdown`` writes the ledger, grouped by paper, to docs/claims.md of the checkout (or
``--output``). Torch is not imported here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from driftlab.cli._errors import prepare_out_file, refuse_unused
from driftlab.cli._render import FORMATS, Report, format_option, render

_MARK = {"verified": "verified", "refuted": "REFUTED", "inconclusive": "inconclusive", "error": "ERROR"}


_CSV_COLUMNS = ["id", "family", "paper", "tier", "statement", "measured", "value", "tolerance", "verdict", "expected",
                "ok", "seconds"]


def _report(results, tier: str, notes: list[str]) -> Report:
    """The claims as rows: claim, paper, verdict (flagged when not as expected), measured, tolerance, statement."""
    rows = []
    for r in results:
        o, c = r.outcome, r.claim
        mark = _MARK[o.verdict]
        if not r.ok:
            mark += f" (UNEXPECTED; expected {c.expected})"
        elif c.expected != "verified":
            mark += " (as expected)"
        rows.append({"claim": f"{c.id} {c.paper}", "verdict": mark, "measured": o.display,
                     "tolerance": c.tolerance, "statement": c.statement, "s": round(r.seconds, 1)})
    return Report(f"driftlab verify: the claims ledger, {tier} tier", rows,
                  ["claim", "verdict", "measured", "tolerance", "statement"],
                  header={"verdicts": "verified (the check holds within its tolerance), REFUTED, inconclusive, "
                                      "ERROR (the check could not run)",
                          "claim": "the claim's id and [paper]"},
                  notes=notes)


def _table(results, tier: str = "default", notes: list[str] | None = None) -> str:
    return render(_report(results, tier, notes or []), "table")


def _csv(results) -> str:
    rows = [{k: d.get(k) for k in _CSV_COLUMNS} for d in (r.as_dict() for r in results)]
    return render(Report("", rows, _CSV_COLUMNS), "csv")


def _markdown(results, tier: str) -> str:
    from driftlab.theory.ledger import render_markdown

    return render_markdown(results, tier)


@click.command()
@click.option("--quick", is_flag=True, help="The quick tier: smaller checks, every paper (under 2 minutes on 2 cores).")
@click.option("--full", is_flag=True, help="The full tier: also the heavy sweeps and trained models.")
@click.option("--recompute", is_flag=True, help="Rerun the command behind every committed-result claim first.")
@click.option("--only", "only", multiple=True, metavar="ID", help="Run only this claim (repeatable).")
@format_option(FORMATS, help="table (stdout, fitted to the terminal), csv or json (stdout, or --output) or markdown "
                             "(the ledger grouped by paper, written to docs/claims.md or --output).")
@click.option("--output", type=click.Path(path_type=Path), default=None,
              help="Where --format markdown/json/csv writes (markdown default: docs/claims.md of the checkout; "
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
        raise click.UsageError("--output is for --format json, csv or markdown; the table goes to stdout")
    elif fmt == "markdown" and only and output is None:
        raise click.UsageError("--format markdown with --only would replace docs/claims.md by a partial ledger; "
                               "give --output FILE")
    if output is not None and not list_only:
        prepare_out_file(output, "--output")  # before the checks run, not after

    if list_only:
        rows = [{"claim": c.id, "paper": c.paper, "tier": c.tier, "statement": c.statement} for c in CLAIMS]
        click.echo(render(Report(f"driftlab verify --list: {len(rows)} claims (tiers quick, default, full)", rows,
                                 keep=("claim", "tier")), "table"))
        return
    known = {c.id for c in CLAIMS}
    unknown = [i for i in only if i not in known]
    if unknown:
        raise click.UsageError(f"unknown claim id(s) {unknown}; see `driftlab verify --list`")
    # progress on stderr for the table, or whenever stderr is a terminal (a program reading both
    # streams of --format json/csv gets the summary lines only)
    show = fmt == "table" or sys.stderr.isatty()
    progress = (lambda cid: click.echo(f"  running {cid} ...", err=True)) if show else None
    results = run_claims(list(only) or None, progress=progress, tier=tier, recompute=recompute)
    bad = [r for r in results if not r.ok]
    summary = f"summary ({tier} tier): {summary_line(results)}"
    closing = (f"{len(bad)} claim(s) not as expected: {', '.join(r.claim.id for r in bad)}" if bad
               else f"all {len(results)} claim(s) as expected")
    if fmt == "table":
        click.echo(_table(results, tier, [summary, closing]))
        if bad:
            ctx.exit(1)
        return
    if fmt in ("json", "csv"):
        from driftlab._io import jsonable

        text = (json.dumps(jsonable([r.as_dict() for r in results]), indent=2, sort_keys=True) if fmt == "json"
                else _csv(results)) + "\n"
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
    click.echo(summary, err=True)
    click.echo(closing, err=True)
    if bad:
        ctx.exit(1)
