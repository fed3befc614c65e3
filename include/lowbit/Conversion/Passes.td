//===- Passes.td - lowbit conversion passes ----------------*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CONVERSION_PASSES_TD
#define LOWBIT_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowbitLowerToLinalg : Pass<"lowbit-lower-to-linalg", "ModuleOp"> {
  let summary = "Reference lowering of lowbit ops to linalg, arith and tensor";
  let description = [{
    The executable definition of lowbit's semantics (docs/Spec.md): every
    `!lowbit.qtensor` becomes its run-time parts (packed i8 codes, scales,
    zero points, tensor scale), across function boundaries too, and every
    lowbit op becomes linalg.generic/arith/math on tensors: RNE rounding,
    saturation, sub-byte packing and FP8/FP6/FP4/E8M0 encoding done with
    integer bit manipulation.

    Before:
    ```mlir
    %q = lowbit.quantize %x : tensor<4x64xf32> -> !lowbit.qtensor<4x64xi8, per_axis<0>>
    %y = lowbit.dequantize %q : !lowbit.qtensor<4x64xi8, per_axis<0>> -> tensor<4x64xf32>
    ```
    After (abridged):
    ```mlir
    %amax = linalg.generic {iterator_types = ["parallel", "reduction"]} ...
    %scale = linalg.generic ... arith.divf %amax, %c127 ...
    %codes = linalg.generic ... math.roundeven ... arith.fptosi ... : tensor<4x64xi8>
    %y = linalg.generic ... arith.sitofp ... arith.mulf ...
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::tensor::TensorDialect",
    "::mlir::func::FuncDialect"
  ];
}

def LowbitConvertFromQuant : Pass<"lowbit-convert-from-quant", "ModuleOp"> {
  let summary = "Convert upstream quant types and casts into lowbit";
  let description = [{
    `quant.qcast` to `!quant.uniform` (per-layer, per-axis, sub-channel)
    becomes `lowbit.quantize` with static scale and zero-point constants,
    `quant.dcast` becomes `lowbit.dequantize`, and `quant.scast` of a
    quantized value to its storage is rejected with a diagnostic (lowbit's
    codes are packed). Types lowbit cannot represent (storage wider than 8
    bits, f16 storage, storage ranges narrower than the type's) are reported
    with the op's location.

    Before:
    ```mlir
    %q = quant.qcast %x : tensor<4xf32> to tensor<4x!quant.uniform<i8:f32, 0.5:3>>
    ```
    After:
    ```mlir
    %s = arith.constant dense<5.000000e-01> : tensor<f32>
    %z = arith.constant dense<3> : tensor<i32>
    %q = lowbit.quantize %x scale(%s : tensor<f32>) zero_point(%z : tensor<i32>)
        : tensor<4xf32> -> !lowbit.qtensor<4xi8, per_tensor, asymmetric, full_range...>
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::lowbit::LowbitDialect"];
}

def LowbitConvertToQuant : Pass<"lowbit-convert-to-quant", "ModuleOp"> {
  let summary = "Convert lowbit quantize/dequantize with static integer parameters to upstream quant";
  let description = [{
    The inverse of `lowbit-convert-from-quant` where upstream can represent the
    scheme: integer codes, f32 scales given as constants, per-tensor,
    per-axis or per-group granularity. Anything else (float element formats,
    E8M0 scales, dynamic scales, packed constants) is reported.

    Before:
    ```mlir
    %q = lowbit.quantize %x scale(%s : tensor<f32>) : tensor<4xf32> -> !lowbit.qtensor<4xi8, per_tensor>
    ```
    After:
    ```mlir
    %q = quant.qcast %x : tensor<4xf32> to tensor<4x!quant.uniform<i8<-127:127>:f32, 5.000000e-01>>
    ```
  }];
  let dependentDialects = ["::mlir::quant::QuantDialect"];
}

def LowbitLowerToCPU : Pass<"lowbit-lower-to-cpu", "ModuleOp"> {
  let summary = "Lower lowbit ops for CPUs: generated vector kernels for quantized matmuls";
  let description = [{
    CPU code generation (docs/CodegenCPU.md). The reference lowering's
    1:N conversion (`lowbit-lower-to-linalg`) with kernel patterns of higher
    benefit: a `lowbit.qmatmul` that a kernel covers becomes a call to a
    generated function of scf loops and vector ops; every other lowbit op
    keeps its reference lowering. Weights may be constants or function
    arguments (the kernel reads the parts of the qtensor).

    Kernels so far, for int4 weights stored per output channel
    (`transpose_b`, `!lowbit.qtensor<NxKxi4, per_group<[1 : g]>>`, g a
    multiple of 32, f32/f16/bf16 scales, f32 expressed type), outputs in
    tiles of MR x NR (1 x 4 for M = 1, 4 x 2 otherwise), output channels
    outermost so that every weight byte is read once:
    - W4A32, f32 activations [M, K]: 16 bytes of codes per step are split
      into nibbles with shifts, converted to f32 and multiplied with X's
      even and odd elements. Equal to the reference lowering within fp32
      reassociation. MXFP4 weights the same way, codes decoded to twice
      their E2M1 value by a 16-byte `vpshufb` table. W4A16: f16/bf16
      activations (extended exactly), weights expressed in f16/bf16 (each
      dequantized weight rounded to it, as the reference does), f32 or
      f16/bf16 results.
    - W4A8, symmetric int8 activations with one f32 scale per row or per
      tensor (what `lowbit-w4a8` produces), on targets with AVX-512 VNNI:
      biased nibbles times X's codes with `vpdpbusd` (through
      `lowbit-expand-intrinsic-calls`), exact int32 sums per 8 inputs,
      scaled in f32 per group (g dividing 128 or a multiple of it).
    - MXFP4 weights (f4E2M1FN, E8M0 scales per 32) times int8 activations:
      the same kernel, codes decoded to 2 * value + 12 by a `vpshufb`
      table, E8M0 scales decoded exactly (0x00: 2^-127, 0xFF: NaN).
    - NVFP4 weights (f4E2M1FN, E4M3 scales per 16, f32 tensor scale) times
      int8 activations: the same, E4M3 scales decoded exactly (subnormals,
      NaN), the tensor scale applied with X's.
    - W8A8: int8 weights with a scale per output channel or per tensor,
      int8 activations: weights made unsigned (w + 128) so the correction
      is per row of X, int32 sums over all of K. Constant weights are
      packed now into panels of 16 channels x 4 inputs
      (numerics::packInt8Panels) for a kernel that broadcasts 4 bytes of
      X against 16 channels per `vpdpbusd` (GEMM tiles 6 x 64, or 12 x 32
      for K > 8192); a weight argument marked `{lowbit.packed}` carries
      those panels' bytes from the caller (N % 16 == 0, K % 4 == 0).
    - Dynamic quantization of f32 activations to symmetric int8 (a scale
      per row or per tensor): vector code with the reference lowering's
      operations, bit-identical codes and scales.
    - FP8 E4M3 weights (a scale per output channel or per tensor) times f32
      activations, or FP8 activations (a scale per row or per tensor,
      decoded to f32 once per call): codes decoded exactly to f32 (normal
      codes as f32 bits, subnormal ones as m * 2^-9, no f32 denormals), FMA.
    - GGUF q4_0 and q8_0 weights read as stored (llama.cpp's blocks: an
      f16 scale, then the codes) times int8 activations: the same kernel
      with each chunk's blocks gathered (q4_0: X arranged by block halves;
      q8_0: one code per byte, biased by 128). GGUF q4_K super-blocks: the
      6-bit scales and mins decoded per super-block in vector code, q x and
      x summed per lane and segment, d sc and -dmin m applied per
      sub-block.
    - Ternary (BitNet b1.58) weights, 2-bit codes, f32 scales per row, per
      group or per tensor, times int8 activations: four codes per byte, X
      arranged in four segments per 256-input chunk, biased by 2.
    A GGUF qmatmul without a kernel takes the reference lowering (the
    blocks dequantized to f32, LB-L1).
    GEMM (M > MR) runs over blocks of output channels whose weights fill
    half of L2, M tiles inside; the blocks (GEMV: groups of 16 channels)
    are an scf.forall that becomes an OpenMP loop.
    GEMV tiles hold one output channel, so that the weights are read as a
    single sequential stream.

    `target-cpu` selects what kernels may use: `host` (the default: this
    machine's features), `x86-64-v3` (AVX2), `x86-64-v4`, `znver4`,
    `znver5`, `sapphirerapids`, `icelake-server`, `cascadelake`. Without
    AVX-512 VNNI the int8-activation kernels whose unsigned operand stays
    below 128 (int4, FP4, ternary, q4_0, q4_K) emulate `vpdpbusd` with
    `vpmaddubsw` + `vpmaddwd` (exact); W8A8 (weights not full_range) uses
    |w| times x * sign(w) (`vpsignb`), and so does q8_0 (activations not
    full_range).

    ```mlir
    %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x4096xf32>,
         !lowbit.qtensor<4096x4096xi4, per_group<[1 : 32]>> -> tensor<1x4096xf32>
    ```
    becomes
    ```mlir
    %y = call @__lowbit_w4_f32_1x4096x4096_g32_f32(%x, %codes, %scales)
        : (tensor<1x4096xf32>, tensor<4096x2048xi8>, tensor<4096x128xf32>)
        -> tensor<1x4096xf32>
    ```
  }];
  let options = [
    Option<"targetCpu", "target-cpu", "std::string", /*default=*/"\"host\"",
           "CPU whose features the kernels may use (host, x86-64-v3, "
           "x86-64-v4, znver4, znver5, sapphirerapids, icelake-server, "
           "cascadelake)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::vector::VectorDialect"];
}

def LowbitPackWeights : Pass<"lowbit-pack-weights", "ModuleOp"> {
  let summary = "Pack constant matmul weights into the layouts the kernels read";
  let description = [{
    The one place where constant weights are packed at compile time
    (docs/CodegenCPU.md, docs/CodegenGPU.md). Values never change, only
    their layout:
    - a rank-2 `lowbit.qmatmul` whose right operand is a `lowbit.constant`
      stored [K, N] (what `lowbit-quantize-matmuls` produces for
      `linalg.matmul`) gets the transposed constant [N, K] and
      `transpose_b` (codes repacked, scales and zero points transposed,
      the scheme's axes swapped); GGUF weights are left alone;
    - unless `kernel-layouts=0`, the constant weights of the qmatmuls whose
      kernel reads a packed layout get a copy in that layout, recorded in
      the constant (`layout`, docs/Spec.md LB-C2): with `target=cpu`, the
      int8 panels of the W8A8 qmatmuls that the CPU int8 panel kernel
      takes on `target-cpu`; with `target=nvptx` (after
      `lowbit-lower-to-gpu`), the mma-b tiles of the ops it gave a 4-bit
      mma kernel, and the int8 panels of the W8A8 qmatmuls it left to the
      host CPU. Which qmatmuls these are, each backend says
      (include/lowbit/Conversion/WeightLayouts.h).

    ```mlir
    %w = lowbit.constant codes(dense<1> : tensor<16x32xi8>)
         scales(dense<5.0e-01> : tensor<16xf32>)
         : !lowbit.qtensor<16x32xi8, per_axis<0>>
    %y = lowbit.qmatmul %xq, %w {transpose_b} : ...
    ```
    becomes (`target=cpu`, a CPU with AVX2 or AVX-512)
    ```mlir
    %w = lowbit.constant codes(dense<-127> : tensor<1x8x64xi8>)
         scales(dense<5.0e-01> : tensor<16xf32>)
         {layout = #lowbit<layout int8_panels>}
         : !lowbit.qtensor<16x32xi8, per_axis<0>>
    %y = lowbit.qmatmul %xq, %w {transpose_b} : ...
    ```
  }];
  let options = [
    Option<"target", "target", "::mlir::lowbit::PackTarget",
           /*default=*/"::mlir::lowbit::PackTarget::CPU",
           "The kernels the weights are packed for",
           [{::llvm::cl::values(
             clEnumValN(::mlir::lowbit::PackTarget::CPU, "cpu",
                        "lowbit-lower-to-cpu's kernels on target-cpu"),
             clEnumValN(::mlir::lowbit::PackTarget::NVPTX, "nvptx",
                        "the kernels lowbit-lower-to-gpu chose for chip, "
                        "the rest on target-cpu"))}]>,
    Option<"targetCpu", "target-cpu", "std::string", /*default=*/"\"host\"",
           "CPU whose kernels read the weights (as lowbit-lower-to-cpu)">,
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_80\"",
           "GPU the kernels were chosen for (target=nvptx; must match "
           "lowbit-lower-to-gpu' chip)">,
    Option<"kernelLayouts", "kernel-layouts", "bool", /*default=*/"true",
           "Also pack the kernels' layouts; 0: only the [N, K] "
           "transposition (what lowbit-lower-to-gpu chooses kernels on)">
  ];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

def LowbitExpandIntrinsicCalls
    : Pass<"lowbit-expand-intrinsic-calls", "ModuleOp"> {
  let summary = "Turn calls of LLVM-intrinsic declarations into llvm.call_intrinsic";
  let description = [{
    `lowbit-lower-to-cpu` calls target intrinsics (AVX-512 VNNI's
    `vpdpbusd`, which MLIR's x86vector dialect lacks) through private
    `func.func` declarations marked `lowbit.llvm_intrinsic = "<name>"`, so
    that bufferization and buffer deallocation see ordinary calls. After
    them, this pass replaces each call with `llvm.call_intrinsic` and
    erases the declarations. Part of `lowbit-cpu-to-llvm`.

    ```mlir
    func.func private @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(
        vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
        attributes {lowbit.llvm_intrinsic = "llvm.x86.avx512.vpdpbusd.512"}
    %d = call @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(%acc, %u, %x) : ...
    ```
    becomes
    ```mlir
    %d = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%acc, %u, %x) : ...
    ```
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def LowbitLowerToGPU : Pass<"lowbit-lower-to-gpu", "ModuleOp"> {
  let summary = "Generate GPU kernels (gpu.func, NVVM target) for quantized matmuls";
  let description = [{
    GPU code generation, first step (docs/CodegenGPU.md). Every
    `lowbit.qmatmul` a kernel covers gets a `gpu.func` kernel in the
    module's `gpu.module @lowbit_gpu` (target `#nvvm.target<chip = ...>`;
    one kernel per problem shape), and the op gets two attributes saying
    how to launch it: `lowbit.gpu_kernel` (the kernel's symbol) and
    `lowbit.gpu_launch` (grid x, y, z, block x, y, z, dynamic shared
    bytes). Kernels take plain device pointers (bare-pointer memrefs):
    X, the weight codes, the weight scales, then Y. The host side (a
    runtime launch through lib/Runtime) is what `lowbit-compile` will
    emit; `lowbit-gpu-to-ptx` and `lowbit-write-ptx` produce the PTX and
    a manifest for hosts today.

    Kernels so far:
    - W4A16, any M: f16 or bf16 activations [M, K], int4 weights [N, K]
      (transpose_b) in groups of a multiple of 32 along K with f16
      scales, f16/bf16/f32 result. Tensor cores (`mma.sync m16n8k16`,
      f32 accumulators); the weight parameter holds the "mma-b" tiles
      (numerics::packInt4MmaB: each lane's B fragments in one 16-byte
      load), dequantized in registers; X's tile by `cp.async`. M <= 16:
      128 channels per block of 4 warps; else 64 x 64.
    - MXFP4 (E8M0 scales per 32) and NVFP4 (E4M3 scales per 16, an f32
      tensor scale) weights, any M: the same kernel on mma-b tiles of
      E2M1 codes, decoded in registers to f16 pairs, the scales decoded
      exactly from their bytes (NVFP4's tensor scale is a parameter
      before Y).
    - W8A8 GEMM (sm_80 and newer): int8 X [M, K] with f32 scales per row
      or per tensor, int8 W [N, K] with f32 scales per channel or per
      tensor, K a multiple of 16, f32 or f16 result. Int8 tensor cores
      (`mma.sync m16n8k32`); 64 x 64 outputs per block of 4 warps, tiles
      of 64 inputs copied to shared memory with `cp.async` (zero-filled
      beyond M, N and K), exact int32 sums scaled once.
    - FP8 E4M3 GEMM (sm_89 and newer): the same with E4M3 operands and f32
      accumulation (`mma.sync ... e4m3.e4m3.f32`, PTX ISA 8.4). On sm_90a
      it runs on Hopper's warpgroup tensor cores instead: one warpgroup per
      64 x 64 tile, tiles in shared memory in wgmma's no-swizzle
      core-matrix layout, `wgmma.mma_async m64n64k32` on shared memory
      descriptors.
    - `lowbit.quantize` of f16/bf16/f32 activations [M, K] to int8 or
      E4M3 (sm_89+) with a dynamic f32 scale per row (what the W8A8 and
      FP8 GEMMs read): one block per row, amax by shuffles and shared
      memory, then the reference lowering's own encoders, so codes and
      scales are bit-identical to it.
  }];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_80\"",
           "NVIDIA compute capability of the target (sm_80, sm_86, sm_89, "
           "sm_90, sm_90a)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def LowbitWritePTX : Pass<"lowbit-write-ptx", "ModuleOp"> {
  let summary = "Write the PTX of every gpu.binary and a launch manifest";
  let description = [{
    After `gpu-module-to-binary{format=isa}` (`lowbit-gpu-to-ptx`): writes
    `<dir>/<binary>.<chip>.ptx` for each PTX object and
    `<dir>/<binary>.manifest.json` listing, per kernel, its parameters
    (shapes and element types of the bare-pointer buffers) and the launch
    of every qmatmul that uses it (`lowbit.gpu_kernel`,
    `lowbit.gpu_launch`). Files are written whole or not at all
    (temporary file, then rename).
  }];
  let options = [
    Option<"dir", "dir", "std::string", /*default=*/"\".\"",
           "Directory to write into (created if missing)">
  ];
}

def LowbitOffloadToGPU : Pass<"lowbit-offload-to-gpu", "ModuleOp"> {
  let summary = "Turn the ops lowbit-lower-to-gpu annotated into lowbit.launch on their buffers";
  let description = [{
    The host side of `lowbit-compile --target=nvptx` (docs/Compile.md),
    after `lowbit-lower-to-gpu` and `lowbit-gpu-to-ptx`. The PTX of
    `gpu.binary @lowbit_gpu` becomes the string global `__lowbit_ptx`, and
    every op carrying `lowbit.gpu_kernel` becomes a `lowbit.launch` of its
    kernel on the kernel's parameters in order: the qtensor operands'
    parts (`lowbit.unpack`), destinations for the results (`tensor.empty`;
    a quantized result is re-assembled by `lowbit.pack`). Constant 4-bit
    weights are packed into the "mma-b" tiles here
    (`numerics::packInt4MmaB`, one copy per constant); a 4-bit qmatmul with
    weights that are not a constant keeps its CPU lowering (a warning says
    so). Each operand's byte size is checked against the kernel's
    parameter.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::tensor::TensorDialect"];
}

def LowbitLowerLaunches : Pass<"lowbit-lower-launches", "ModuleOp"> {
  let summary = "Lower bufferized lowbit.launch ops to lib/Runtime calls";
  let description = [{
    After bufferization: each `lowbit.launch` on memrefs becomes a call
    `lbrt_model_launch(__lowbit_ptx, kernel name, desc, buffers)`, where
    `desc` is a constant array {grid x, y, z, block x, y, z, shared bytes,
    n, then per buffer its bytes and kind} (kind 0 input, 1 output, 2 a
    constant input: a weight, which the runtime uploads once) and
    `buffers` the buffers' aligned addresses. Buffers that are not
    contiguous are copied to and from contiguous ones.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect"];
}

#endif // LOWBIT_CONVERSION_PASSES_TD
