#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# Builds what bench/gpu/run.sh needs on the GPU machine (which has no
# LLVM): the PTX of bench/gpu/kernels.mlir for sm_80 and sm_90 and the
# launch manifests, and a model compiled by lowbit-compile --target=nvptx
# (bench/gpu/model.py) with its x86_64 build's outputs, in bench/gpu/out. Run it here, after building lowbit:
#   bench/gpu/prepare.sh [build-dir]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
opt="$build/bin/lowbit-opt"
[ -x "$opt" ] || { echo "prepare.sh: no $opt (build lowbit first)" >&2; exit 1; }
out="$root/bench/gpu/out"
rm -rf "$out.tmp"
for chip in sm_80 sm_90 sm_90a; do
  "$opt" "$root/bench/gpu/kernels.mlir" --lowbit-lower-to-gpu=chip=$chip \
    --lowbit-gpu-to-ptx --lowbit-write-ptx=dir="$out.tmp/$chip" -o /dev/null
  if [ -x /usr/local/cuda/bin/ptxas ]; then
    /usr/local/cuda/bin/ptxas -arch=$chip "$out.tmp/$chip/lowbit_gpu.$chip.ptx" \
      -o /dev/null
  fi
done
# An nvptx-compiled model (lowbit-compile --target=nvptx) and its
# x86_64 build's outputs (run here) for run.sh to compare with.
compile="$build/bin/lowbit-compile"
m="$out.tmp/model"
python3 "$root/bench/gpu/model.py" make "$m"
"$compile" "$m/model.mlir" -o "$m/x86_64" --prefix=model --shared
python3 "$root/bench/gpu/model.py" run "$m/x86_64" "$m"
for chip in sm_80 sm_90; do
  "$compile" "$m/model.mlir" -o "$m/nvptx_$chip" --prefix=model --shared \
    --target=nvptx --sm=$chip
done
rm "$m/model.mlir"
# The GPU machine has no LLVM: bring the OpenMP runtime the host code uses.
for lib in /usr/lib/llvm-22/lib/libomp.so*; do
  [ -e "$lib" ] && cp -L "$lib" "$m/"
done
rm -rf "$out" && mv "$out.tmp" "$out"
echo "prepare.sh: PTX, manifests and the nvptx model in $out"
