#!/usr/bin/env bash
# One call on a lent GPU: the CUDA tests, the Triton probe (the fma kernel autotuned and at every
# emulation share, the tensor-core kernels, d = 2, 3, 8: its summary names the fastest variant and
# whether it meets the H200 targets)
# and the engine benchmark, in < 10 minutes (timeouts 240 + 200 + 130 s). Runs from the
# repository root without installing anything (PYTHONPATH=.: the device image has torch,
# triton, pytest, hypothesis, scipy, sympy; POT is not needed here).
# Usage: bash benchmarks/gpu_session.sh [all|tests|probe|bench]   (one part: more time for it)
# Writes logs and JSON under ${OUT:-benchmarks/results/gpu_run} (each JSON is rewritten after
# every row, so a run cut by its time limit keeps what it measured).
set -u
part=${1:-all}
out=${OUT:-benchmarks/results/gpu_run}
mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
scale=1
[ "$part" != all ] && scale=2
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv | tee "$out/device.txt"
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)" | tee -a "$out/device.txt"
if [ "$part" = all ] || [ "$part" = tests ]; then
    timeout $((240 * scale)) python3 -m pytest -q -p no:cacheprovider -m gpu -n 4 -W ignore::UserWarning \
        tests/test_engine_backends.py tests/test_engine_triton_fma.py tests/test_fields_batch.py \
        tests/test_simulation_core.py 2>&1 \
        | tail -25 | tee "$out/pytest_gpu.log"
fi
if [ "$part" = all ] || [ "$part" = probe ]; then
    timeout $((200 * scale)) python3 benchmarks/bench_triton.py --dims 2,3,8 --variants triton_fma,fma_emu,triton_dot,torch \
        --out "$out/triton_probe.json" 2>&1 \
        | tee "$out/probe.log"
fi
if [ "$part" = all ] || [ "$part" = bench ]; then
    timeout $((130 * scale)) python3 benchmarks/bench_engine.py --device cuda --sizes 16 --dims 1,2,3,8 \
        --out "$out/engine_cuda.json" 2>&1 | tee "$out/bench.log"
fi
