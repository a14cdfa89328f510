"""driftlab.engine.distributed_kernel_sums over 2 and 3 gloo ranks on the CPU against one process.

Each launch starts R worker processes (``init_method=file://``, gloo, group timeout 30 s) that
run every case of a list on their blocks of one global problem and save their rows; the test
process assembles the rows and compares them with :func:`driftlab.engine.kernel_sums` of the
whole sets on one process. The cases cover the three reference modes, R^d, the lattice torus
and the minimum-image torus, with and without self-mask and log-weights, numpy and torch
input, the dense and the chunked torch backend, ragged and empty blocks. The same launch
then checks that an invalid input on one rank raises ValueError on every rank, and that a
rank that dies makes the others raise instead of waiting.

Tolerance (float64): the distributed sums add the same float64 terms in another order
(blocks merged in log space: one ``logaddexp`` and two rescalings per merge), so
``log_total`` agrees to a few ulps of ``max(1, |log Z|)`` and the shift to a few ulps of the
weighted mean distance ``sum_j a_ij |y_j - x_i| <= diameter``; we allow 1e-13 relative
(~450 ulp, far above the few ulp expected, far below any real error: doubling the weight of
any one reference moves some row's log Z by >= 0.018 on these sets).
"""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from gloo_ranks import WORKER_PREAMBLE, launch_ranks

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available", allow_module_level=True)

from driftlab.engine import kernel_sums
from driftlab.engine.distributed import merge_partial_sums, shard_bounds
from driftlab.kernels import Gaussian, Laplace

RTOL = 1e-13  # see the module docstring: reordered float64 sums
LAUNCH_TIMEOUT_S = 90  # a hang fails the test after this long instead of blocking CI

WORKER = WORKER_PREAMBLE + textwrap.dedent(r'''
    from driftlab.engine import distributed_kernel_sums
    from driftlab.kernels import Gaussian, Laplace
    data = np.load(os.path.join(workdir, "data.npz"))
    cases = json.load(open(os.path.join(workdir, "cases.json")))
    kernels = {"gaussian": Gaussian(0.7), "laplace": Laplace(0.9)}
    out = {}
    for k, c in enumerate(cases):
        x_all, y_all = data[c["x"]], data[c["y"]]
        lw_all = data[c["lw"]] if c["lw"] else None
        qb, rb = c["q_bounds"][rank], c["r_bounds"][rank]
        x = x_all[qb[0]:qb[1]]
        if c["references"] == "replicated":
            y, lw = y_all, lw_all
        else:
            y = y_all[rb[0]:rb[1]]
            lw = None if lw_all is None else lw_all[rb[0]:rb[1]]
        if c["y_none"]:
            y = None
        if c["torch"]:
            x = torch.from_numpy(x)
            y = None if y is None else torch.from_numpy(y)
            lw = None if lw is None else torch.from_numpy(lw)
        res = distributed_kernel_sums(x, y, kernels[c["kernel"]], log_weights=lw, mask_self=c["mask"],
                                      references=c["references"], period=c["period"], wrap=c["wrap"],
                                      images=c["images"], backend=c["backend"], tile_rows=c["tiles"],
                                      tile_cols=c["tiles"])
        lt, sh = res
        if c["torch"]:
            assert isinstance(sh, torch.Tensor) and sh.dtype == torch.float64
            lt, sh = lt.numpy(), sh.numpy()
        else:
            assert isinstance(sh, np.ndarray) and sh.dtype == np.float64
        out[f"lt{k}"], out[f"sh{k}"] = lt, sh
    # an invalid input on the last rank only: every rank must raise ValueError
    x = data["x"][:3].copy()
    if rank == world - 1:
        x[0, 0] = np.nan
    try:
        distributed_kernel_sums(x, None, Gaussian(1.0))
        invalid = "no error"
    except ValueError as e:
        invalid = "ValueError: " + str(e)
    # a backend that refuses one rank's block only (dense: > 2^23 pairs on rank 0): every rank
    # must raise ValueError before any sums, not leave the ring waiting on rank 0
    x = np.zeros((3000, 1)) if rank == 0 else np.zeros((1, 1))
    try:
        distributed_kernel_sums(x, np.zeros((3000, 1)), Gaussian(1.0), references="ring", backend="dense")
        refused = "no error"
    except ValueError as e:
        refused = "ValueError: " + str(e)
    # the last rank dies before the next call: the others must raise, not wait
    np.savez(os.path.join(workdir, f"rank{rank}.npz"), **out)
    if rank == world - 1:
        with open(os.path.join(workdir, f"rank{rank}.json"), "w") as f:
            json.dump({"invalid": invalid, "refused": refused, "dead": "died"}, f)
        os._exit(3)
    try:
        distributed_kernel_sums(data["x"][:3], None, Gaussian(1.0), references="ring")
        dead = "no error"
    except Exception as e:  # gloo: RuntimeError / DistBackendError on the closed connection
        dead = type(e).__name__ + ": " + str(e)[:200]
    with open(os.path.join(workdir, f"rank{rank}.json"), "w") as f:
        json.dump({"invalid": invalid, "refused": refused, "dead": dead}, f)
    os._exit(0)
''')


def _problem(seed=0, n=13, m=11, d=2):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = rng.normal(loc=0.3, size=(m, d))
    return {"x": x, "y": y, "lw_x": rng.normal(size=n), "lw_y": np.where(rng.random(m) < 0.2, -np.inf,
                                                                            rng.normal(size=m)),
            "x2": x[:2], "lw_x2": rng.normal(size=2)}


def _cases(world):
    cases = []
    geoms = [(None, "lattice", 1), (2.5, "lattice", 1), (2.5, "minimum_image", 1)]
    for references in ("all_gather", "ring", "replicated"):
        for gi, (period, wrap, images) in enumerate(geoms):
            for mask in (False, True):
                for weighted in (False, True):
                    k = len(cases)
                    xs = "x"
                    ys = "x" if mask else "y"
                    n = 13
                    m = 13 if mask else 11
                    cases.append({
                        "x": xs, "y": ys, "lw": ("lw_x" if mask else "lw_y") if weighted else None,
                        "q_bounds": shard_bounds(n, world), "r_bounds": shard_bounds(m, world),
                        "references": references, "mask": mask,
                        "y_none": mask and references != "replicated" and k % 2 == 0,
                        "period": period, "wrap": wrap, "images": images,
                        "kernel": "gaussian" if k % 3 else "laplace", "backend": "torch" if k % 2 else "dense",
                        "tiles": 3 if k % 2 else None, "torch": k % 4 == 1})
    # fewer queries than ranks: an empty block on the last rank (2 rows over 3 ranks), torus, ring
    for references in ("all_gather", "ring"):
        cases.append({"x": "x2", "y": "x2", "lw": "lw_x2", "q_bounds": shard_bounds(2, world),
                      "r_bounds": shard_bounds(2, world), "references": references, "mask": True, "y_none": True,
                      "period": 2.5, "wrap": "lattice", "images": 1, "kernel": "gaussian", "backend": "torch",
                      "tiles": 2, "torch": False})
    return cases


def _launch(tmp_path, world):
    data = _problem()
    np.savez(tmp_path / "data.npz", **data)
    cases = _cases(world)
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    codes, logs = launch_ranks(script, world, tmp_path, timeout=LAUNCH_TIMEOUT_S)
    expected = [0] * (world - 1) + [3]
    assert codes == expected, f"exit codes {codes}, expected {expected}; logs:\n" + "\n---\n".join(logs)
    return data, cases, [np.load(tmp_path / f"rank{r}.npz") for r in range(world)], \
        [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(world)]


def _reference(data, c):
    kern = Gaussian(0.7) if c["kernel"] == "gaussian" else Laplace(0.9)
    return kernel_sums(data[c["x"]], data[c["y"]], kern, log_weights=data[c["lw"]] if c["lw"] else None,
                       mask_self=c["mask"], period=c["period"], wrap=c["wrap"], images=c["images"],
                       backend="dense")


def _check(k, c, data, lt, sh, ref):
    """Rows of case ``k`` against the one-process reference, to RTOL (module docstring)."""
    assert lt.shape == ref.log_total.shape and sh.shape == ref.shift.shape, (k, c, lt.shape, sh.shape)
    fin = np.isfinite(ref.log_total)
    assert np.array_equal(fin, np.isfinite(lt)), f"case {k} {c}: log_total {lt} vs {ref.log_total}"
    assert np.array_equal(lt[~fin], ref.log_total[~fin]), f"case {k}: {lt[~fin]} vs {ref.log_total[~fin]}"
    dl = np.abs(lt[fin] - ref.log_total[fin])
    tol_l = RTOL * np.maximum(1.0, np.abs(ref.log_total[fin]))
    assert (dl <= tol_l).all(), f"case {k} {c}: log_total {lt} expected {ref.log_total}, diff {dl.max():.3e}"
    # shift scale: the diameter of the point sets (images included on a lattice torus)
    scale = 3 * 2.5 if c["period"] is not None else np.ptp(np.vstack([data[c["x"]], data[c["y"]]]))
    ds = np.abs(sh - ref.shift).max()
    assert ds <= RTOL * scale, f"case {k} {c}: shift {sh} expected {ref.shift}, diff {ds:.3e}"


@pytest.mark.parametrize("world", [2, 3])
def test_distributed_equals_one_process(tmp_path, world):
    data, cases, results, status = _launch(tmp_path, world)
    for k, c in enumerate(cases):
        ref = _reference(data, c)
        lt = np.concatenate([results[r][f"lt{k}"] for r in range(world)])
        sh = np.concatenate([results[r][f"sh{k}"] for r in range(world)])
        assert lt.shape == ref.log_total.shape and sh.shape == ref.shift.shape, (k, c, lt.shape, sh.shape)
        _check(k, c, data, lt, sh, ref)
    for r in range(world):
        assert status[r]["invalid"].startswith("ValueError"), (r, status[r])
    assert "contains NaN" in status[world - 1]["invalid"], status[world - 1]
    assert f"rank(s) [{world - 1}]" in status[0]["invalid"], status[0]
    assert status[0]["refused"].startswith("ValueError") and "small problems" in status[0]["refused"], status[0]
    for r in range(1, world):
        assert status[r]["refused"].startswith("ValueError") and "rank 0: ValueError" in status[r]["refused"], \
            (r, status[r])
    for r in range(world - 1):
        assert status[r]["dead"] != "no error", (r, status[r])


def _run_cases_here(data, cases, rank=0):
    """The worker's loop in this process (a group of one rank)."""
    from driftlab.engine import distributed_kernel_sums

    out = []
    for c in cases:
        kern = Gaussian(0.7) if c["kernel"] == "gaussian" else Laplace(0.9)
        qb, rb = c["q_bounds"][rank], c["r_bounds"][rank]
        lw_all = data[c["lw"]] if c["lw"] else None
        y = data[c["y"]] if c["references"] == "replicated" else data[c["y"]][rb[0]:rb[1]]
        lw = lw_all if c["references"] == "replicated" or lw_all is None else lw_all[rb[0]:rb[1]]
        out.append(distributed_kernel_sums(data[c["x"]][qb[0]:qb[1]], None if c["y_none"] else y, kern,
                                           log_weights=lw, mask_self=c["mask"], references=c["references"],
                                           period=c["period"], wrap=c["wrap"], images=c["images"],
                                           backend=c["backend"], tile_rows=c["tiles"], tile_cols=c["tiles"]))
    return out


def test_one_rank_equals_one_process(tmp_path):
    # a group of one rank in this process: every mode degenerates to the single-process call
    # (the self-masked block merged with an empty rest); same tolerance as above
    if dist.is_initialized():  # pragma: no cover
        pytest.skip("a process group is initialised in this process")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        data = _problem()
        cases = _cases(1)
        results = _run_cases_here(data, cases)
    finally:
        dist.destroy_process_group()
    for k, (c, res) in enumerate(zip(cases, results)):
        ref = _reference(data, c)
        _check(k, c, data, res.log_total, res.shift, ref)


def test_merge_partial_sums_exact_split():
    # independent check of the merge: the sums over y[:5] and y[5:] merge to the sums over y
    # (dense float64 reference; 1e-14 relative: reordered float64 sums of 12 terms)
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(12, 3))
    k = Gaussian(0.8)
    ref = kernel_sums(x, y, k, backend="dense")
    a = kernel_sums(torch.from_numpy(x), torch.from_numpy(y[:5]), k, backend="dense")
    b = kernel_sums(torch.from_numpy(x), torch.from_numpy(y[5:]), k, backend="dense")
    m = merge_partial_sums(a, b)
    dl = np.abs(m.log_total.numpy() - ref.log_total).max()
    ds = np.abs(m.shift.numpy() - ref.shift).max()
    assert dl <= 1e-14 * np.abs(ref.log_total).max() + 1e-15, (dl, m.log_total, ref.log_total)
    assert ds <= 1e-14 * np.ptp(y), (ds, m.shift, ref.shift)
    # a row that sees neither part stays (-inf, 0)
    e = merge_partial_sums(type(a)(torch.tensor([-np.inf]), torch.zeros(1, 3)),
                           type(a)(torch.tensor([-np.inf]), torch.zeros(1, 3)))
    assert float(e.log_total[0]) == -np.inf and float(e.shift.abs().max()) == 0.0, e


def test_shard_bounds():
    assert shard_bounds(13, 3) == [(0, 5), (5, 9), (9, 13)]
    assert shard_bounds(2, 3) == [(0, 1), (1, 2), (2, 2)]
    with pytest.raises(ValueError, match="world_size"):
        shard_bounds(4, 0)


def test_needs_process_group():
    if dist.is_initialized():  # pragma: no cover
        pytest.skip("a process group is initialised in this process")
    from driftlab.engine import distributed_kernel_sums

    with pytest.raises(RuntimeError, match="init_process_group"):
        distributed_kernel_sums(np.zeros((2, 1)), None, Gaussian(1.0))
