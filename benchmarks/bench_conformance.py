"""Benchmark: wall time of the conformance suite (``check_drift`` / ``driftlab check``).

Times ``check_drift(fn, convention, budget=...)`` for numpy implementations at the default
sizes: driftlab's own estimators (joint, alg2, official) and a plain dense numpy joint field as
a user would write it; then ``driftlab check FILE:fn --quick`` end to end in a fresh process
(interpreter start and imports included). The target: ``--quick`` under a minute on 2 cores.

    python benchmarks/bench_conformance.py [--full] [--out benchmarks/results/bench_conformance.json]

Prints a table (seconds per run and the slowest checks) and writes the JSON with the machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from driftlab.io import machine_info, write_json  # noqa: E402
from driftlab.fields import batch_drift, official_drift  # noqa: E402
from driftlab.kernels import Laplace  # noqa: E402
from driftlab.testing import check_drift  # noqa: E402

_USER = textwrap.dedent('''
    import numpy as np

    def dense_joint(x, yp, yn, t):
        """Laplace joint field, dense numpy, log-sum-exp row softmax."""
        d = np.concatenate([yp, yn])[None] - x[:, None]
        lg = -np.sqrt((d * d).sum(-1)) / t
        a = np.exp(lg - lg.max(1, keepdims=True))
        a /= a.sum(1, keepdims=True)
        m = yp.shape[0]
        ap, an = a[:, :m], a[:, m:]
        w = np.concatenate([ap * an.sum(1, keepdims=True), -an * ap.sum(1, keepdims=True)], 1)
        return (w[..., None] * d).sum(1).astype(x.dtype)
''')


def _impls(user):
    def own(method):
        return lambda x, yp, yn, t: batch_drift(x, yp, yn, Laplace(t), method=method, mask_self=yn is x)

    return [("driftlab joint", "joint", own("joint")), ("driftlab alg2", "alg2", own("alg2")),
            ("driftlab official", "official", lambda g, p, n, t: official_drift(g, p, n, temperatures=t)),
            ("user dense joint", "joint", user.dense_joint)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="also time the full budget")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench_conformance.json")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "user_drift.py"
        path.write_text(_USER)
        ns: dict = {}
        exec(compile(_USER, str(path), "exec"), ns)

        class User:
            dense_joint = staticmethod(ns["dense_joint"])

        budgets = ["quick", "full"] if args.full else ["quick"]
        for budget in budgets:
            for name, conv, fn in _impls(User):
                t0 = time.perf_counter()
                report = check_drift(fn, conv, budget=budget)
                wall = time.perf_counter() - t0
                slow = sorted(report.rows, key=lambda r: -r.seconds)[:3]
                rows.append({"impl": name, "convention": conv, "budget": budget, "seconds": wall,
                             "passed": report.passed,
                             "slowest": {r.id: round(r.seconds, 3) for r in slow}})
                print(f"{budget:<5}  {name:<18}  {wall:7.2f} s  passed={report.passed}  slowest: "
                      + ", ".join(f"{r.id} {r.seconds:.2f}s" for r in slow), flush=True)
        for budget in budgets:
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "driftlab", "check", f"{path}:dense_joint",
                                   "--convention", "joint", f"--{budget}"], capture_output=True, text=True)
            wall = time.perf_counter() - t0
            rows.append({"impl": "driftlab check (CLI, fresh process)", "convention": "joint", "budget": budget,
                         "seconds": wall, "passed": proc.returncode == 0, "exit_code": proc.returncode})
            print(f"{budget:<5}  {'CLI end to end':<18}  {wall:7.2f} s  exit={proc.returncode}", flush=True)
    write_json(args.out, {"machine": machine_info(), "rows": rows})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
