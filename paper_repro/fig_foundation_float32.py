"""The float32 underflow trap: naive exp(-d/tau) vs log-space streaming, data moved away."""

from __future__ import annotations

from pathlib import Path

from analysis.foundation_estimators import float32_far_field
from driftlab.io import write_json
from driftlab.plotting import figure, save_figure

NAME = "foundation-float32"
TITLE = "float32 mean-shift field as the data moves away: naive exp vs log space"


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    res = float32_far_field()
    fig, ax = figure(2, 1, width=3.2)
    ax[0, 0].loglog(res["offsets"], [max(v, 1e-30) for v in res["naive_median_norm"]], "o-", label="naive exp (float32)")
    ax[0, 0].axvline(87.3 * res["tau"], color="gray", ls=":", label=r"$\approx 87\,\tau$")
    ax[0, 0].set(xlabel=r"data offset (units of $\tau$ = 1)", ylabel=r"median $|m(x)|$", title="naive field collapses to 0")
    ax[0, 0].legend()
    # the direction "towards the data's centre" is only the right reference once the data
    # lies beyond the query cloud, so the panel starts at offset 10
    far = [(o, c) for o, c in zip(res["offsets"], res["logspace_min_cosine"]) if o >= 10]
    ax[0, 1].semilogx([o for o, _ in far], [c for _, c in far], "o-", color="C2")
    ax[0, 1].axvline(87.3 * res["tau"], color="gray", ls=":")
    ax[0, 1].set(xlabel=r"data offset (units of $\tau$ = 1)", ylabel=r"min $\cos(V,\ \mathrm{data} - x)$", ylim=(0.98, 1.001),
                 title="log-space field stays finite and aimed")
    out = Path(out_dir)
    return [save_figure(fig, out / "foundation_float32.pdf"), write_json(out / "foundation_float32.json", res)]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
