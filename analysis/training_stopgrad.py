"""Stop-gradient ablation (docs/theory.md, the stop-gradient section): drifting with and without sg.

The 2-D two-Gaussian toy (N((+-2, 0), 0.25 I)) with *particles* as the generator (so the
Jacobian is the identity and SGD with lr = N step / 2 is exactly x <- x + step V) and a
Gaussian-kernel drift of bandwidth 1, from three concentrated starts (N(c, 0.05^2 I)):

* ``centred``   c = (0, 0), between the modes;
* ``offset``    c = (0, 4), away from both modes;
* ``one-mode``  c = (2, 0), collapsed onto one mode.

With stop-gradient the update follows the frozen field (a Wasserstein-gradient / JKO step);
without it the loss eta^2 E||V||^2 is minimised through the field and any zero-drift state is
a minimiser. Run ``python -m analysis.training_stopgrad`` for the table.
"""

from __future__ import annotations

from typing import Any

import numpy as np

INITS = {"centred": (0.0, 0.0), "offset": (0.0, 4.0), "one-mode": (2.0, 0.0)}


def run_ablation(*, methods: tuple[str, ...] = ("joint", "separate"), inits: tuple[str, ...] = tuple(INITS),
                 n: int = 256, steps: int = 400, step_size: float = 0.5, bandwidth: float = 1.0,
                 eval_every: int = 50, seed: int = 0, progress: bool = False, generator: str = "particles",
                 lr: float = 1e-3) -> list[dict[str, Any]]:
    """One row per (method, init, stop_gradient, evaluation step): loss, energy, mmd2, mode share.

    ``generator="mlp"``: an MLP 8 -> 64 x 2 -> 2 whose last layer is scaled by 0.02 and whose
    bias is the start centre (so it starts concentrated), trained with Adam(``lr``).
    """
    import torch

    from driftlab.training import MLPGenerator, ParticleGenerator, TrainConfig, torch_threads, train, two_gaussians

    ds = two_gaussians()
    rows: list[dict[str, Any]] = []
    with torch_threads(1):
        for method in methods:
            for init in inits:
                c = np.asarray(INITS[init])
                for sg in (True, False):
                    if generator == "particles":
                        pts = c + 0.05 * np.random.default_rng(seed + 1).standard_normal((n, 2))
                        model, opt, rate = ParticleGenerator(pts), "sgd", n * step_size / 2.0
                    else:
                        torch.manual_seed(seed)
                        model = MLPGenerator(in_dim=8, hidden=64, depth=2, out_dim=2)
                        with torch.no_grad():
                            model.net[-1].weight.mul_(0.02)
                            model.net[-1].bias.copy_(torch.as_tensor(c, dtype=torch.float32))
                        opt, rate = "adam", lr
                    cfg = TrainConfig(data="two-gaussians", field="gaussian", method=method, tau=bandwidth, steps=steps,
                                      batch_data=n, batch_gen=n, optimizer=opt, lr=rate, stop_gradient=sg,
                                      eval_every=eval_every, n_eval=n, eval_w2=False, temperatures=(0.05, 0.2),
                                      seed=seed, in_dim=8)
                    res = train(cfg, model=model, dataset=ds, progress=progress)
                    for h in res.history:
                        rows.append({"generator": generator, "method": method, "init": init, "stop_gradient": sg,
                                     "step": h["step"], "loss": h["loss"], "energy": h["energy"], "mmd2": h["mmd2"],
                                     "mode_fraction": h["mode_fraction"], "mean_offset": h["mean_offset"]})
                    rows[-1]["final_positions"] = res.samples.tolist()
    return rows


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Final row of each run (without the positions)."""
    last: dict[tuple, dict] = {}
    for r in rows:
        last[(r["method"], r["init"], r["stop_gradient"])] = r
    return [{k: v for k, v in r.items() if k != "final_positions"} for r in last.values()]


if __name__ == "__main__":  # pragma: no cover
    import json

    out = summary(run_ablation(progress=True))
    for r in out:
        print(json.dumps(r))
