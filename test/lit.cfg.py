# -*- Python -*-
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# Policy for the lowbit test suite; lit.site.cfg.py only fills in paths.

import os
import shutil
import subprocess

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "LOWBIT"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test", ".py"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py",
                   "Inputs", "gen_e2e.py", "consumer", "conftest.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.lowbit_obj_root, "test")

config.environment["FILECHECK_OPTS"] = "-enable-var-scope --allow-unused-prefixes=false"
llvm_config.use_default_substitutions()

# %python is the interpreter CMake found (with numpy, ml_dtypes, pytest and
# gguf; see lowbit.sh), not the one running lit: replace lit's default.
config.substitutions = [s for s in config.substitutions if s[0] != "%python"]
config.substitutions.append(("%python", '"%s"' % config.lowbit_python))
if config.lowbit_enable_python == "ON":
    config.available_features.add("python-bindings")
# ruff (pinned in python/requirements.txt) in that interpreter:
# Python/ruff.test lints the repository's Python with it.
try:
    if subprocess.run([config.lowbit_python, "-m", "ruff", "--version"],
                      stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode == 0:
        config.available_features.add("ruff")
except OSError:
    pass

# The host's vector ISA as features: every CPU kernel variant the host can
# execute runs in the suite. `x86-64-v3` (AVX2, FMA, F16C, BMI2: the AVX2
# kernels, lowbit-lower-to-cpu's target-cpu=x86-64-v3), `avx512` (F, BW, DQ,
# VL: x86-64-v4) and `avx512-vnni` (the VNNI kernels that target-cpu=host
# picks there). Tests execute the host's own variant and the x86-64-v3 one,
# and the AVX-512 ones under `%if avx512-vnni %{ ... %}`.
try:
    with open("/proc/cpuinfo") as f:
        flags = set()
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    if {"avx2", "fma", "f16c", "bmi2"} <= flags:
        config.available_features.add("x86-64-v3")
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        config.available_features.add("avx512")
        if "avx512_vnni" in flags:
            config.available_features.add("avx512-vnni")
except OSError:
    pass

config.substitutions.append(("%lowbit_src", config.lowbit_src_root))
config.substitutions.append(("%lowbit_obj", config.lowbit_obj_root))
config.substitutions.append(("%mlir_lib_dir", config.llvm_lib_dir))
config.substitutions.append(("%cmake", config.cmake_command))
config.substitutions.append(("%cxx", config.cxx_compiler))
config.substitutions.append(("%mlir_dir", config.mlir_dir))
# libomp: lowbit-cpu-to-llvm's kernels run their output-channel loops on
# OpenMP threads (libomp-22-dev).
runner_libs = ",".join(
    os.path.join(config.llvm_lib_dir, lib)
    for lib in ("libmlir_runner_utils.so", "libmlir_c_runner_utils.so",
                "libomp.so"))
config.substitutions.append(
    ("%run_cpu",
     "mlir-runner -e main -entry-point-result=void -shared-libs=" + runner_libs))

tool_dirs = [config.lowbit_tools_dir, config.llvm_tools_dir]
tools = ["lowbit-opt", "lowbit-gpu-emulate", "lowbit-quantize", "lowbit-calibrate", "lowbit-bench-cpu", "mlir-runner", "mlir-translate", "llc", ToolSubst("FileCheck", unresolved="fatal"),
         ToolSubst("not", unresolved="fatal")]
llvm_config.add_tool_substitutions(tools, tool_dirs)
# build/bin first, then the system PATH (Install and Docs tests run cmake,
# ninja, the compiler and coreutils).
llvm_config.with_system_environment("PATH")
llvm_config.with_environment("PATH", config.lowbit_tools_dir, append_path=True)

# Optional hardware and tools become features (REQUIRES: ptxas, cuda-gpu).
if os.path.exists("/usr/local/cuda/bin/ptxas"):
    config.available_features.add("ptxas")
if shutil.which("nvidia-smi") and os.path.exists("/dev/nvidia0"):
    config.available_features.add("cuda-gpu")
# llama.cpp's reference quantizers (bench/ggml-ref, built when CMake has
# LOWBIT_LLAMA_CPP_DIR, which `lowbit.sh test` always sets): GGUF/ tests.
if os.path.exists(os.path.join(config.lowbit_tools_dir, "ggml-ref-quantize")):
    config.available_features.add("llama-cpp")
# The model readers' libFuzzer targets (tools/lowbit-fuzz): Import/fuzz.test.
if all(os.path.exists(os.path.join(config.lowbit_tools_dir, t))
       for t in ("lowbit-fuzz-gguf", "lowbit-fuzz-safetensors")):
    config.available_features.add("libfuzzer")

# CMake projects that tests configure (test/Install) reuse ccache when the
# machine has it; ccache needs HOME (or CCACHE_DIR) to find its cache.
_ccache = shutil.which("ccache")
config.substitutions.append(
    ("%launcher_flags",
     "-DCMAKE_CXX_COMPILER_LAUNCHER=" + _ccache if _ccache else ""))
llvm_config.with_system_environment(["HOME", "CCACHE_DIR"])
