#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# On the GPU machine (nvcc, cmake, PyTorch; no LLVM, no network): builds
# lib/Runtime with plain CMake and runs bench.py on the PTX that
# prepare.sh made. Extra arguments go to bench.py.
#   bench/gpu/run.sh [--quick]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
[ -f "$root/bench/gpu/out/sm_90/manifest.json" ] ||
  { echo "run.sh: no bench/gpu/out (run bench/gpu/prepare.sh first)" >&2; exit 1; }
rt="${TMPDIR:-/tmp}/lowbit-runtime"
cmake -S "$root/lib/Runtime" -B "$rt" -DCMAKE_BUILD_TYPE=Release > "$rt.log" 2>&1 ||
  { cat "$rt.log"; exit 1; }
cmake --build "$rt" -j > "$rt.build.log" 2>&1 || { cat "$rt.build.log"; exit 1; }
python3 "$root/bench/gpu/bench.py" --runtime "$rt/liblowbit_runtime.so" \
  --kernels "$root/bench/gpu/out" "$@"
# The nvptx-compiled model (its runtime is linked in) against the x86_64
# build's outputs.
m="$root/bench/gpu/out/model"
cc="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)"
chip=sm_90; [ "${cc:-90}" -lt 90 ] && chip=sm_80
LD_LIBRARY_PATH="$m${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  python3 "$root/bench/gpu/model.py" run "$m/nvptx_$chip" "$m" \
  --against "$m/x86_64.npz"
