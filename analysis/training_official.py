"""The official 2-D toy of [D] (docs/theory.md, the published anchors) with driftlab's trainer.

MLP 32 -> 256 x 3 -> 2 (SiLU, torch default init), Adam 1e-3, 2000 steps, 2048 data / 2048
generated per step, Laplace kernel tau = 0.05, [D] Algorithm 2 (self-pairs masked), loss
F.mse_loss(x, sg(x + V)) = E||V||^2 / 2. Published final losses (toy notebook): ~1.6e-5 (swiss
roll), ~3.6e-5 (checkerboard) -- sanity ranges, not targets.

The full run is long on a CPU (about 0.1-2 s per step depending on load); run it with the CLI::

    driftlab train --data swiss-roll   --field laplace --tau 0.05 --steps 2000 --out runs/official/swiss-roll
    driftlab train --data checkerboard --field laplace --tau 0.05 --steps 2000 --out runs/official/checkerboard

:func:`load_cached` reads those outputs back (the figure script shows them when present).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PUBLISHED_LOSS = {"swiss-roll": 1.6e-5, "checkerboard": 3.6e-5}


def run_official(data: str, *, steps: int = 2000, batch: int = 2048, eval_every: int = 250, n_eval: int = 2000,
                 seed: int = 0, progress: bool = False, threads: int = 1) -> Any:
    """Train the official toy on ``data``; returns the :class:`~driftlab.training.TrainResult`."""
    from driftlab.training import TrainConfig, torch_threads, train

    cfg = TrainConfig(data=data, field="laplace", tau=0.05, steps=steps, batch_data=batch, batch_gen=batch,
                      lr=1e-3, in_dim=32, hidden=256, depth=3, eval_every=eval_every, n_eval=n_eval, seed=seed)
    with torch_threads(threads):
        return train(cfg, progress=progress)


def load_cached(root: Path) -> dict[str, dict]:
    """``{data: metrics.json (or the partial history)}`` for runs written by the CLI under ``root``."""
    out: dict[str, dict] = {}
    for data in PUBLISHED_LOSS:
        d = Path(root) / data
        if (d / "metrics.json").is_file():
            out[data] = json.loads((d / "metrics.json").read_text())
            out[data]["complete"] = True
        elif (d / "history_partial.json").is_file():
            out[data] = {"history": json.loads((d / "history_partial.json").read_text()), "complete": False}
    return out


if __name__ == "__main__":  # pragma: no cover
    import sys

    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    for data in PUBLISHED_LOSS:
        res = run_official(data, steps=steps, progress=True)
        print(data, json.dumps({k: res.final[k] for k in ("loss_mse_last", "loss_mse_mean_last100", "energy", "w2")}),
              "published", PUBLISHED_LOSS[data])
