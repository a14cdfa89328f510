r"""The plain records of the claims ledger and the verdict helpers every family uses.

A :class:`Claim` is data: id, family, paper, statement, tolerance and why, the check
function ``check(quick) -> Outcome``, its tier, the figures that show it and, for a claim
whose evidence is a committed result file, an :class:`Evidence` record (file, content hash,
the command that recomputes it).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "EXACT",
    "TIERS",
    "VERDICTS",
    "WHY_MP",
    "WHY_SYM",
    "Claim",
    "Evidence",
    "Outcome",
    "below",
    "evidence_digest",
    "precise",
    "precise_q",
    "sym",
    "symbolic",
    "within",
]

VERDICTS = ("verified", "refuted", "inconclusive", "error")
#: tiers in increasing cost: ``quick`` (< 2 min on 2 cores, every paper represented), the
#: default (< 15 min) and ``full`` (heavy sweeps, trained models)
TIERS = ("quick", "default", "full")


@dataclass(frozen=True)
class Outcome:
    """What a check measured: a headline number, its display string, the verdict, details."""

    value: float
    display: str
    verdict: str
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Evidence:
    """A committed result file a claim reads, its content hash and the command that recomputes it.

    ``keys`` (optional) names the top-level JSON keys whose canonical JSON is hashed instead
    of the whole file, so that metadata added to a figure's JSON does not invalidate the
    evidence while any change of the numbers the claim reads does.
    """

    path: str  # relative to the checkout's root
    sha256: str
    command: str
    keys: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Claim:
    id: str
    family: str
    paper: str
    statement: str
    tolerance: str
    why: str
    check: Callable[[bool], Outcome]
    expected: str = "verified"
    tier: str = "quick"  # one of TIERS
    figures: tuple[str, ...] = ()  # `driftlab repro` names of the figures that show the claim
    evidence: tuple[Evidence, ...] = ()  # committed files the check reads (hash-checked first)
    slow_in_tests: bool = False  # pytest marks it slow (still run by `driftlab verify --quick`)
    note: str = ""  # what holds instead / in what sense (for refuted or partial claims)

    def __post_init__(self) -> None:
        if self.tier not in TIERS:
            raise ValueError(f"claim {self.id}: tier must be one of {TIERS}, got {self.tier!r}")
        if self.expected not in VERDICTS[:3]:
            raise ValueError(f"claim {self.id}: expected must be one of {VERDICTS[:3]}, got {self.expected!r}")
        object.__setattr__(self, "figures", tuple(self.figures))
        ev = self.evidence
        object.__setattr__(self, "evidence", (ev,) if isinstance(ev, Evidence) else tuple(ev or ()))

    @property
    def quick(self) -> bool:
        """Part of ``driftlab verify --quick``."""
        return self.tier == "quick"

    @property
    def primary_paper(self) -> str:
        """The first paper tag of ``paper`` (``"[T, L] (derived)"`` -> ``"[T]"``); docs group by it."""
        m = re.search(r"\[([A-Za-z]+)", self.paper)
        return f"[{m.group(1)}]" if m else "(derived)"


def evidence_digest(root: Path, ev: Evidence) -> str:
    """sha256 of the evidence file (or of the canonical JSON of its ``keys``)."""
    data = (Path(root) / ev.path).read_bytes()
    if ev.keys is not None:
        obj = json.loads(data)
        data = json.dumps({k: obj[k] for k in ev.keys}, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest()


# ----- verdict helpers ------------------------------------------------------------------
def below(value: float, tol: float, fmt: str = "{:.2e}", detail: dict | None = None) -> Outcome:
    """Verified when ``value <= tol`` (an error measure), refuted otherwise."""
    verdict = "verified" if value <= tol else "refuted"
    return Outcome(float(value), fmt.format(value), verdict, detail or {})


def within(value: float, target: float, tol: float, refute: float | None = None, fmt: str = "{:.4g}",
           detail: dict | None = None) -> Outcome:
    """``|value - target| <= tol``: verified; ``> refute`` (default ``tol``): refuted; else inconclusive."""
    dev = abs(value - target)
    refute = tol if refute is None else refute
    verdict = "verified" if dev <= tol else ("refuted" if dev > refute else "inconclusive")
    return Outcome(float(value), (fmt.format(value) + f" (claimed {target:.4g}, |dev| {dev:.1e})"), verdict,
                   detail or {})


def symbolic(fn: Callable, *args) -> Outcome:
    from driftlab.theory.symbolic import is_zero

    ok = is_zero(fn(*args))
    return Outcome(0.0 if ok else 1.0, "0 (exact)" if ok else "non-zero", "verified" if ok else "refuted")


def precise(fn: Callable, **kw) -> Outcome:
    res = fn(**kw)
    return below(res.max_rel_error, 1e-30, detail={"dps": res.dps, "n_points": res.n_points})


def precise_q(name: str, quick_kw: dict, full_kw: dict) -> Callable[[bool], Outcome]:
    def run(quick: bool) -> Outcome:
        from driftlab.theory import precise as P

        return precise(getattr(P, name), **(quick_kw if quick else full_kw))

    return run


def sym(name: str) -> Callable[[bool], Outcome]:
    def run(quick: bool) -> Outcome:
        from driftlab.theory.symbolic import PROOFS

        return symbolic(PROOFS[name])

    return run


EXACT = "exact symbolic 0"
WHY_SYM = "an identity is exact: sympy must simplify the difference to 0 (any perturbation leaves a non-zero expression)"
WHY_MP = ("40-digit mpmath arithmetic; mpmath.diff / mpmath.quad lose a few digits, so agreement to 1e-30 "
          "means exact up to working precision, while any O(1) error in the formula shows at O(1)")
