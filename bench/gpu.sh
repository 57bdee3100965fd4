#!/usr/bin/env bash
# The GPU check in one short script, for a machine with CUDA and a CUDA build of torch (none was lent to the
# sessions so far): the quick pipeline on the GPU, then the benchmark with bf16 autocast, synchronised timings and
# the share of the GPU's measured bf16 matmul rate, written to bench/results_cuda.md.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU visible to torch'; print(torch.cuda.get_device_name())"
pip install -q -e . >/dev/null
scratch=$(mktemp -d)
( cd "$scratch" && /usr/bin/time -v mqc pipeline --quick --device cuda 2>&1 | tail -40 ) | tee "$scratch/pipeline.log"
python bench/run.py --device cuda --save --out bench/results_cuda.md
