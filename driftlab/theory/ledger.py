r"""The claims ledger: the papers' checkable claims as one registry of plain records.

Every :class:`Claim` is data (id, family, paper, statement, tier, tolerance and *why* that
tolerance is right, the check ``check(quick) -> Outcome``, the figures that show it, and for
a claim read from a committed result file an :class:`Evidence` record: file, content hash,
the command that recomputes it). The checks live in per-family modules
(``driftlab/theory/_claims/*.py``); :data:`CLAIMS` concatenates them. Verdicts:

* ``verified``: the measurement is within tolerance;
* ``refuted``: the measurement contradicts the claim beyond tolerance (some claims are
  *expected* to be refuted; their note then says what holds instead);
* ``inconclusive``: the measurement cannot decide (e.g. a confidence interval too wide, or
  the committed evidence no longer has its recorded content hash);
* ``error``: the check raised.

Tiers (:data:`TIERS`): ``quick`` (``driftlab verify --quick``: under 2 minutes on 2 cores,
every paper represented; checks run at their small size), ``default`` (under 15 minutes)
and ``full`` (``--full``: the heavy sweeps and trained models). A tier runs its own claims
and those of the cheaper tiers. ``--recompute`` reruns the command of every evidence-backed
claim before reading its file.

``driftlab verify`` runs them (:func:`run_claims`) and exits with status 1 when a claim's
verdict differs from its expected verdict. Every claim is also a pytest case
(``tests/test_theory_ledger.py``), and every family has a mutation test (a perturbed formula
must not verify). ``docs/claims.md`` is generated from a run (:func:`render_markdown`).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from driftlab.theory._claims import (
    algorithm2,
    annealing_scale,
    conservativity,
    estimators,
    finite_particle,
    gaussian,
    laplace,
    official,
    spacetime,
    spectral,
    variational,
)
from driftlab.theory._claims._record import (
    TIERS,
    VERDICTS,
    Claim,
    Evidence,
    Outcome,
    evidence_digest,
)

__all__ = ["Outcome", "Claim", "Evidence", "ClaimResult", "CLAIMS", "FAMILY_MODULES", "PAPERS", "TIERS",
           "VERDICTS", "get_claim", "select_claims", "run_claims", "summary_counts", "summary_line",
           "render_markdown"]

#: the per-family check modules, in ledger order
FAMILY_MODULES = (gaussian, laplace, conservativity, algorithm2, estimators, official, spectral, variational,
                  spacetime, finite_particle, annealing_scale)

CLAIMS: list[Claim] = [c for mod in FAMILY_MODULES for c in mod.CLAIMS]

#: paper tags -> references (docs/claims.md groups by the first tag of a claim's ``paper``)
PAPERS = {
    "[D]": "Deng et al. 2026, generative drifting (Algorithm 2, the official training code and toy)",
    "[T]": "Turan & Ovsjanikov 2026, generative drifting is secretly score matching (theorems, spectral "
           "analysis, variational view)",
    "[L]": "Lai et al. 2026 (Laplace kernel: scale mixture, decomposition, residual laws)",
    "[F]": "Franz et al. 2026 (conservativity, the companion kernel)",
    "[KG]": "Esteban-Casadevall et al. 2026 (kernel-gradient drifting)",
    "[S]": "Karczewski et al. 2025, spacetime geometry of diffusion models (arXiv:2505.17517)",
    "[ABC]": "the [ABC] bias correction of self-normalised estimators",
    "[FP]": "Balasubramanian 2026, finite-particle rates of conservative drifting (arXiv:2605.22795)",
}


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    outcome: Outcome
    seconds: float
    evidence_status: str = ""  # "", "hash ok", "recomputed", or why the evidence was not used

    @property
    def ok(self) -> bool:
        return self.outcome.verdict == self.claim.expected

    def as_dict(self) -> dict:
        c, o = self.claim, self.outcome
        ev = [{"path": e.path, "sha256": e.sha256, "keys": list(e.keys) if e.keys else None,
               "command": e.command, "status": self.evidence_status} for e in c.evidence]
        return {"id": c.id, "family": c.family, "paper": c.paper, "statement": c.statement,
                "measured": o.display, "value": o.value, "tolerance": c.tolerance, "why": c.why,
                "verdict": o.verdict, "expected": c.expected, "ok": self.ok, "tier": c.tier,
                "figures": list(c.figures), "evidence": ev,
                "seconds": round(self.seconds, 2), "detail": o.detail}


def get_claim(claim_id: str) -> Claim:
    for c in CLAIMS:
        if c.id == claim_id:
            return c
    raise KeyError(f"unknown claim {claim_id!r}; known: {', '.join(c.id for c in CLAIMS)}")


def _check_tier(tier: str) -> str:
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {TIERS}, got {tier!r}")
    return tier


def select_claims(tier: str = "default", ids: list[str] | None = None) -> list[Claim]:
    """The claims a tier runs (its own and the cheaper tiers'), or the named ``ids``."""
    _check_tier(tier)
    if ids:
        return [get_claim(i) for i in ids]
    rank = TIERS.index(tier)
    return [c for c in CLAIMS if TIERS.index(c.tier) <= rank]


def _root() -> Path:
    from driftlab.repro import repo_root

    return repo_root()


def _evidence_gate(ev: Evidence, recompute: bool, fresh: bool = False) -> tuple[str, Outcome | None]:
    """Recompute or hash-check a claim's evidence; an Outcome when the claim cannot be judged.

    ``fresh``: the command already ran in this call (its output is read as is).
    """
    root = _root()
    if fresh:
        return f"recomputed (sha256 now {evidence_digest(root, ev)[:12]})", None
    if recompute:
        proc = subprocess.run(ev.command, shell=True, cwd=root, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout)[-400:]
            return "recompute failed", Outcome(float("nan"), f"recompute failed (exit {proc.returncode}): {tail}",
                                               "error")
        return f"recomputed (sha256 now {evidence_digest(root, ev)[:12]})", None
    path = root / ev.path
    if not path.is_file():
        return "missing", Outcome(float("nan"), f"evidence {ev.path} is missing; run with --recompute "
                                  f"({ev.command})", "inconclusive")
    digest = evidence_digest(root, ev)
    if digest != ev.sha256:
        return "hash changed", Outcome(
            float("nan"), f"evidence {ev.path} changed (sha256 {digest[:12]} != recorded {ev.sha256[:12]}): "
            "review the new numbers and update the record", "inconclusive")
    return "hash ok", None


def run_claims(ids: list[str] | None = None, quick: bool = False, progress: Callable[[str], None] | None = None,
               *, tier: str | None = None, recompute: bool = False) -> list[ClaimResult]:
    """Run the claims of ``tier`` (default: ``"quick"`` when ``quick`` else ``"default"``), or ``ids``.

    Checks run at their small size only in the quick tier. Never raises for a failing check:
    an exception becomes the verdict ``error``.
    """
    tier = _check_tier(tier if tier is not None else ("quick" if quick else "default"))
    small = tier == "quick"
    results = []
    recomputed: set[str] = set()  # a command shared by several claims runs once per call
    for c in select_claims(tier, ids):
        if progress:
            progress(c.id)
        t0 = time.perf_counter()
        status, out = "", None
        try:
            for ev in c.evidence:
                if out is None:
                    status, out = _evidence_gate(ev, recompute, fresh=recompute and ev.command in recomputed)
                    if recompute:
                        recomputed.add(ev.command)
            if out is None:
                out = c.check(small)
        except Exception as exc:
            out = Outcome(float("nan"), f"{type(exc).__name__}: {exc}", "error")
        results.append(ClaimResult(c, out, time.perf_counter() - t0, status))
    return results


def summary_counts(results: list[ClaimResult]) -> dict[str, int]:
    return {v: sum(r.outcome.verdict == v for r in results) for v in VERDICTS}


def summary_line(results: list[ClaimResult]) -> str:
    """``"N claims: verified a, refuted b, inconclusive c, error d; n/N as expected"``."""
    counts = summary_counts(results)
    n_ok = sum(r.ok for r in results)
    return (f"{len(results)} claim{'' if len(results) == 1 else 's'}: " + ", ".join(f"{v} {n}" for v, n in counts.items())
            + f"; {n_ok}/{len(results)} as expected")


def _esc(s) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def render_markdown(results: list[ClaimResult], tier: str = "default", command: str | None = None) -> str:
    """docs/claims.md: the run's verdicts grouped by paper, with tiers, figures and evidence."""
    from driftlab._version import __version__

    cmd = command or ("driftlab verify --format markdown" + {"quick": " --quick", "full": " --full"}.get(tier, ""))
    out = [
        "# Claims ledger",
        "",
        f"Generated by `{cmd}` (driftlab {__version__}). Do not edit by hand.",
        "",
        "Every row is an executable check, a plain record of the registry `driftlab.theory.ledger.CLAIMS` "
        "(checks in `driftlab/theory/_claims/<family>.py`), also collected by pytest "
        "(`tests/test_theory_ledger.py`); each family has a mutation test showing that a perturbed "
        "formula or a wrong exponent turns its verdict. Tiers: `quick` (`driftlab verify --quick`, "
        "< 2 min on 2 cores), `default` (`driftlab verify`, < 15 min), `full` (`driftlab verify --full`: "
        "heavy sweeps and trained models). A claim read from a committed result file records the file, its "
        "sha256 and the command that recomputes it (`driftlab verify --recompute`). "
        "\"(derived)\" marks formulas re-derived here; \"correction\" marks what holds where a claim was refuted. "
        "Figures: `driftlab repro NAME` (each name links to its script; the files are in `figures/`).",
        "",
        "Summary: " + summary_line(results) + f" (tier `{tier}`).",
        "",
    ]
    links: dict[str, str] = {}
    try:  # figure name -> its script (docs/ is one level below the checkout's root)
        from driftlab.repro import discover, repo_root

        root = repo_root()
        links = {name: "../" + str(s.path.relative_to(root)) for name, s in discover(root).items()}
    except Exception:  # noqa: BLE001 - outside a checkout the names stay plain
        links = {}
    groups: dict[str, list[ClaimResult]] = {}
    for r in results:
        groups.setdefault(r.claim.primary_paper, []).append(r)
    order = [p for p in PAPERS if p in groups] + [p for p in groups if p not in PAPERS]
    for paper in order:
        rs = groups[paper]
        out += [f"## {paper} {PAPERS.get(paper, '')}".rstrip(), "",
                "Summary: " + summary_line(rs) + ".", "",
                "| claim | paper | statement | measured | tolerance | verdict | expected | tier | figures |",
                "|---|---|---|---|---|---|---|---|---|"]
        for r in rs:
            c, o = r.claim, r.outcome
            figs = ", ".join(f"[`{f}`]({links[f]})" if f in links else f"`{f}`" for f in c.figures) or "-"
            out.append(f"| `{c.id}` | {_esc(c.paper)} | {_esc(c.statement)} | {_esc(o.display)} | {_esc(c.tolerance)} "
                       f"| **{o.verdict}** | {c.expected} | {c.tier} | {figs} |")
        out.append("")
    notes = [r for r in results if r.claim.note]
    if notes:
        out += ["## Corrections and partial results", ""]
        for r in notes:
            out.append(f"- `{r.claim.id}` ({r.outcome.verdict}): {r.claim.note}")
        out.append("")
    evid = [r for r in results if r.claim.evidence]
    if evid:
        out += ["## Evidence from committed results", "",
                "The sha256 is of the file, or of the canonical JSON (sorted keys, no spaces) of the named keys.", ""]
        for r in evid:
            for ev in r.claim.evidence:
                keys = f" (keys {', '.join(f'`{k}`' for k in ev.keys)})" if ev.keys else ""
                out.append(f"- `{r.claim.id}`: `{ev.path}`{keys}, sha256 `{ev.sha256}`; recompute: `{ev.command}`")
        out.append("")
    out += ["## Why each tolerance", ""]
    for r in results:
        out.append(f"- `{r.claim.id}`: {r.claim.why}")
    return "\n".join(out) + "\n"
