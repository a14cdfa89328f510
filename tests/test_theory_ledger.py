"""The claims ledger as pytest cases, mutation tests per family, and the `driftlab verify` CLI.

Every claim's check runs in its quick form and must return its *expected* verdict. The
mutation tests perturb the formula under test and require that the check no longer
verifies: a check that cannot fail would pass them too, so they are what makes the ledger
evidence. Tolerances are stated (with reasons) in the claims themselves.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from driftlab.theory import ledger as L
from driftlab.theory import precise as P
from driftlab.theory import symbolic as S
from driftlab.theory._claims import gaussian as G
from driftlab.theory._claims import laplace as LP


def _slow(c) -> bool:
    # quick-tier claims run in the default test profile; default-tier claims only when they
    # merely read committed evidence (cheap); the full tier is never in the fast profile
    return c.slow_in_tests or c.tier == "full" or (c.tier == "default" and not c.evidence)


CASES = [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if _slow(c) else []) for c in L.CLAIMS]


@pytest.mark.parametrize("claim", CASES)
def test_claim_has_expected_verdict(claim):
    # through run_claims: evidence-backed claims are hash-checked before their check runs
    (res,) = L.run_claims([claim.id], quick=True)
    out = res.outcome
    if claim.tier == "full":
        # a full-tier claim (e.g. the trained official toy) is judged only at full size by
        # `driftlab verify --full`; here its reduced run must complete with a verdict
        assert out.verdict in L.VERDICTS[:3], f"{claim.id}: {out.display}"
        return
    assert out.verdict == claim.expected, (f"{claim.id}: measured {out.display}, verdict {out.verdict}, "
                                           f"expected {claim.expected}")


def test_registry_is_well_formed():
    ids = [c.id for c in L.CLAIMS]
    assert len(ids) == len(set(ids))
    families = {c.family for c in L.CLAIMS}
    assert {"tweedie", "fourier", "scale-mixture", "laplace-decomposition", "laplace-residual",
            "identifiability", "reverse-fisher", "conservativity", "algorithm2", "estimators", "official-toy",
            "spectral-rates", "spectral-laws", "spectral-landau", "spectral-particles", "sinkhorn", "stop-gradient",
            "spacetime"} <= families
    for c in L.CLAIMS:
        assert c.expected in L.VERDICTS[:3] and c.tolerance and c.why and c.paper, c.id
        assert c.tier in L.TIERS, c.id
        assert c.primary_paper in L.PAPERS, (c.id, c.paper)


# ----- mutation tests: one (or more) per family ---------------------------------------------
def test_mutation_tweedie():
    # factor 2 s^2 instead of s^2 in the symbolic proof; 1e-12 relative change at 40 digits
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(S, "_claimed_tweedie_factor", lambda s: 2 * s**2)
        mp.setattr(S, "_claimed_tweedie_factor_h", lambda h: h)
        mp.setattr(P, "_CLAIMED_FACTOR", 1 + 1e-12)
        assert not S.is_zero(S.tweedie_general_1d())
        assert not S.is_zero(S.tweedie_general_1d(h_kernel=True))
        assert P.tweedie_empirical().max_rel_error > 1e-30
    assert G.check_equal_covariance(True, factor=1.001).verdict == "refuted"
    assert G.check_tweedie_quadrature(True, factor=1 + 1e-6).verdict == "refuted"


def test_mutation_fourier():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(S, "_claimed_laplace_exponent", lambda d: -(d + 2) / 2)
        assert not S.is_zero(S.laplace_fourier_general_dim())
        assert not S.is_zero(S.laplace_fourier_radial(3))
    assert P.laplace_fourier_numeric(dims=(3,), ks=(1.3,), exponent_shift=1e-6).max_rel_error > 1e-30


def test_mutation_scale_mixture():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(S, "_claimed_mixture_scale", lambda t: 2 * t**2)
        assert not S.is_zero(S.laplace_scale_mixture())
    assert P.scale_mixture_kernel(rs=(0.7,), scale=1.0001).max_rel_error > 1e-30


def test_mutation_laplace_decomposition():
    assert P.laplace_decomposition(drop_covariance=True).max_rel_error > 1e-3
    assert P.companion_identity(offset=0.0).max_rel_error > 1e-3  # tau * rbar instead of tau (tau + rbar)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(S, "_claimed_companion_offset", lambda t: 2 * t)
        assert not S.is_zero(S.companion_gradient(3))


def test_mutation_laplace_residual():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(S, "_claimed_second_moment", lambda d, t: d * t**2)
        assert not S.is_zero(S.laplace_second_moment())
    # constant d instead of d + 1: the "error" no longer vanishes (slope ~ 0)
    assert LP.check_low_temperature_exponent(True, constant=2.0 / 3.0).verdict == "refuted"
    assert LP.check_residual_limit(True, limit=lambda d: 1.0 / d).verdict == "refuted"
    assert LP.check_constant_preconditioner(True, constant=2.0 / 3.0).verdict == "refuted"  # d tau^2 instead
    assert LP.check_dimension_asymptotic(True, claimed=-1.5).verdict != "verified"


def test_mutation_identifiability():
    assert G.check_identifiability(True, factor=1.01).verdict == "refuted"  # s^2 off by 1%
    assert G.check_identifiability_2d(True, factor=1.01).verdict == "refuted"
    assert G.check_collapse_jacobian(True, shift=1e-6).verdict == "refuted"


def test_mutation_reverse_fisher():
    assert G.check_reverse_fisher_mc(True, power=4.2).verdict == "refuted"
    assert G.check_dmd_numeric(True, weight=1.0).verdict == "refuted"
    assert G.check_gaussian_flow_particles(True, perturb=0.2).verdict == "refuted"


@pytest.mark.slow
def test_mutation_reverse_fisher_symbolic():
    import sympy as sp

    with pytest.MonkeyPatch.context() as mpatch:
        mpatch.setattr(S, "_claimed_reverse_fisher_1d", lambda s, A, B, vq, mp, mq: s**4 * (
            (B - A) ** 2 * vq + A**2 * (mp - mq) ** 2 * sp.Rational(11, 10)))
        assert not S.is_zero(S.reverse_fisher_1d())


def test_mutation_conservativity():
    import numpy as np

    from driftlab.distributions import GaussianMixture
    from driftlab.theory.conservativity import drift_field, jacobian_asymmetry

    p = GaussianMixture([[-1.5, 0.0], [1.5, 0.5]], [0.5, 0.3])
    q = GaussianMixture([[0.3, -0.4]], [[[1.2, 0.4], [0.4, 0.7]]])
    x = np.random.default_rng(0).normal(size=(3, 2))
    from driftlab.theory import conservativity as C

    # sharp normalisation with the wrong offset (m / rbar) is no longer a gradient field
    assert jacobian_asymmetry(drift_field("sharp", p, q, 0.5), x) < 1e-6
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(C, "_SHARP_OFFSET", 0.0)
        assert jacobian_asymmetry(drift_field("sharp", p, q, 0.5), x) > 1e-3


# ----- CLI --------------------------------------------------------------------------------------
def test_cli_verify_only_table_and_json(tmp_path):
    from driftlab.cli import main

    r = CliRunner().invoke(main, ["verify", "--quick", "--only", "conserv.laplace", "--only", "ident.collapse"])
    assert r.exit_code == 0, r.output
    assert "conserv.laplace" in r.output and "verified" in r.output
    r = CliRunner().invoke(main, ["verify", "--only", "ident.collapse", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout if hasattr(r, "stdout") else r.output)
    assert data[0]["id"] == "ident.collapse" and data[0]["verdict"] == "verified"
    out = tmp_path / "claims.md"
    r = CliRunner().invoke(main, ["verify", "--only", "ident.collapse", "--format", "markdown", "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert "| `ident.collapse` |" in out.read_text()


def test_cli_verify_unknown_id_and_failure_exit(monkeypatch):
    from driftlab.cli import main

    r = CliRunner().invoke(main, ["verify", "--only", "no.such.claim"])
    assert r.exit_code == 2 and "unknown claim" in r.output
    bad = L.Claim("test.fails", "tweedie", "[T]", "a check expected to hold that fails", "x", "y",
                  lambda quick: L.Outcome(1.0, "1", "refuted"))
    monkeypatch.setattr(L, "CLAIMS", L.CLAIMS + [bad])
    r = CliRunner().invoke(main, ["verify", "--only", "test.fails"])
    assert r.exit_code == 1


def test_run_claims_turns_exceptions_into_error_verdicts(monkeypatch):
    def boom(quick):
        raise RuntimeError("kaput")

    monkeypatch.setattr(L, "CLAIMS", [L.Claim("test.boom", "tweedie", "[T]", "s", "t", "w", boom)])
    (res,) = L.run_claims(quick=True)
    assert res.outcome.verdict == "error" and not res.ok and "kaput" in res.outcome.display


def test_committed_claims_md_matches_the_registry():
    # docs/claims.md is generated (`driftlab verify --format markdown`); a hand edit or a partial
    # re-render that puts one section's text under another must fail here. The measured column
    # and the verdicts are what the committed run found, so they are read back from the file and
    # everything else (statements, tolerances, notes, evidence hashes, the reasons for each
    # tolerance, the order and the summaries) is rendered from the registry and compared line
    # by line.
    import math
    import re

    from driftlab.repro import repo_root

    doc = (repo_root() / "docs" / "claims.md").read_text().splitlines()
    found = {}
    for ln in doc:
        m = re.match(r"^\| `([^`]+)` \|", ln)
        if m:
            cols = [c.strip() for c in re.split(r"(?<!\\)\|", ln)[1:-1]]
            found[m.group(1)] = (cols[3].replace("\\|", "|"), cols[5].strip("*"))
    want = [c.id for c in L.select_claims("default")]
    assert sorted(found) == sorted(want), (sorted(set(want) - set(found)), sorted(set(found) - set(want)))
    results = [L.ClaimResult(c, L.Outcome(math.nan, found[c.id][0], found[c.id][1]), 0.0)
               for c in L.select_claims("default")]
    rendered = L.render_markdown(results, "default").splitlines()
    bad = [(i + 1, a, b) for i, (a, b) in enumerate(zip(doc, rendered)) if a != b]
    assert len(doc) == len(rendered) and not bad, (
        f"docs/claims.md differs from the registry in {len(bad)} lines (and {len(doc)} vs {len(rendered)} lines); "
        f"first: line {bad[0][0] if bad else '-'}:\n  file: {bad[0][1][:200] if bad else ''}\n  "
        f"registry: {bad[0][2][:200] if bad else ''}")
