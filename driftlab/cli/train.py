"""``driftlab train``: train a toy generator by drifting; write metrics (JSON/CSV) and a scatter plot.

Example (the official toy of [D])::

    driftlab train --data swiss-roll --field laplace --tau 0.05 --steps 2000 --out runs/swiss

The run checkpoints to ``OUT/checkpoint.pt`` every ``--checkpoint-every`` steps, at the end
and on Ctrl-C; the same command again resumes it (bit-identically; ``--steps`` may grow).
torch is imported only when the command runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from driftlab._estimators import estimator_names
from driftlab.cli._render import SCALE_SYMBOL, Report, describe_kernel, format_option, render, scale_option

_DATA = ["swiss-roll", "checkerboard", "8gaussians", "two-moons", "two-gaussians", "gmm"]
_FIELDS = ["gaussian", "laplace", "alg2", "official", "sinkhorn", "mmd"]

#: TrainConfig key -> its flag, for the messages about an existing --out folder
_FLAGS = {"data": "--data", "data_kwargs": "--dim", "field": "--field", "method": "--method", "tau": "--scale",
          "sinkhorn_iters": "--sinkhorn-iters", "steps": "--steps", "batch_gen": "--batch",
          "batch_data": "--batch-data", "lr": "--lr", "hidden": "--hidden", "depth": "--depth", "in_dim": "--in-dim",
          "stop_gradient": "--no-stopgrad (stop_gradient)", "eval_every": "--eval-every", "n_eval": "--n-eval",
          "eval_w2": "--no-w2 (eval_w2)", "seed": "--seed", "threads": "--threads",
          "model_init": "the initial model", "dataset": "the data law"}


def write_outputs(result, out: Path, *, title: str = "") -> list[Path]:
    """metrics.json, history.csv, losses.csv and samples.pdf/png for a TrainResult."""
    from driftlab._io import write_csv, write_json
    from driftlab.plotting import figure, save_figure

    out.mkdir(parents=True, exist_ok=True)
    paths = [write_json(out / "metrics.json", result.to_json())]
    if result.history:
        cols = list(result.history[0].keys())
        for row in result.history:
            cols += [k for k in row if k not in cols]
        paths.append(write_csv(out / "history.csv", result.history, cols))
    loss_rows = [{"step": i + 1, "loss": float(v)} for i, v in enumerate(result.losses)]
    paths.append(write_csv(out / "losses.csv", loss_rows))
    fig, axes = figure(2, 1, width=3.2, height=3.2)
    d, s = result.data, result.samples
    for ax, pts, name, color in ((axes[0][0], d, "held-out data", "tab:blue"),
                                 (axes[0][1], s, "generated", "tab:orange")):
        ax.scatter(pts[:, 0], pts[:, 1], s=1.5, alpha=0.4, color=color, rasterized=True)
        ax.set_title(name)
        ax.set_aspect("equal")
    lo = min(d[:, :2].min(), s[:, :2].min())
    hi = max(d[:, :2].max(), s[:, :2].max())
    for ax in axes[0]:
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
    f = result.final
    fig.suptitle(title or f"{result.config['dataset']} / {result.config['field']}: energy {f['energy']:.3g}"
                 + (f", W2 {f['w2']:.3g}" if "w2" in f else ""))
    paths.append(save_figure(fig, out / "samples.pdf"))
    paths.append(save_figure(fig, out / "samples.png"))
    import matplotlib.pyplot as plt

    plt.close(fig)
    return paths


@click.command("train")
@click.option("--data", type=click.Choice(_DATA), default="swiss-roll", show_default=True, help="data law")
@click.option("--dim", type=int, default=None, help="dimension (gmm only)")
@click.option("--field", "field_name", type=click.Choice(_FIELDS), default="laplace", show_default=True,
              help="drift field (laplace = Algorithm 2 of [D] unless --method)")
@click.option("--method", type=click.Choice(estimator_names()), default=None,
              help="batch_drift estimator for gaussian/laplace")
@scale_option(0.05, "Kernel length scale: the Laplace temperature tau, the Gaussian bandwidth (sinkhorn: eps = "
                   "scale^2).", name="tau")
@click.option("--sinkhorn-iters", type=int, default=200, show_default=True)
@click.option("--steps", type=int, default=2000, show_default=True)
@click.option("--batch", type=int, default=2048, show_default=True, help="generated batch size")
@click.option("--batch-data", type=int, default=None, help="data batch size (default: --batch)")
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--hidden", type=int, default=256, show_default=True)
@click.option("--depth", type=int, default=3, show_default=True)
@click.option("--in-dim", type=int, default=32, show_default=True)
@click.option("--no-stopgrad", is_flag=True, help="differentiate through the drift (ablation)")
@click.option("--eval-every", type=int, default=200, show_default=True)
@click.option("--n-eval", type=int, default=1000, show_default=True)
@click.option("--no-w2", is_flag=True, help="skip the exact W2 (POT) during training")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=int, default=None, help="torch threads")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="output folder (default runs/<data>-<field>)")
@click.option("--checkpoint-every", type=int, default=100, show_default=True,
              help="steps between checkpoints OUT/checkpoint.pt (0: only at the end and on Ctrl-C)")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="continue from OUT/checkpoint.pt if present (same parameters; --steps may grow); "
                   "--no-resume starts over, replacing it")
@click.option("--quiet", is_flag=True, help="no progress bar (the final summary is printed either way)")
@format_option(help="Format of the final summary: table (key=value lines under a header), csv, json or markdown.")
@click.pass_context
def train(ctx, data, dim, field_name, method, tau, sinkhorn_iters, steps, batch, batch_data, lr, hidden, depth,
          in_dim, no_stopgrad, eval_every, n_eval, no_w2, seed, threads, out_dir, checkpoint_every, resume, quiet, fmt):
    """Train a toy generator with the drifting loss and report held-out metrics.

    Re-running the same command on the same --out resumes from its checkpoint.
    """
    from driftlab._io import RunDirectory, RunFolderError
    from driftlab._validation import check_int
    from driftlab.training import TrainConfig
    from driftlab.training import train as run_train
    from driftlab.training.trainer import TrainingInterrupted

    data_kwargs = {}
    if dim is not None:
        if data != "gmm":
            raise click.BadParameter("--dim is only for --data gmm", param_hint="--dim")
        data_kwargs["dim"] = dim
    cfg = TrainConfig(data=data, data_kwargs=data_kwargs, field=field_name, tau=tau, method=method,
                      sinkhorn_iters=sinkhorn_iters, steps=steps, batch_gen=batch, batch_data=batch_data or batch,
                      lr=lr, hidden=hidden, depth=depth, in_dim=in_dim, stop_gradient=not no_stopgrad,
                      eval_every=eval_every, n_eval=n_eval, eval_w2=not no_w2, seed=seed, threads=threads)
    out = Path(out_dir or Path("runs") / f"{data}-{field_name}{'-nosg' if no_stopgrad else ''}")
    try:
        cfg.validate()
        check_int(checkpoint_every, "--checkpoint-every", minimum=0)
    except (ValueError, TypeError) as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        with RunDirectory(out) as run_dir:  # one writer per folder until the outputs are written
            result = run_train(cfg, progress=not quiet, out_dir=run_dir, resume=resume,
                               checkpoint_every=checkpoint_every)
            paths = write_outputs(result, out)
    except RunFolderError as exc:  # busy, another run's, or an unreadable checkpoint
        raise click.ClickException(exc.cli_message(_FLAGS)) from exc
    except TrainingInterrupted as exc:
        click.echo(f"interrupted after step {exc.step}; checkpoint {exc.checkpoint} written: run the same command "
                   "again to resume", err=True)
        ctx.exit(130)
    except (ValueError, TypeError) as exc:
        raise click.UsageError(str(exc)) from exc
    f = result.final
    summary = {k: f[k] for k in ("loss_last", "loss_mse_last", "loss_mse_mean_last100", "energy", "mmd2", "w2")
               if k in f}
    summary["seconds"] = round(result.seconds, 1)
    summary["resumed_from"] = result.info["resumed_from"]
    summary["out"] = str(out)
    written = f"wrote {', '.join(str(p) for p in paths)}"
    header = {"data": data + (f" (dimension {dim})" if dim is not None else ""),
              "field": (describe_kernel(field_name, tau) if field_name in SCALE_SYMBOL else f"{field_name}, scale = "
                        f"{tau:g}") + (f", estimator {method}" if method else ""),
              "run": f"{steps} steps, batch {batch}, lr {lr:g}, seed {seed}",
              "metrics": "on held-out data: energy distance, mmd2 the squared MMD, w2 the exact 2-Wasserstein "
                         "distance; loss_* the drifting loss of the last steps"}
    lines = ["  ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in summary.items()
                       if k not in ("out", "resumed_from", "seconds")),
             f"seconds={summary['seconds']}  resumed_from={summary['resumed_from']}", written]
    rep = Report(f"driftlab train: {data} / {field_name}, final metrics", [summary] if fmt != "table" else [],
                 header=header, notes=lines if fmt == "table" else [], json=summary)
    click.echo(render(rep, fmt))
    if fmt != "table":
        click.echo(written, err=True)
