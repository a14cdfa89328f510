"""Parity of :func:`driftlab.fields.official_drift` with the official training code of [D].

The reference below is a dense numpy re-implementation that follows the official
``drift_loss`` step by step (targets ``[gen, neg, pos]``; distances from the expanded
squared norms clipped at 1e-8; a weighted mean scale over all generated-target pairs,
self-pairs included, pooled over groups; coordinates divided by max(scale / sqrt(d), 1e-3);
+100 on the normalised self-distances; row and column softmax; sqrt of their product
clipped at 1e-6; affinities times target weights; forces normalised by the clipped RMS
pooled over groups). It is written independently of driftlab's streamed code and computes
in the dtype it is given, as the official code computes in float32.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftlab.fields import official_drift


def _softmax(z, axis):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def official_reference(gen, pos, neg=None, weight_gen=None, weight_pos=None, weight_neg=None,
                       temps=(0.02, 0.05, 0.2), dtype=np.float64):
    """Dense reference: (goal - scaled gen, per-group loss, scale, {R: mean squared force})."""
    gen = np.asarray(gen, dtype)
    pos = np.asarray(pos, dtype)
    G, n, S = gen.shape
    neg = np.zeros((G, 0, S), dtype) if neg is None else np.asarray(neg, dtype)
    ones = lambda a: np.ones(a.shape[:2], dtype)  # noqa: E731
    w_gen = ones(gen) if weight_gen is None else np.asarray(weight_gen, dtype)
    w_pos = ones(pos) if weight_pos is None else np.asarray(weight_pos, dtype)
    w_neg = ones(neg) if weight_neg is None else np.asarray(weight_neg, dtype)
    targets = np.concatenate([gen, neg, pos], axis=1)
    tw = np.concatenate([w_gen, w_neg, w_pos], axis=1)
    sq = ((gen * gen).sum(-1)[:, :, None] + (targets * targets).sum(-1)[:, None, :]
          - 2 * np.einsum("gnd,gtd->gnt", gen, targets))
    dist = np.sqrt(np.maximum(sq, dtype(1e-8)))
    scale = (dist * tw[:, None, :]).mean() / tw.mean()
    s_in = np.maximum(scale / np.sqrt(dtype(S)), dtype(1e-3))
    gen_s, targets_s = gen / s_in, targets / s_in
    dn = dist / np.maximum(scale, dtype(1e-3))
    mask = np.zeros(dn.shape[1:], dtype)
    mask[np.arange(n), np.arange(n)] = 1
    dn = dn + mask[None] * dtype(100.0)
    split = n + neg.shape[1]
    force = np.zeros_like(gen_s)
    losses = {}
    for R in temps:
        lg = -dn / dtype(R)
        aff = np.sqrt(np.maximum(_softmax(lg, -1) * _softmax(lg, -2), dtype(1e-6)))
        aff = aff * tw[:, None, :]
        a_neg, a_pos = aff[:, :, :split], aff[:, :, split:]
        coeff = np.concatenate([-a_neg * a_pos.sum(-1, keepdims=True), a_pos * a_neg.sum(-1, keepdims=True)], axis=2)
        f = np.einsum("gnt,gtd->gnd", coeff, targets_s) - coeff.sum(-1)[..., None] * gen_s
        msq = (f * f).mean()
        losses[R] = float(msq)
        force = force + f / np.sqrt(np.maximum(msq, dtype(1e-8)))
    goal = gen_s + force
    loss = ((gen_s - goal) ** 2).mean(axis=(-1, -2))
    return goal - gen_s, loss, float(scale), losses


def _rel(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.linalg.norm(got - want) / np.linalg.norm(want))


def _problem(seed, G, n, mp, mn, d, spread=1.0, weights=False):
    rng = np.random.default_rng(seed)
    gen = rng.normal(size=(G, n, d)) * spread
    pos = rng.normal(size=(G, mp, d)) * spread + 0.7
    neg = rng.normal(size=(G, mn, d)) * spread - 0.3 if mn else None
    w = {}
    if weights:
        w = {"weight_gen": rng.uniform(0.5, 2.0, (G, n)), "weight_pos": rng.uniform(0.5, 2.0, (G, mp))}
        if mn:
            w["weight_neg"] = rng.uniform(0.0, 4.0, (G, mn))
    return gen, pos, neg, w


# parity target: <= 1e-12 relative in float64 (both sides are float64 round-off on O(100)
# logits; measured ~1e-14), <= 1e-5 in float32 (see test_float32_parity)
PARITY64 = 1e-12


@pytest.mark.parametrize("G,n,mp,mn,d,weights", [
    (1, 16, 24, 0, 2, False), (1, 16, 24, 9, 3, False), (1, 32, 16, 8, 2, True), (3, 10, 14, 5, 4, True),
    (2, 7, 30, 0, 1, True), (1, 5, 3, 2, 64, False),
])
def test_float64_parity_with_the_official_code(G, n, mp, mn, d, weights):
    gen, pos, neg, w = _problem(G * 1000 + n + d, G, n, mp, mn, d, weights=weights)
    want, want_loss, want_scale, want_losses = official_reference(gen, pos, neg, **w)
    for tile in (None, 1, 5):
        info = official_drift(gen, pos, neg, return_info=True, tile_size=tile, **w)
        rel = _rel(info.field, want)
        assert rel <= PARITY64, f"G={G} n={n} m+={mp} m-={mn} d={d} tile={tile}: relative difference {rel:.3e}"
        assert abs(info.scale - want_scale) <= 1e-14 * want_scale, (info.scale, want_scale)
        np.testing.assert_allclose(info.loss, want_loss, rtol=1e-12, err_msg="per-group loss")
        for R, v in want_losses.items():
            assert abs(info.losses[R] - v) <= 1e-12 * v, (R, info.losses[R], v)


def test_ungrouped_input_is_one_group():
    gen, pos, neg, _ = _problem(3, 1, 12, 20, 6, 2)
    want = official_reference(gen, pos, neg)[0][0]
    got = official_drift(gen[0], pos[0], neg[0])
    assert got.shape == (12, 2)
    assert _rel(got, want) <= PARITY64


def test_extra_negatives_are_appended_to_the_generated_batch():
    """The generated batch is always its own (self-masked) negative set: passing ``neg``
    adds to it. A field that used ``neg`` alone differs by O(1)."""
    gen, pos, neg, _ = _problem(5, 1, 20, 20, 20, 2)
    with_neg = official_drift(gen[0], pos[0], neg[0])
    assert _rel(with_neg, official_reference(gen, pos, neg)[0][0]) <= PARITY64
    alone = official_reference(np.concatenate([gen], 1), pos, None)[0][0]
    assert _rel(with_neg, alone) > 0.05, "neg must change the field"


def test_self_pairs_enter_the_scale():
    """The scale is the mean over all n (n + m) pairs, the n self-pairs at 1e-4 included."""
    gen, pos, _, _ = _problem(11, 1, 8, 5, 0, 2)
    info = official_drift(gen[0], pos[0], return_info=True)
    targets = np.concatenate([gen[0], pos[0]])
    dist = np.linalg.norm(gen[0][:, None] - targets[None], axis=-1)
    dist[np.arange(8), np.arange(8)] = 1e-4
    assert abs(info.scale - dist.mean()) <= 1e-15 * dist.mean(), (info.scale, dist.mean())
    excl = dist.sum() - 8e-4
    assert abs(info.scale - excl / (8 * 13 - 8)) > 1e-3, "the self-pair-free scale is a different number"


def test_weights_enter_scale_and_affinities():
    gen, pos, neg, w = _problem(21, 1, 10, 12, 6, 2, weights=True)
    plain = official_drift(gen, pos, neg)
    weighted = official_drift(gen, pos, neg, **w)
    assert _rel(weighted, plain) > 1e-3
    assert _rel(weighted, official_reference(gen, pos, neg, **w)[0]) <= PARITY64
    # weights multiply the affinities after both softmaxes: a zero-weight negative adds
    # nothing to the sums yet still takes softmax mass from the others, so the field differs
    # from the field without it (an official-code property, reproduced, not corrected)
    w0 = dict(w, weight_neg=np.zeros((1, 6)))
    zero = official_drift(gen, pos, neg, **w0)
    assert _rel(zero, official_reference(gen, pos, neg, **w0)[0]) <= PARITY64
    no_neg = official_reference(gen, pos, None, weight_gen=w["weight_gen"], weight_pos=w["weight_pos"])[0]
    assert _rel(zero, no_neg) > 1e-3


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12), mp=st.integers(1, 12), mn=st.integers(0, 6),
       d=st.integers(1, 8), spread=st.sampled_from([1e-3, 0.05, 1.0, 30.0]),
       temps=st.lists(st.floats(1e-3, 100.0), min_size=1, max_size=3).map(tuple))
def test_parity_property(seed, n, mp, mn, d, spread, temps):
    """Random sizes (n = 1 included), scales from 1e-3 (the clamps bind) to 30, temperatures
    from 1e-3 to 1e2: float64 parity to 1e-12 relative, or both fields zero."""
    gen, pos, neg, w = _problem(seed, 1, n, mp, mn, d, spread=spread, weights=seed % 2 == 0)
    want = official_reference(gen, pos, neg, temps=temps, **w)[0]
    got = official_drift(gen, pos, neg, temperatures=temps, **w)
    scale = np.linalg.norm(want)
    if scale == 0:
        assert np.linalg.norm(got) == 0
        return
    # tiny temperatures: logits ~ 1e3 / 1e-3 in magnitude; float64 round-off in the
    # exponent grows with them (|logit| * 1e-16), hence 1e-11 here
    assert _rel(got, want) <= 1e-11, f"seed={seed} n={n} m+={mp} m-={mn} d={d} spread={spread} temps={temps}"


def test_float32_parity():
    """float32 in, float32 out; <= 1e-5 relative against the float64 reference. The
    float32 run of the dense reference itself (the official code computes in float32) sits
    at ~1e-6 from float64 on these inputs: distances from expanded norms lose ~eps |x|^2."""
    gen, pos, neg, w = _problem(8, 2, 64, 64, 32, 3, weights=True)
    want = official_reference(gen, pos, neg, **w)[0]
    got = official_drift(gen.astype(np.float32), pos.astype(np.float32), neg.astype(np.float32),
                         **{k: v.astype(np.float32) for k, v in w.items()})
    assert got.dtype == np.float32
    rel = _rel(got, want)
    assert rel <= 1e-5, f"float32 relative difference {rel:.3e}"


def test_torch_matches_numpy_and_keeps_type():
    torch = pytest.importorskip("torch")
    gen, pos, neg, w = _problem(9, 2, 9, 11, 4, 3, weights=True)
    want = official_drift(gen, pos, neg, **w)
    tw = {k: torch.tensor(v) for k, v in w.items()}
    got = official_drift(torch.tensor(gen), torch.tensor(pos), torch.tensor(neg), **tw)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64 and got.shape == (2, 9, 3)
    # same float64 algorithm, other summation order: round-off only
    assert _rel(got.numpy(), want) <= 1e-13


def test_far_float32_data_is_refused_not_nan():
    x = np.full((4, 2), 2e19, np.float32)
    x[:, 0] += np.arange(4, dtype=np.float32) * 1e18
    with pytest.raises(ValueError, match="gen has coordinates"):
        official_drift(x, x[:2] + 1e18)
    # far but representable: finite and equal to the float64 reference
    y = np.random.default_rng(1).normal(size=(6, 2)).astype(np.float32) * 1e3 + 1e15
    v = official_drift(y[:3], y[3:])
    assert np.isfinite(v).all()


@pytest.mark.parametrize("kwargs,match", [
    ({"temperatures": ()}, "temperatures"), ({"temperatures": (0.1, 0.0)}, "temperatures"),
    ({"temperatures": 0.05}, "temperatures"), ({"floor": 1.0}, "floor"), ({"self_mask_offset": -1.0}, "self_mask_offset"),
    ({"self_mask_offset": float("nan")}, "self_mask_offset"), ({"weight_pos": np.ones(3)}, "weight_pos"),
    ({"weight_pos": -np.ones(5)}, "weight_pos"), ({"weight_gen": np.full(4, 1e200)}, "weight_gen"),
    ({"weight_pos": np.full(5, np.nan)}, "weight_pos"), ({"distance_scale": 0.0}, "distance_scale"),
    ({"tile_size": 0}, "tile_size"),
])
def test_invalid_arguments_are_named(kwargs, match):
    rng = np.random.default_rng(0)
    with pytest.raises((ValueError, TypeError), match=match):
        official_drift(rng.normal(size=(4, 2)), rng.normal(size=(5, 2)), **kwargs)


def test_shape_errors_are_named():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="pos"):
        official_drift(rng.normal(size=(2, 4, 2)), rng.normal(size=(3, 5, 2)))
    with pytest.raises(ValueError, match="neg"):
        official_drift(rng.normal(size=(4, 2)), rng.normal(size=(5, 2)), rng.normal(size=(2, 3, 2)))
    with pytest.raises(ValueError, match="pos"):
        official_drift(rng.normal(size=(4, 2)), rng.normal(size=(0, 2)))


def test_all_zero_weights_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="weights"):
        official_drift(rng.normal(size=(4, 2)), rng.normal(size=(5, 2)), weight_gen=np.zeros(4),
                       weight_pos=np.zeros(5))


def test_fixed_distance_scale():
    """A fixed scale replaces the data-dependent one and nothing else."""
    gen, pos, _, _ = _problem(2, 1, 10, 10, 0, 2)
    info = official_drift(gen, pos, return_info=True)
    again = official_drift(gen, pos, distance_scale=info.scale, return_info=True)
    assert _rel(again.field, info.field) <= 1e-15 and again.scale == info.scale


def test_zero_floor_is_algorithm_2_on_normalised_distances():
    """floor = 0, one temperature, no weights: the official field is [D] Algorithm 2 with a
    Laplace kernel of temperature R * scale against [pos | gen] (self-pairs at +100/R: weight
    e^-5000 = 0), rescaled to unit RMS (an independent estimator, driftlab.fields.batch_drift).
    The floor itself is not a no-op near the data at R = 0.02."""
    from driftlab.fields import batch_drift
    from driftlab.kernels import Laplace

    rng = np.random.default_rng(0)
    pos = rng.normal(size=(64, 2)) * 0.3
    gen = pos[:32] + 0.01 * rng.normal(size=(32, 2))
    R = 0.02
    info = official_drift(gen, pos, temperatures=(R,), floor=0.0, return_info=True)
    v = batch_drift(gen, pos, gen, Laplace(R * info.scale), method="alg2", normalize="rms")
    # both float64; Algorithm 2 and the official sums in other orders: round-off
    assert _rel(info.field, v) <= 1e-10, _rel(info.field, v)
    with_floor = official_drift(gen, pos, temperatures=(R,))
    assert _rel(with_floor, info.field) > 0.05
