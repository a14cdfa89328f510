"""Ablation probe: where does the Triton kernel's time go? (scratch, not shipped)"""
import itertools, json, os, sys, time
import numpy as np, torch, triton, triton.language as tl
from triton.testing import do_bench
sys.path.insert(0, os.getcwd())
from driftlab.engine import kernel_sums
from driftlab.kernels import Gaussian, Laplace

@triton.jit
def _k(X, YA, OUT_C, OUT_L, n, m, p0, D: tl.constexpr, BLOCK_D: tl.constexpr, KIND: tl.constexpr,
       DIST: tl.constexpr, SKIP_EXP: tl.constexpr, FIXED: tl.constexpr, PV: tl.constexpr, QK: tl.constexpr,
       BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    pid = tl.program_id(0)
    rows = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    rmask = rows < n
    dims = tl.arange(0, BLOCK_D)
    xt = tl.load(X + rows[:, None] * BLOCK_D + dims[None, :], mask=rmask[:, None], other=0.0)
    x2 = tl.sum(xt * xt, axis=1)
    mx = tl.full([BLOCK_M], float("-inf"), tl.float32)
    if FIXED:
        mx = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    for j0 in range(0, m, BLOCK_N):
        cols = j0 + tl.arange(0, BLOCK_N)
        yt = tl.load(YA + cols[:, None] * BLOCK_D + dims[None, :])
        if DIST == 1:
            y2 = tl.sum(yt * yt, axis=1) - 1.0
            r2 = tl.maximum(x2[:, None] + y2[None, :] - 2.0 * tl.dot(xt, tl.trans(yt), input_precision=QK), 0.0)
        else:
            if DIST == 2:
                r2 = tl.dot(xt, tl.trans(yt), input_precision="tf32") * 0.0
            else:
                r2 = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
            for k in tl.static_range(D):
                yk = tl.load(YA + cols * BLOCK_D + k)
                xk = tl.load(X + rows * BLOCK_D + k, mask=rmask, other=0.0)
                diff = yk[None, :] - xk[:, None]
                r2 += diff * diff
        if KIND == 0:
            logit = r2 * (-p0)
        else:
            logit = tl.sqrt(r2) * (-p0)
        if FIXED:
            safe = mx
            new = mx
        else:
            new = tl.maximum(mx, tl.max(logit, axis=1))
            safe = tl.where(new == float("-inf"), 0.0, new)
        if SKIP_EXP:
            p = logit - safe[:, None]
        else:
            p = tl.exp2(logit - safe[:, None])
        if FIXED:
            acc = acc + tl.dot(p, yt, input_precision=PV)
        else:
            acc = acc * tl.exp2(mx - safe)[:, None] + tl.dot(p, yt, input_precision=PV)
        mx = new
    s = tl.sum(tl.where(dims[None, :] == D, acc, 0.0), axis=1)
    ssafe = tl.where(s > 0, s, 1.0)
    tl.store(OUT_C + rows[:, None] * BLOCK_D + dims[None, :], acc / ssafe[:, None], mask=rmask[:, None])
    tl.store(OUT_L + rows, (mx + tl.log2(ssafe)) * 0.6931471805599453, mask=rmask)

LOG2E = 1.4426950408889634
def run(kind, x, y, p0, bm, bn, w, dist, skip_exp=False, fixed=False, pv="tf32x3", qk="tf32x3", st=2):
    n, d = x.shape; m = y.shape[0]
    bd = max(16, 1 << d.bit_length())
    c = y.mean(0)
    xa = torch.zeros((n, bd), device="cuda"); xa[:, :d] = x - c
    ya = torch.zeros((m, bd), device="cuda"); ya[:, :d] = y - c; ya[:, d] = 1.0
    oc = torch.empty((n, bd), device="cuda"); ol = torch.empty(n, device="cuda")
    def f():
        _k[(triton.cdiv(n, bm),)](xa, ya, oc, ol, n, m, p0 * LOG2E, D=d, BLOCK_D=bd, KIND=kind, DIST=dist,
                                  SKIP_EXP=skip_exp, FIXED=fixed, PV=pv, QK=qk, BLOCK_M=bm, BLOCK_N=bn,
                                  num_warps=w, num_stages=st)
        return oc
    return f, (lambda: oc[:, :d] - xa[:, :d])

n = 2**16
rng = np.random.default_rng(0)
rows = []
cfgs = [(128, 64, 4), (128, 32, 4), (64, 64, 4), (128, 64, 8), (128, 128, 8), (64, 32, 4), (256, 64, 8)]
t0 = time.time()
for kname, kind, kern in (("gaussian", 0, Gaussian(0.5)), ("laplace", 1, Laplace(0.5))):
    p0 = 0.5 / 0.25 if kind == 0 else 2.0
    for d in (2, 8):
        x = torch.as_tensor(rng.normal(size=(n, d)), dtype=torch.float32, device="cuda")
        y = torch.as_tensor(rng.normal(size=(n, d)) + 0.1, dtype=torch.float32, device="cuda")
        ref = kernel_sums(x[:4096].double(), y.double(), kern, backend="torch").shift
        for dist in ((0, 1, 2) if kind == 0 else (0, 2)):
            best = None
            for (bm, bn, w) in cfgs:
                f, sh = run(kind, x, y, p0, bm, bn, w, dist)
                try:
                    f(); torch.cuda.synchronize()
                    ms = do_bench(f, warmup=10, rep=60, return_mode="median")
                except Exception as e:
                    print(kname, d, dist, bm, bn, w, "FAIL", str(e)[:100], flush=True); continue
                err = float((sh()[:4096].double() - ref).abs().max())
                pps = n * n / ms * 1e3
                rows.append(dict(kernel=kname, d=d, dist=dist, cfg=[bm, bn, w], variant="full", ms=ms, pps=pps, err=err))
                print(f"{kname} d={d} dist={dist} {bm}x{bn}w{w} {pps:.3e} err {err:.1e}", flush=True)
                if best is None or pps > best[0]: best = (pps, bm, bn, w)
            _, bm, bn, w = best
            for name, kw in (("skip_exp", dict(skip_exp=True)), ("fixed_ref", dict(fixed=True)),
                             ("pv_tf32", dict(pv="tf32")), ("qk_tf32_pv_tf32", dict(pv="tf32", qk="tf32")),
                             ("stages3", dict(st=3)), ("stages1", dict(st=1))):
                f, sh = run(kind, x, y, p0, bm, bn, w, dist, **kw)
                try:
                    f(); torch.cuda.synchronize()
                    ms = do_bench(f, warmup=10, rep=60, return_mode="median")
                except Exception as e:
                    print(kname, d, dist, name, "FAIL", str(e)[:100], flush=True); continue
                err = float((sh()[:4096].double() - ref).abs().max())
                pps = n * n / ms * 1e3
                rows.append(dict(kernel=kname, d=d, dist=dist, cfg=[bm, bn, w], variant=name, ms=ms, pps=pps, err=err))
                print(f"   {kname} d={d} dist={dist} {bm}x{bn}w{w} {name:16s} {pps:.3e} err {err:.1e}", flush=True)
        print("elapsed", time.time() - t0, flush=True)
json.dump(rows, open(os.path.join(os.environ.get("OUT", "/tmp"), "probe2.json"), "w"), indent=1)
