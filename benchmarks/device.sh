#!/usr/bin/env bash
# One prepared run for a lent GPU machine (16 cores, an H200, no network): installs emkit from
# this tree without dependencies (the machine's image has NumPy, SciPy, scikit-learn, pandas,
# pyarrow, matplotlib, threadpoolctl and PyTorch), runs the PyTorch tests on the GPU, then
# issue 16's thread sweep at (1e6, 10, 10) and (2e5, 50, 20) full with the passes on kernel
# threads and on worker processes. Every step has its own time limit and writes its log to
# $OUT, so what finished comes back even where a later step runs out of time.
#
#     bash benchmarks/device.sh            # on the device: run(command="bash benchmarks/device.sh")
#     OUT=/tmp/dev QUICK=1 bash benchmarks/device.sh   # a dry run here: smaller data
#
# Under 10 minutes (the steps' limits add to 580 s: give run() timeout_s=600); QUICK=1 takes
# the sweep's smaller data and the GPU benchmark on the CPU.
set -u
OUT=${OUT:-/tmp/emkit-device}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
quick=()
if [ "${QUICK:-0}" = 1 ]; then quick=(--quick); fi
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export PYTHONUNBUFFERED=1

step() {  # step NAME SECONDS COMMAND...: run with a limit, log to $OUT/NAME.log
    local name=$1 limit=$2
    shift 2
    echo "== $name (limit ${limit}s): $*"
    local start=$SECONDS
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    echo "== $name: rc=$? in $((SECONDS - start))s"
    tail -n 25 "$OUT/$name.log"
}

{
    nproc
    nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null || echo "no nvidia-smi"
    "$PY" -c "import torch, numpy; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'numpy', numpy.__version__)"
} >"$OUT/machine.log" 2>&1
cat "$OUT/machine.log"

step install 60 "$PY" -m pip install --no-deps --no-build-isolation --no-index -e .
step torch-tests 90 "$PY" -m pytest -q -p no:cacheprovider -x \
    tests/test_torch_backend.py tests/test_torch_backend_stop.py tests/test_torch_float32_pass.py
gpu=(--iters 5 --out "$OUT/RESULTS-gpu.md")
if [ "${QUICK:-0}" = 1 ]; then gpu+=(--device cpu); fi
step gpu 90 "$PY" benchmarks/gpu.py --quick "${gpu[@]}"
step threads 170 "$PY" benchmarks/threads.py --passes threads --rounds 2 "${quick[@]}"
step processes 170 "$PY" benchmarks/threads.py --passes processes --rounds 2 "${quick[@]}"
