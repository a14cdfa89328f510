"""Timing of the 100-row ``driftlab spectrum`` table vs a bare-interpreter baseline (same run).

Prints, per command, the median wall time and CPU time (user + sys of the child) over
``repeats`` fresh processes, the ratio to the baseline ``python -c "import driftlab"``, and
whether torch got imported. Run: ``python analysis/spectral_cli_timing.py``.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "baseline: import driftlab": [sys.executable, "-c", "import driftlab"],
    "spectrum laplace d=2 k=1:100": [sys.executable, "-c",
                                     "import sys; from driftlab.cli import main; "
                                     "sys.argv=['driftlab','spectrum','--kernel','laplace','--dim','2','--k','1:100'];\n"
                                     "try: main()\nexcept SystemExit: pass\n"
                                     "assert 'torch' not in sys.modules"],
    "spectrum wendland (numerical) k=1:100": [sys.executable, "-c",
                                              "import sys; from driftlab.cli import main; "
                                              "sys.argv=['driftlab','spectrum','--kernel','wendland','--k','1:100'];\n"
                                              "try: main()\nexcept SystemExit: pass\n"
                                              "assert 'torch' not in sys.modules"],
}


def measure(cmd: list[str], repeats: int = 5) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return statistics.median(walls), statistics.median(cpus)


def main(repeats: int = 5) -> list[dict]:
    rows = []
    base = None
    for name, cmd in COMMANDS.items():
        wall, cpu = measure(cmd, repeats)
        base = base or (wall, cpu)
        rows.append({"command": name, "wall_s": wall, "cpu_s": cpu, "wall_ratio": wall / base[0],
                     "cpu_ratio": cpu / base[1]})
        print(f"{name:40s} wall {wall:6.3f} s  cpu {cpu:6.3f} s  ratio vs baseline wall {wall / base[0]:5.2f} "
              f"cpu {cpu / base[1]:5.2f}")
    print(f"load average: {os.getloadavg()}")
    return rows


if __name__ == "__main__":
    main()
