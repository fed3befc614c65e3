#!/usr/bin/env bash
# Builds what bench/gpu/run.sh needs on the GPU machine (which has no
# LLVM): the PTX of bench/gpu/kernels.mlir for sm_80 and sm_90 and the
# launch manifests, in bench/gpu/out. Run it here, after building lowbit:
#   bench/gpu/prepare.sh [build-dir]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
opt="$build/bin/lowbit-opt"
[ -x "$opt" ] || { echo "prepare.sh: no $opt (build lowbit first)" >&2; exit 1; }
out="$root/bench/gpu/out"
rm -rf "$out.tmp"
for chip in sm_80 sm_90; do
  "$opt" "$root/bench/gpu/kernels.mlir" --lowbit-gpu-kernels=chip=$chip \
    --lowbit-gpu-to-ptx --lowbit-write-ptx=dir="$out.tmp/$chip" -o /dev/null
  if [ -x /usr/local/cuda/bin/ptxas ]; then
    /usr/local/cuda/bin/ptxas -arch=$chip "$out.tmp/$chip/lowbit_gpu.$chip.ptx" \
      -o /dev/null
  fi
done
rm -rf "$out" && mv "$out.tmp" "$out"
echo "prepare.sh: PTX and manifests in $out"
