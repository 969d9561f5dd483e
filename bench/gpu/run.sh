#!/usr/bin/env bash
# Real-GPU checks of hami-core, for the device machine: builds the native library there (gcc and
# cmake only), then runs bench/gpu/gpu_checks.py with the machine's own PyTorch.  Writes the JSON
# report to $OUT (when the device tool sets it) or to bench/results/.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=/tmp/hami-gpu-build
cmake -S . -B "$build" -DHAMI_BUILD_PYTHON=OFF -DHAMI_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target hami >/dev/null
out_dir=${OUT:-bench/results}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
PYTHONUNBUFFERED=1 timeout 480 python3 bench/gpu/gpu_checks.py --lib "$build/lib/libhami.so" \
  --out "$out_dir/gpu-checks-$(date +%Y%m%d).json"
