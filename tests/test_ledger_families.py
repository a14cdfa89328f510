"""The ledger's [D], [ABC] and spectral families: mutation tests, their independent references,
the registry as data (tiers, figures, evidence) and the `driftlab verify` tiers and summary.

A mutation test perturbs the formula (or the exponent, or the claimed constant) a check
tests and requires that the verdict turns: a check that cannot fail would pass the
unperturbed case too. Tolerances are stated in the claims; the few numeric assertions here
state theirs inline.
"""

from __future__ import annotations

import json
import math
from functools import partial

import numpy as np
import pytest
from click.testing import CliRunner

from driftlab.theory import ledger as L
from driftlab.theory._claims import algorithm2 as A
from driftlab.theory._claims import estimators as E
from driftlab.theory._claims import official as O
from driftlab.theory._claims import spacetime as ST
from driftlab.theory._claims import spectral as SP
from driftlab.theory._claims import variational as VA
from driftlab.theory._claims._record import Claim, Evidence, Outcome, evidence_digest


# ----- mutation tests --------------------------------------------------------------------
def test_mutation_algorithm2():
    # (row x col)^0.55 instead of the square root: the streamed field no longer matches
    assert A.check_sqrt_normalisation(True, power=0.55).verdict == "refuted"
    unbalanced = partial(A.algorithm2_dense, unbalanced=True)  # W- = A- rowsum(A-)
    assert A.check_weight_balance(True, field=unbalanced).verdict == "refuted"
    assert A.check_antisymmetry(True, field=unbalanced).verdict == "refuted"
    assert A.check_invariances(True, field=partial(A.algorithm2_dense, metric_scale=1.1)).verdict == "refuted"
    assert A.check_self_zero(True, field=partial(A.algorithm2_dense, neg_tau_factor=1.1)).verdict == "refuted"
    # the unperturbed literal transcription passes the same checks (so they test the formula)
    for check in (A.check_weight_balance, A.check_antisymmetry, A.check_invariances, A.check_self_zero):
        assert check(True, field=A.algorithm2_dense).verdict == "verified", check.__name__
    # float64 has no underflow at 120 tau: the "naive field collapses" part of the claim fails
    assert A.check_far_field(True, naive_dtype=np.float64).verdict == "refuted"


def test_mutation_estimators():
    # a half-strength [ABC] correction leaves an O(1/n) bias: slope -1 instead of -2
    assert E.check_abc_bias_law(True, abc_coefficient=0.5).verdict == "refuted"


def test_mutation_batch_to_population():
    # committed run: slope -0.522, ratios 0.945 ... 1.105. A claimed 1/n rate, or a standard error
    # 1.5x too large, turns the verdict
    assert E.check_batch_convergence(True).verdict == "verified"
    assert E.check_batch_convergence(True, exponent=1.0).verdict == "refuted"
    assert E.check_batch_convergence(True, se_scale=1.5).verdict == "refuted"


def test_exact_self_normalised_against_closed_cases():
    # n = 1: T_1 = y_1, so E[T_1] = E[y] = 0 and the ABC estimator is y itself (E = 0); this
    # checks the t-integral identity D^-p = int t^(p-1) e^(-tD) dt / Gamma(p) end to end.
    # Tolerance 1e-11: trapezoid in log t and Gauss-Legendre sums converge to ~1e-14.
    r = E.exact_self_normalised(1)
    assert abs(r["E_T"]) < 1e-11 and abs(r["E_T_abc"]) < 1e-11, r
    # n = 2 against a direct double sum over the same y nodes (an independent formula)
    y, w = E._nodes(E._X)
    k = np.exp(-np.abs(y - E._X) / E._TAU)
    K1, K2 = np.meshgrid(k, k, indexing="ij")
    Y1, Y2 = np.meshgrid(y, y, indexing="ij")
    W = np.outer(w, w)
    D = K1 + K2
    a1, a2 = K1 / D, K2 / D
    tn = a1 * Y1 + a2 * Y2
    s2 = a1**2 + a2**2
    direct_tn = float(np.sum(W * tn))
    direct_abc = float(np.sum(W * ((1 - s2) * tn + a1**2 * Y1 + a2**2 * Y2)))
    r2 = E.exact_self_normalised(2)
    assert abs(r2["E_T"] - direct_tn) < 1e-11, (r2["E_T"], direct_tn, r2["E_T"] - direct_tn)
    assert abs(r2["E_T_abc"] - direct_abc) < 1e-11, (r2["E_T_abc"], direct_abc, r2["E_T_abc"] - direct_abc)


@pytest.mark.slow
def test_mutation_estimators_monte_carlo():
    # the library's 'abc' field against an exact value computed with a half-strength
    # correction: the Monte Carlo z-score leaves the 4-sigma band
    assert E.check_separate_bias(False, abc_coefficient=0.5).verdict != "verified"


def test_mutation_spectral_rates():
    # a 1% wrong length scale in the reference spectrum (rates off by ~2%)
    assert SP.check_rate_closed_and_hankel(True, exponent_shift=0.01).verdict == "refuted"
    assert SP.check_rate_grid_solver(True, exponent_shift=0.01).verdict == "refuted"
    assert SP.check_operator_rates(True, exponent_shift=0.01).verdict == "refuted"
    assert SP.check_rate_wendland_hankel(True, radius_factor=1.01).verdict == "refuted"
    assert SP.check_gaussian_peak(True, claimed_peak=1 / math.e).verdict == "refuted"
    assert SP.check_gaussian_peak(True, claimed_sk=1.0).verdict == "refuted"


def test_mutation_spectral_laws():
    assert SP.check_gaussian_bottleneck(True, claimed_c=lambda s: s * s).verdict == "refuted"  # c = s^2
    assert SP.check_laplace_polynomial(True, claimed=lambda d: d + 3.0).verdict == "refuted"  # wrong exponent
    assert SP.check_laplace_polynomial(True, claimed=lambda d: d + 1.05).verdict == "refuted"
    assert SP.check_gaussian_retuned(True, claimed_constant=2.0).verdict == "refuted"  # K^2 / (2 ln K)
    assert SP.check_annealing_log(True, claimed_per_doubling=lambda r: 1.0 / r).verdict == "refuted"
    assert SP.check_annealing_log(True, claimed_per_doubling=lambda r: math.log(2) / r * 1.001).verdict == "refuted"


def test_mutation_spectral_particles_and_landau():
    assert SP.check_particles_rates(True, tol=0.01).verdict == "refuted"  # a 1% claim does not hold
    assert SP.check_anneal_particles_sweep(True, claimed=lambda r: 1.2 / r).verdict == "refuted"
    # a wrong published root (omega_r 1.45) no longer matches the 30-digit root
    assert SP.check_landau_analogy(True, plasma_reference=complex(1.45, -0.1534)).verdict == "refuted"


def test_reference_rates_are_the_closed_forms():
    # the mpmath references against hand-written closed forms (not driftlab's): 1e-13 is
    # mpmath.diff at 30 digits rounded to float64
    s, k = 0.7, 1.9
    assert abs(SP.reference_rate("gaussian", k, 3) - s * s * k * k * math.exp(-s * s * k * k / 2)) < 1e-13
    for d in (1, 2, 3):
        lap = (d + 1) * s * s * k * k / (1 + s * s * k * k) ** ((d + 3) / 2)
        assert abs(SP.reference_rate("laplace", k, d) - lap) < 1e-13, d


@pytest.mark.slow
def test_mutation_official_toy():
    # the committed W2 scaled by 2: more than twice the data-vs-data floor
    assert O.check_committed_reduced_run(True, w2_scale=2.0).verdict == "refuted"


@pytest.mark.slow
def test_mutation_sinkhorn():
    # s^2 = 1.01 eps in the reference posterior means; -(N - 1) grad S instead of -N grad S
    assert VA.check_sinkhorn_zero_iterations(True, s2_factor=1.01).verdict == "refuted"
    assert VA.check_sinkhorn_converged_gradient(True, factor=8.0).verdict == "refuted"


def test_mutation_stopgrad_and_committed_ablations():
    assert VA.check_frozen_field_jko(True, eta_factor=1.01).verdict == "refuted"  # 2.02 eta instead of 2 eta
    assert VA.check_collapse_without_stopgrad(True, loss_ratio=0.5).verdict == "refuted"
    assert VA.check_sinkhorn_mode_coverage(True, min_fraction=1.01).verdict == "refuted"


def test_mutation_spacetime():
    wrong = dict(ST.TOY_PUBLISHED, geodesic=6.45)
    assert ST.check_toy_geodesic(True, published=wrong).verdict == "refuted"
    assert ST.check_toy_geodesic(True, published=dict(ST.TOY_PUBLISHED, t_peak=0.55)).verdict == "refuted"
    assert ST.check_hyperbolic(True, order=1.0).verdict == "refuted"  # a first-order claim
    assert ST.check_pf_ode_vs_geodesic(True, length_margin=0.005).verdict == "refuted"
    assert ST.check_jeffreys_identity(True, sign=-1.0).verdict == "refuted"  # KL difference, not sum
    assert ST.check_schedule_invariance(True, closed_form_scale=1.001).verdict == "refuted"
    # an (absurd) 100-SE criterion: nothing is 'beaten' any more, so the refutation no longer stands
    assert ST.check_mullerbrown_paths(True, z_threshold=100.0).verdict != "refuted"


def test_mutation_spacetime_alanine():
    # the committed sweep: bound 36.336 (grid) / 36.332 (MEP); [S] 36.42. A claimed 36.60 is 0.27 away
    assert ST.check_alanine_bound(True).verdict == "verified"
    assert ST.check_alanine_bound(True, published=36.60).verdict == "refuted"
    # a MEP maximum 0.5 higher disagrees with the grid by more than one cell's variation (0.25)
    assert ST.check_alanine_bound(True, mep_shift=0.5).verdict == "refuted"
    # geodesic paths measured at 56-68: refuted against 37.36 +- 0.60, verified against a claim
    # they do meet (60 +- 8), so the check reads the numbers and not a fixed verdict
    assert ST.check_alanine_geodesic(True).verdict == "refuted"
    assert ST.check_alanine_geodesic(True, published=(60.0, 8.0)).verdict == "verified"


def test_alanine_grid_resolution_is_the_cell_variation_at_the_saddle():
    # independent: the node nearest the committed saddle (-0.035, -0.529) on the 89 x 89 grid
    # of [-pi, pi)^2 is (44, 37); the value is a max of |U differences|, exact in float64
    from driftlab.spacetime import alanine_dipeptide

    U = alanine_dipeptide().values
    want = max(abs(U[44, 37] - U[44 + di, 37 + dj]) for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)))
    got = ST.alanine_grid_resolution([-0.03529879386056001, -0.5294819079083921])
    assert got == want, (got, want, got - want)


# ----- registry as data --------------------------------------------------------------------
def test_every_figure_named_by_a_claim_exists():
    from driftlab.repro import discover

    names = set(discover())
    missing = {(c.id, f) for c in L.CLAIMS for f in c.figures if f not in names}
    assert not missing, missing


def test_evidence_records_match_the_committed_files():
    from driftlab.repro import repo_root

    root = repo_root()
    for c in L.CLAIMS:
        for ev in c.evidence:
            assert (root / ev.path).is_file(), (c.id, ev.path)
            got = evidence_digest(root, ev)
            assert got == ev.sha256, f"{c.id}: {ev.path} sha256 {got} != recorded {ev.sha256}"
            assert ev.command.strip(), c.id


def test_tiers_nest_and_quick_covers_every_paper():
    quick, default, full = (L.select_claims(t) for t in L.TIERS)
    assert set(c.id for c in quick) < set(c.id for c in default) < set(c.id for c in full)
    assert len(full) == len(L.CLAIMS)
    papers = {c.primary_paper for c in L.CLAIMS}
    assert {c.primary_paper for c in quick} == papers
    assert {"[D]", "[T]", "[L]", "[F]", "[KG]", "[ABC]", "[S]"} <= papers
    with pytest.raises(ValueError, match="tier must be one of"):
        L.select_claims("huge")
    with pytest.raises(ValueError, match="tier must be one of"):
        Claim("x", "f", "[T]", "s", "t", "w", lambda q: None, tier="huge")


def test_changed_evidence_is_inconclusive_and_recompute_runs_the_command(monkeypatch, tmp_path):
    from driftlab.repro import repo_root

    root = repo_root()
    ev_bad = Evidence("analysis/results/simulation_anneal_sweep/fits_1d.csv", "0" * 64, "true")
    calls = []
    claim = Claim("test.evidence", "test", "[T]", "s", "t", "w",
                  lambda quick: (calls.append(quick), Outcome(0.0, "0", "verified"))[1],
                  tier="default", evidence=ev_bad)
    monkeypatch.setattr(L, "CLAIMS", [claim])
    (res,) = L.run_claims(tier="default")
    assert res.outcome.verdict == "inconclusive" and "changed" in res.outcome.display and not calls
    assert res.evidence_status == "hash changed"
    (res,) = L.run_claims(tier="default", recompute=True)  # command `true` succeeds, then the check runs
    assert res.outcome.verdict == "verified" and calls and res.evidence_status.startswith("recomputed")
    # two claims sharing a command: it runs once, and the second reads the fresh output
    log = tmp_path / "runs.txt"
    shared = Evidence(ev_bad.path, ev_bad.sha256, f"echo run >> {log}")
    twins = [Claim(f"test.twin{i}", "test", "[T]", "s", "t", "w", lambda quick: Outcome(0.0, "0", "verified"),
                   evidence=shared) for i in (1, 2)]
    monkeypatch.setattr(L, "CLAIMS", twins)
    res = L.run_claims(recompute=True)
    assert [r.outcome.verdict for r in res] == ["verified", "verified"] and log.read_text() == "run\n"
    failing = Claim("test.evidence", "test", "[T]", "s", "t", "w", lambda quick: Outcome(0.0, "0", "verified"),
                    evidence=Evidence(ev_bad.path, ev_bad.sha256, "exit 3"))
    monkeypatch.setattr(L, "CLAIMS", [failing])
    (res,) = L.run_claims(recompute=True)
    assert res.outcome.verdict == "error" and "exit 3" in res.outcome.display
    assert (root / ev_bad.path).is_file()


def test_json_rows_carry_tier_figures_and_evidence():
    (r,) = L.run_claims(["spectral.particles.euler-corrected"], quick=True)
    row = r.as_dict()
    assert row["tier"] == "default" and row["figures"] == ["simulation-modes"]
    assert row["evidence"][0]["path"] == "figures/simulation_modes.json" and row["evidence"][0]["status"] == "hash ok"


def test_markdown_is_grouped_by_paper_with_figures():
    res = L.run_claims(["d.alg2.self-zero", "spectral.annealing.log-k", "abc.bias-law", "conserv.laplace"],
                       quick=True)
    md = L.render_markdown(res, "quick")
    heads = [line for line in md.splitlines() if line.startswith("## [")]
    assert [h.split()[1] for h in heads] == ["[D]", "[T]", "[F]", "[ABC]"], heads
    assert "`spectral-anneal`" in md and "Summary: 4 claims: verified 4, refuted 0, inconclusive 0, error 0" in md


def test_summary_line_counts_each_verdict():
    c = Claim("x", "f", "[T]", "s", "t", "w", lambda q: None)
    rs = [L.ClaimResult(c, Outcome(0, "", v), 0.0) for v in ("verified", "verified", "refuted", "inconclusive")]
    assert L.summary_line(rs) == "4 claims: verified 2, refuted 1, inconclusive 1, error 0; 2/4 as expected"


# ----- CLI tiers ------------------------------------------------------------------------------
def test_cli_tiers_and_summary():
    from driftlab.cli import main

    r = CliRunner().invoke(main, ["verify", "--quick", "--full"])
    assert r.exit_code == 2 and "exclusive" in r.output
    r = CliRunner().invoke(main, ["verify", "--list"])
    assert r.exit_code == 0 and "d.official-toy.full-protocol" in r.output and " full " in r.output
    r = CliRunner().invoke(main, ["verify", "--only", "d.alg2.antisymmetry", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data[0]["tier"] == "quick" and "figures" in data[0]
    assert "verified 1, refuted 0, inconclusive 0, error 0" in r.stderr
