"""``driftlab simulate``: run (or resume) a particle simulation of the drifting dynamics."""

from __future__ import annotations

from pathlib import Path

import click

from driftlab.engine import BACKENDS

#: run parameter -> its flag, for the messages about an existing --out folder
_FLAGS = {"kernel": "--kernel", "scale": "--scale", "schedule": "--schedule", "rate": "--rate", "s_min": "--s-min",
          "step": "--step", "n_steps": "--steps", "integrator": "--integrator", "period": "--period", "wrap": "--wrap",
          "dtype": "--dtype", "device": "--device", "backend": "--backend", "seed": "--seed",
          "observe_every": "--observe-every", "modes": "--mode", "num_threads": "--threads", "problem": "--problem",
          "n": "--n", "m": "--m", "dim": "--dim", "eps": "--eps", "layout": "--layout"}


@click.command("simulate")
@click.option("--problem", type=click.Choice(["torus-mode", "gmm"]), default="torus-mode", show_default=True,
              help="torus-mode: uniform target on [0,L)^d, particles carrying one density mode; "
                   "gmm: Gaussian-mixture target in R^d from a standard normal start.")
@click.option("--n", "n", type=int, default=1024, show_default=True, help="particles N")
@click.option("--m", "m", type=int, default=None, help="target samples M (default N)")
@click.option("--dim", type=int, default=1, show_default=True)
@click.option("--kernel", default="gaussian", show_default=True,
              help="a registered kernel name (driftlab.kernels.kernel_names(): gaussian, laplace, matern, ...)")
@click.option("--scale", type=float, default=0.05, show_default=True, help="kernel length scale (s0 of a schedule)")
@click.option("--schedule", default="constant", show_default=True, help="constant, exponential, linear, cosine, step")
@click.option("--rate", type=float, default=None, help="annealing rate r of the exponential schedule")
@click.option("--s-min", type=float, default=0.0, show_default=True, help="bandwidth floor of the schedule")
@click.option("--step", type=float, default=0.5, show_default=True, help="time step eta")
@click.option("--steps", type=int, default=50, show_default=True)
@click.option("--integrator", type=click.Choice(["euler", "heun"]), default="euler", show_default=True)
@click.option("--mode", "mode", type=str, default="1", show_default=True,
              help="torus-mode: integer wave vector, comma separated (e.g. 2,1)")
@click.option("--eps", type=float, default=0.05, show_default=True, help="torus-mode amplitude")
@click.option("--layout", type=click.Choice(["grid", "random"]), default="grid", show_default=True)
@click.option("--period", type=float, default=1.0, show_default=True, help="torus side (torus-mode)")
@click.option("--wrap", type=click.Choice(["lattice", "minimum_image"]), default=None,
              help="periodisation (default: lattice for d <= 2)")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float64", show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--backend", type=click.Choice(list(BACKENDS)), default="auto",
              show_default=True)
@click.option("--threads", type=int, default=None, help="torch intra-op threads")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--observe-every", type=int, default=1, show_default=True)
@click.option("--checkpoint-every", type=int, default=10, show_default=True)
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="output folder (checkpoint.npz, observables.csv, run.json)")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="continue from OUT/checkpoint.npz if present (same parameters; --steps may grow); "
                   "--no-resume starts over, replacing it")
@click.option("--progress/--no-progress", default=True, show_default=True)
def simulate(problem, n, m, dim, kernel, scale, schedule, rate, s_min, step, steps, integrator, mode, eps, layout,
             period, wrap, dtype, device, backend, threads, seed, observe_every, checkpoint_every, out, resume,
             progress):
    """Move N particles along the drift toward M target samples and record observables.

    Example: driftlab simulate --kernel laplace --scale 0.05 --mode 3 --steps 40 --out runs/lap
    """
    from driftlab._io import RunFolderError
    from driftlab.simulation import SimulationConfig, gmm_problem, run_simulation, torus_mode_problem

    m = m or n
    try:
        if problem == "torus-mode":
            mvec = [int(v) for v in mode.split(",")]
            if len(mvec) == 1 and dim > 1:
                mvec = mvec + [0] * (dim - 1)
            x, y, _ = torus_mode_problem(n, m, dim, mode=mvec, eps=eps, period=period, layout=layout, seed=seed)
            modes, per = [mvec], period
        else:
            x, y, _ = gmm_problem(n, m, dim, seed=seed)
            modes, per = [], None
        cfg = SimulationConfig(kernel=kernel, scale=scale, schedule=schedule, rate=rate, s_min=s_min, step=step,
                               n_steps=steps, integrator=integrator, period=per, wrap=wrap, dtype=dtype,
                               device=device, backend=backend, seed=seed, observe_every=observe_every,
                               modes=modes, checkpoint_every=checkpoint_every, num_threads=threads)
        res = run_simulation(cfg, x, y, out_dir=out, resume=resume, progress=progress,
                             run_params={"problem": problem, "n": n, "m": m, "dim": dim,
                                         **({"eps": eps, "layout": layout} if problem == "torus-mode" else {})})
    except RunFolderError as exc:  # the --out folder: busy, another run's, or an unreadable checkpoint
        raise click.ClickException(exc.cli_message(_FLAGS)) from exc
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    last = res.records[-1]
    click.echo(f"step {last['step']}  t={last['t']:g}  E|V|^2={last['ev2']:.4e}  mmd2={last['mmd2']:.4e}  "
               f"backend={res.info['backend']}  resumed_from={res.info['resumed_from']}  -> {out}")
