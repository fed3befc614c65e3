#!/usr/bin/env bash
# lowbit.sh: the two entry points of the README.
#   ./lowbit.sh demo   quantize the embedded default model with each scheme,
#                      run it on the CPU, print accuracy against fp32
#   ./lowbit.sh test   run the whole test suite (check-lowbit)
# Both install what is missing (Debian packages) and build incrementally
# into build/ (override with LOWBIT_BUILD_DIR).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="${LOWBIT_BUILD_DIR:-$ROOT/build}"
LLVM=/usr/lib/llvm-22
APT_PACKAGES=(cmake ninja-build g++ llvm-22-dev libmlir-22-dev mlir-22-tools
              libgtest-dev python3)

log() { printf '[lowbit] %s\n' "$*" >&2; }

install_deps() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

build() {
  if [ ! -f "$BUILD/build.ninja" ]; then
    local launcher=()
    command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    log "configuring $BUILD"
    cmake -G Ninja -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
      -DMLIR_DIR="$LLVM/lib/cmake/mlir" \
      -DLLVM_EXTERNAL_LIT="$LLVM/bin/lit" "${launcher[@]}" >/dev/null
  fi
  log "building (ninja -C $BUILD)"
  ninja -C "$BUILD" "$@"
}

run_cpu() {
  "$LLVM/bin/mlir-runner" -e main -entry-point-result=void \
    -shared-libs="$LLVM/lib/libmlir_runner_utils.so,$LLVM/lib/libmlir_c_runner_utils.so"
}

# One row: label, weight scheme, activation scheme ("" = fp32), element bits,
# scales per layer ("axis", "tensor" or a group size), scale bits, zp bits.
demo_row() {
  local label="$1" ws="$2" as="$3" eb="$4" gran="$5" sb="$6" zb="$7"
  local opts="weight-scheme='$ws'"
  [ -n "$as" ] && opts="$opts activation-scheme='$as'"
  local out
  out=$("$BUILD/bin/lowbit-opt" "$MODEL" \
          --pass-pipeline="builtin.module(func.func(lowbit-quantize-matmuls{$opts}))" |
        "$BUILD/bin/lowbit-opt" --lowbit-reference-to-llvm | run_cpu)
  # Weight storage over both layers (64x128 and 128x32).
  local bits
  bits=$(awk -v eb="$eb" -v g="$gran" -v sb="$sb" -v zb="$zb" 'BEGIN {
    n = 64*128 + 128*32
    if (g == "axis") s = 128 + 32; else if (g == "tensor") s = 2;
    else s = (64/g)*128 + (128/g)*32
    printf "%.2f", (eb*n + s*(sb+zb)) / n }')
  read -r rel mx agree <<<"$(echo "$out" | tr '\n' ' ')"
  printf '%-18s %-62s %-20s %6s %10s %10s %6s\n' "$label" "$ws" "${as:-f32}" \
    "$bits" "$rel" "$mx" "$agree/16"
}

demo() {
  MODEL="$ROOT/tools/lowbit-demo/mlp.mlir"
  echo "lowbit demo: $(sed -n 2p "$MODEL" | sed 's|^// ||')"
  echo "Each row: lowbit-quantize-matmuls with the schemes shown, then the reference"
  echo "lowering (lowbit-reference-to-llvm) run on the CPU; errors are against fp32."
  echo
  printf '%-18s %-62s %-20s %6s %10s %10s %6s\n' scheme "weights" activations \
    "bits/w" "rel L2 err" "max |err|" "top-1"
  demo_row "W8 per-channel" "i8, per_axis<out>" "" 8 axis 32 0
  demo_row "W8A8 per-token" "i8, per_axis<out>" "i8, per_axis<out>" 8 axis 32 0
  demo_row "W8A8 per-tensor" "i8, per_axis<out>" "i8, per_tensor" 8 axis 32 0
  demo_row "W4 g32 asym" "ui4, per_group<[in : 32]>, asymmetric" "" 4 32 32 32
  demo_row "W4A8 g32" "i4, per_group<[in : 32]>" "i8, per_axis<out>" 4 32 32 0
  demo_row "FP8 E4M3 W+A" "f8E4M3FN, per_tensor" "f8E4M3FN, per_tensor" 8 tensor 32 0
  demo_row "MXFP4" "f4E2M1FN, per_group<[in : 32]>, scale = f8E8M0FNU" "" 4 32 8 0
  demo_row "NVFP4" "f4E2M1FN, per_group<[in : 16]>, scale = f8E4M3FN, tensor_scale" "" 4 16 8 0
  demo_row "W2 ternary g64" "ternary, per_group<[in : 64]>" "" 2 64 32 0
}

case "${1:-}" in
  demo)
    install_deps
    build lowbit-opt >&2
    demo
    ;;
  test)
    install_deps
    build
    build check-lowbit
    ;;
  *)
    echo "usage: $0 demo|test" >&2
    exit 2
    ;;
esac
