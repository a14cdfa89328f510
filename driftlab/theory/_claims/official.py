r"""[D] the official 2-D toy (MLP 32 -> 256 x 3 -> 2, Adam 1e-3, Laplace tau = 0.05, Algorithm 2).

The yardstick for a trained generator is the exact W2 between two independent data samples
of the same size (the metric's own sampling floor), computed here, never by the trainer.
The published final losses (~1.6e-5 swiss roll, ~3.6e-5 checkerboard) are sanity ranges.
"""

from __future__ import annotations

import json

import numpy as np

from driftlab.theory._claims._record import Claim, Evidence, Outcome

_DATA = ("swiss-roll", "checkerboard")
PUBLISHED_LOSS = {"swiss-roll": 1.6e-5, "checkerboard": 3.6e-5}  # [D]'s toy notebook


def data_floor(data: str, n: int = 2000, pairs: int = 2) -> float:
    """Mean exact W2 between independent n-samples of the data set (seeded)."""
    from driftlab.training import get_dataset
    from driftlab.training.metrics import wasserstein2

    ds = get_dataset(data)
    return float(np.mean([wasserstein2(ds.sample(n, 1000 + s), ds.sample(n, 2000 + s)) for s in range(pairs)]))


def check_committed_reduced_run(quick: bool, w2_scale: float = 1.0, limit: float = 2.0) -> Outcome:
    """Committed reduced-protocol run (figures/training_official.json): W2(gen, data) <= 2 x the data floor."""
    from driftlab.repro import repo_root

    table = json.loads((repo_root() / "figures" / "training_official.json").read_text())["table"]
    out = {}
    for data in _DATA:
        row = next(r for r in table if r["data"] == data and r["source"] == "this run")
        floor = data_floor(data, n=2000, pairs=1 if quick else 3)
        out[data] = {"w2": row["w2"] * w2_scale, "floor": floor, "ratio": row["w2"] * w2_scale / floor,
                     "loss": row["loss_mse_last"], "loss_over_published": row["loss_mse_last"] / PUBLISHED_LOSS[data],
                     "steps": row["steps"], "batch": row["batch"]}
    worst = max(v["ratio"] for v in out.values())
    return Outcome(worst, "; ".join(f"{d}: W2 {v['w2']:.3f} = {v['ratio']:.2f} x floor {v['floor']:.3f}, "
                                    f"loss {v['loss_over_published']:.1f} x published" for d, v in out.items()),
                   "verified" if worst <= limit else "refuted", out)


def check_full_protocol(quick: bool, loss_factor: float = 3.0, w2_limit: float = 1.5) -> Outcome:
    """Train the official toy with the full protocol (2000 steps, 2048 / 2048) on both data sets."""
    from driftlab.repro import import_from_checkout

    run_official = import_from_checkout("analysis.training_official").run_official

    steps, batch = (200, 512) if quick else (2000, 2048)
    out = {}
    for data in _DATA:
        res = run_official(data, steps=steps, batch=batch, eval_every=steps, n_eval=2000)
        f = res.final
        floor = data_floor(data, n=2000, pairs=3)
        out[data] = {"loss": f["loss_mse_mean_last100"], "loss_over_published": f["loss_mse_mean_last100"] / PUBLISHED_LOSS[data],
                     "w2": f["w2"], "floor": floor, "w2_ratio": f["w2"] / floor}
    ok = all(1 / loss_factor <= v["loss_over_published"] <= loss_factor and v["w2_ratio"] <= w2_limit
             for v in out.values())
    return Outcome(max(v["w2_ratio"] for v in out.values()),
                   "; ".join(f"{d}: loss {v['loss']:.2e} ({v['loss_over_published']:.1f} x published), "
                             f"W2 {v['w2_ratio']:.2f} x floor" for d, v in out.items()),
                   "verified" if ok else "refuted", out)


CLAIMS: list[Claim] = [
    Claim("d.official-toy.reduced-run", "official-toy", "[D]",
          "The official toy, trained by driftlab with half the protocol (1000 steps, batch 1024; the committed "
          "figure run), generates both swiss roll and checkerboard: exact W2 to held-out data within 2x the "
          "data-vs-data floor (loss reported against the published value, not judged)",
          "W2(gen, data) <= 2 x mean W2(data, data') (n = 2000)",
          "W2 between two 2000-samples of the data is the metric's sampling floor (0.05 swiss roll, 0.067 "
          "checkerboard, seeds vary by ~10%); the untrained generator sits at ~0.8 and a mode-dropping one at "
          ">= 0.3, so 2x separates reproduced from not",
          check_committed_reduced_run, tier="default", figures=("training-official",), slow_in_tests=True,
          evidence=Evidence("figures/training_official.json",
                            "97268f6f9cbc867d7c93c457d37e4e824c8cfa90aa6dba3a715d4ed9054ea9e1",
                            "driftlab repro training-official", keys=("table",))),
    Claim("d.official-toy.full-protocol", "official-toy", "[D]",
          "The full official protocol (2000 steps, 2048 data / 2048 generated per step) reaches the published "
          "final losses (~1.6e-5 swiss roll, ~3.6e-5 checkerboard) within a factor 3 and W2 within 1.5x the "
          "data-vs-data floor",
          "loss / published in [1/3, 3] (mean of the last 100 steps) and W2 <= 1.5 x floor",
          "the published losses are single-run sanity values (seed and batch noise of E|V|^2 ~ x2), hence a "
          "factor 3; W2 as for the reduced run with the full batch",
          check_full_protocol, tier="full", figures=("training-official",)),
]
