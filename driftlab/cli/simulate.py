"""``driftlab simulate``: run (or resume) a particle simulation of the drifting dynamics.

Under ``torchrun`` (``WORLD_SIZE`` and ``RANK`` set) the command initialises the process group
itself (gloo on the CPU, NCCL on CUDA; :func:`driftlab.simulation.init_from_env`) and runs the
distributed simulator: every rank builds the same problem and advances its slice of the
particles; rank 0 alone creates ``--out``, writes the files and prints the progress bar and the
summary. An error stops every rank; each prints one line (the ranks that did not fail only when
rank 0 cannot report it), and the exit status is 1.
"""

from __future__ import annotations

from pathlib import Path

import click

from driftlab.cli._errors import (
    FiniteFloat,
    NumberList,
    check_device,
    check_finite,
    prepare_out_dir,
    refuse_unused,
    usage_errors,
)
from driftlab.cli._render import Report, describe_kernel, format_option, render, scale_option
from driftlab.engine import BACKENDS
from driftlab.simulation.integrators import INTEGRATORS

#: run parameter -> its flag, for the messages about an existing --out folder
_FLAGS = {"kernel": "--kernel", "scale": "--scale", "schedule": "--schedule", "rate": "--rate", "s_min": "--s-min",
          "step": "--step", "n_steps": "--steps", "integrator": "--integrator", "period": "--period", "wrap": "--wrap",
          "dtype": "--dtype", "device": "--device", "backend": "--backend", "seed": "--seed",
          "observe_every": "--observe-every", "modes": "--mode", "num_threads": "--threads", "problem": "--problem",
          "n": "--n", "m": "--m", "dim": "--dim", "eps": "--eps", "layout": "--layout",
          "s1": "--s1", "duration": "--duration", "mode": "--mode", "r": "--rate", "s0": "--scale",
          "checkpoint_every": "--checkpoint-every"}
_POSITIVE = FiniteFloat(min=0.0, min_open=True)


@click.command("simulate")
@click.option("--problem", type=click.Choice(["torus-mode", "gmm"]), default="torus-mode", show_default=True,
              help="torus-mode: uniform target on [0,L)^d, particles carrying one density mode; "
                   "gmm: Gaussian-mixture target in R^d from a standard normal start.")
@click.option("--n", "n", type=click.IntRange(min=1), default=1024, show_default=True, help="particles N")
@click.option("--m", "m", type=click.IntRange(min=1), default=None, help="target samples M (default N)")
@click.option("--dim", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--kernel", default="gaussian", show_default=True,
              help="a registered kernel name (driftlab.kernels.kernel_names(): gaussian, laplace, matern, ...)")
@scale_option(0.05, "Kernel length scale (s0 of a schedule).")
@click.option("--schedule", default="constant", show_default=True,
              help="constant, exponential (--rate, --s-min), linear, cosine or step (--s1, --duration)")
@click.option("--rate", type=_POSITIVE, default=None, help="annealing rate r of the exponential schedule")
@click.option("--s-min", type=FiniteFloat(min=0.0), default=0.0, show_default=True,
              help="bandwidth floor of the exponential schedule")
@click.option("--s1", type=_POSITIVE, default=None, help="final bandwidth of the linear, cosine and step schedules")
@click.option("--duration", type=_POSITIVE, default=None,
              help="time from --scale to --s1 (linear, cosine); time per level (step)")
@click.option("--step", type=_POSITIVE, default=0.5, show_default=True, help="time step eta")
@click.option("--steps", type=click.IntRange(min=0), default=50, show_default=True)
@click.option("--integrator", type=click.Choice(sorted(INTEGRATORS)), default="euler", show_default=True,
              help="time integrator (from the integrator registry)")
@click.option("--mode", "mode", type=NumberList(int), default="1", show_default=True,
              help="torus-mode: integer wave vector, comma separated (e.g. 2,1); one integer n in d > 1 "
                   "dimensions means (n, 0, ..., 0)")
@click.option("--eps", type=FiniteFloat(0.0, 1.0, max_open=True), default=0.05, show_default=True,
              help="torus-mode amplitude, in [0, 1)")
@click.option("--layout", type=click.Choice(["grid", "random"]), default="grid", show_default=True)
@click.option("--period", type=_POSITIVE, default=1.0, show_default=True, help="torus side (torus-mode)")
@click.option("--wrap", type=click.Choice(["lattice", "minimum_image"]), default=None,
              help="periodisation (default: lattice for d <= 2)")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float64", show_default=True)
@click.option("--device", default="cpu", show_default=True, help="torch device: cpu, cuda or cuda:N")
@click.option("--backend", type=click.Choice(list(BACKENDS)), default="auto",
              show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="torch intra-op threads (>= 1)")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--observe-every", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--checkpoint-every", type=click.IntRange(min=0), default=10, show_default=True,
              help="steps between checkpoints (0: only at the end)")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="output folder (checkpoint.npz, observables.csv, run.json)")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="continue from OUT/checkpoint.npz if present (same parameters; --steps may grow); "
                   "--no-resume starts over, replacing it")
@click.option("--reference-mode", type=click.Choice(["all_gather", "ring"]), default="all_gather",
              show_default=True,
              help="under torchrun: how each rank sums over the other ranks' particles (all_gather: receive "
                   "them all; ring: pass the blocks round the ranks, memory O(N/R) per rank)")
@click.option("--dist-timeout", type=_POSITIVE, default=300.0, show_default=True,
              help="under torchrun: seconds a rank waits for a peer before it fails (no hang when a rank dies)")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="a progress bar on stderr; the final summary is printed either way")
@format_option(help="Format of the final summary: table (two key=value lines under a header), csv, json or "
                    "markdown.")
@click.pass_context
def simulate(ctx, problem, n, m, dim, kernel, scale, schedule, rate, s_min, s1, duration, step, steps, integrator,
             mode, eps, layout, period, wrap, dtype, device, backend, threads, seed, observe_every, checkpoint_every,
             reference_mode, dist_timeout, out, resume, progress, fmt):
    """Move N particles along the drift toward M target samples and record observables.

    Example: driftlab simulate --kernel laplace --scale 0.05 --mode 3 --steps 40 --out runs/lap

    \b
    Distributed (R processes, each a slice of the particles; files and output from rank 0):
      torchrun --standalone --nproc_per_node=R -m driftlab -- simulate ... --out DIR
    (the -- keeps torchrun from reading --n and --m as its own options)
    """
    from driftlab.simulation.distributed import launched_by_torchrun

    if not launched_by_torchrun():
        refuse_unused(ctx, ["reference_mode", "dist_timeout"], "outside torchrun (they apply to a distributed run; "
                                                                "WORLD_SIZE and RANK are not set)")
        return _simulate(ctx, problem, n, m, dim, kernel, scale, schedule, rate, s_min, s1, duration, step, steps,
                         integrator, mode, eps, layout, period, wrap, dtype, device, backend, threads, seed,
                         observe_every, checkpoint_every, None, out, resume, progress, fmt)
    _simulate_distributed(ctx, dist_timeout, device, problem, n, m, dim, kernel, scale, schedule, rate, s_min, s1,
                          duration, step, steps, integrator, mode, eps, layout, period, wrap, dtype, device, backend,
                          threads, seed, observe_every, checkpoint_every, reference_mode, out, resume, progress, fmt)


def _simulate_distributed(ctx, timeout, device, *args):
    """The command as one rank of a torchrun launch: the group set up and torn down here, one line per failure."""
    import torch.distributed as dist

    from driftlab.simulation import DistributedRunError, init_from_env

    check_device(device)
    try:
        created = init_from_env(device, timeout)
    except Exception as exc:  # noqa: BLE001 - no group, no peers to tell: one line and exit 1
        raise click.ClickException(f"cannot start the distributed run: {type(exc).__name__}: {exc}") from None
    rank = dist.get_rank()

    def leave(exc: click.ClickException) -> None:
        """Rank 0 prints the one line, then every rank leaves together: torchrun stops the
        remaining ranks as soon as one exits, which must not be before rank 0 has printed."""
        if rank == 0:
            exc.show()
        try:
            dist.barrier()
        except Exception:  # noqa: BLE001, S110 - a peer already gone: nothing left to wait for
            pass
        ctx.exit(exc.exit_code)

    try:
        _simulate(ctx, *args)
    except DistributedRunError as exc:  # another rank failed: rank 0 reports it, the others exit quietly
        leave(click.ClickException(str(exc)))
    except click.exceptions.Exit:
        raise
    except click.ClickException as exc:  # the same on every rank (usage) or rank 0's own (its --out folder)
        leave(exc)
    except Exception as exc:  # noqa: BLE001 - this rank's own failure, or a peer that died or timed out
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise click.ClickException(f"rank {rank} of {dist.get_world_size()}: {type(exc).__name__}: {first}") \
            from None
    finally:
        if created and dist.is_initialized():
            dist.destroy_process_group()


def _simulate(ctx, problem, n, m, dim, kernel, scale, schedule, rate, s_min, s1, duration, step, steps, integrator,
              mode, eps, layout, period, wrap, dtype, device, backend, threads, seed, observe_every, checkpoint_every,
              reference_mode, out, resume, progress, fmt):
    """The command's work; ``reference_mode`` None: one process, else the distributed run of this rank."""
    from driftlab._io import RunFolderError
    from driftlab.simulation import (
        SimulationConfig,
        gmm_problem,
        run_simulation,
        torus_mode_problem,
    )

    # options the chosen problem or schedule would ignore are refused, not silently dropped
    if problem == "gmm":
        refuse_unused(ctx, ["mode", "eps", "layout", "period", "wrap"],
                      "by --problem gmm (they describe the torus-mode problem)")
    kind = schedule.lower()
    if kind != "exponential":
        refuse_unused(ctx, ["rate", "s_min"], f"by --schedule {schedule} (they belong to the exponential schedule)")
    if kind not in ("linear", "cosine", "step"):
        refuse_unused(ctx, ["s1", "duration"], f"by --schedule {schedule} (they belong to linear, cosine and step)")
    if kind == "exponential" and rate is None:
        raise click.UsageError("--schedule exponential needs --rate")
    if kind in ("linear", "cosine", "step") and (s1 is None or duration is None):
        raise click.UsageError(f"--schedule {schedule} needs --s1 and --duration")
    check_device(device)
    m = n if m is None else m
    with usage_errors({**_FLAGS, "bandwidth": "--scale", "length_scale": "--scale"}):  # the problem and the configuration are built from option values only
        if problem == "torus-mode":
            mvec = list(mode)
            if len(mvec) == 1 and dim > 1:
                mvec = mvec + [0] * (dim - 1)
            x, y, _ = torus_mode_problem(n, m, dim, mode=mvec, eps=eps, period=period, layout=layout, seed=seed)
            modes, per = [mvec], period
        else:
            x, y, _ = gmm_problem(n, m, dim, seed=seed)
            modes, per = [], None
        cfg = SimulationConfig(kernel=kernel, scale=scale, schedule=schedule, rate=rate, s_min=s_min, s1=s1,
                               duration=duration, step=step, n_steps=steps, integrator=integrator, period=per,
                               wrap=wrap, dtype=dtype, device=device, backend=backend, seed=seed,
                               observe_every=observe_every, modes=modes, checkpoint_every=checkpoint_every,
                               num_threads=threads)
        cfg.validate(dim)
    distributed = {} if reference_mode is None else {"distributed": True, "reference_mode": reference_mode}
    if reference_mode is None:
        out = prepare_out_dir(out, "--out")  # a file there, or no permission: fail now, not after the run
        root = True
    else:  # rank 0 alone creates the folder; its failure reaches every rank
        from driftlab.simulation.distributed import run_on_root

        out = Path(run_on_root(lambda: str(prepare_out_dir(out, "--out")), where="creating --out"))
        import torch.distributed as dist

        root = dist.get_rank() == 0
    try:
        res = run_simulation(cfg, x, y, out_dir=out, resume=resume, progress=progress,
                             run_params={"problem": problem, "n": n, "m": m, "dim": dim,
                                         **({"eps": eps, "layout": layout} if problem == "torus-mode" else {})},
                             **distributed)
    except RunFolderError as exc:  # the --out folder: busy, another run's, or an unreadable checkpoint
        raise click.ClickException(exc.cli_message(_FLAGS)) from exc
    if not root:
        return
    last = res.records[-1]
    check_finite(last, what=f"simulate (observables in {out})", ident=["step"])
    summary = {**last, "backend": res.info["backend"], "resumed_from": res.info["resumed_from"], "out": str(out)}
    header = {"kernel": f"{describe_kernel(kernel, scale)}, schedule {schedule}"
                        + (f" (rate {rate:g}, floor {s_min:g})" if kind == "exponential" else "")
                        + (f" (to {s1:g} over {duration:g})" if kind in ("linear", "cosine", "step") else ""),
              "problem": f"{problem}, N = {n} particles, M = {m} targets, dimension d = {dim}"
                         + (f", mode {list(mode)}, period {period:g}" if problem == "torus-mode" else ""),
              "units": f"t = steps x eta (eta = {step:g}) in the time of the drift flow dx/dt = V; E|V|^2 the mean "
                       "squared drift, mmd2 the squared MMD to the target samples"}
    lines = [f"step {last['step']}  t={last['t']:g}  E|V|^2={last['ev2']:.4e}  mmd2={last['mmd2']:.4e}",
             f"backend={res.info['backend']}  resumed_from={res.info['resumed_from']}  -> {out}"]
    rep = Report(f"driftlab simulate: state after step {last['step']} (observables in {out})",
                 [summary] if fmt != "table" else [], header=header, notes=lines if fmt == "table" else [],
                 json=summary)
    click.echo(render(rep, fmt))
