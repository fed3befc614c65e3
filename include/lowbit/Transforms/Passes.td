//===- Passes.td - lowbit transformation passes ------------*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_TRANSFORMS_PASSES_TD
#define LOWBIT_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowbitQuantizeMatmuls : Pass<"lowbit-quantize-matmuls", "func::FuncOp"> {
  let summary = "Quantize the operands of linalg.matmul into lowbit.qmatmul";
  let description = [{
    Rewrites each `linalg.matmul` whose right operand is a constant into a
    `lowbit.qmatmul` on `lowbit.quantize`d weights (scheme `weight-scheme`,
    with axis names resolved against the weight's shape), and, when
    `activation-scheme` is set, quantized activations: dynamic scales, or,
    with `activation-calibration=DIR` and a per_tensor scheme, a static
    range from the calibration statistics (`activation-range`: minmax,
    avg-minmax, percentile of the |x| histogram, or the clip minimising
    the quantization MSE over it), turned into the scale by the library. The
    schemes are written as the body of a `#lowbit.scheme`, with `last`
    allowed for the last axis and `out` for the output-channel axis.

    Before:
    ```mlir
    %w = arith.constant dense<...> : tensor<64x32xf32>
    %y = linalg.matmul ins(%x, %w : tensor<8x64xf32>, tensor<64x32xf32>) outs(%z : tensor<8x32xf32>) -> tensor<8x32xf32>
    ```
    After (`weight-scheme="i8, per_axis<out>"`):
    ```mlir
    %q = lowbit.quantize %w : tensor<64x32xf32> -> !lowbit.qtensor<64x32xi8, per_axis<1>>
    %y = lowbit.qmatmul %x, %q : tensor<8x64xf32>, !lowbit.qtensor<64x32xi8, per_axis<1>> -> tensor<8x32xf32>
    ```
  }];
  let options = [
    Option<"weightScheme", "weight-scheme", "std::string", "\"i8, per_axis<out>\"",
           "Scheme body for weights">,
    Option<"activationScheme", "activation-scheme", "std::string", "\"\"",
           "Scheme body for activations (empty: keep them in float)">,
    Option<"activationCalibration", "activation-calibration", "std::string",
           "\"\"",
           "Statistics directory: static per-tensor activation ranges "
           "instead of dynamic scales">,
    Option<"activationRange", "activation-range", "std::string",
           "\"minmax\"",
           "minmax, avg-minmax, percentile or mse (TFLite's calibration "
           "methods)">,
    Option<"percentile", "percentile", "double", "99.99",
           "activation-range=percentile: the percentile of |x|">
  ];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

def LowbitQuantizeWeights : Pass<"lowbit-quantize-weights", "ModuleOp"> {
  let summary = "Quantize constant weights of contractions into lowbit.constant";
  let description = [{
    For every contraction site (`linalg.matmul`, its transposed-B form,
    `linalg.batch_matmul`) whose right operand is a float constant (dense or
    `dense_resource`), quantizes the weight with the numerics library
    (docs/Numerics.md) and replaces the operand with `lowbit.dequantize` of a
    `lowbit.constant` holding the packed codes and scales (as
    `dense_resource` blobs beyond 1 KiB). `lowbit-fuse-dequant-matmul` then
    turns the pair into `lowbit.qmatmul`.

    A site is named by its location (`loc("layers.0.q_proj")`), or
    `<function>.matmul<i>` in walk order. `policy` overrides `scheme` per
    site: `;`-separated `glob=scheme-body` or `glob=keep` entries, first
    match wins. Scheme bodies may name the weight's axes `in` (the
    contracted one), `out` and `last`. A weight shared by several sites is
    quantized once per scheme. Non-finite weights, schemes whose blocks do
    not divide the weight and unknown methods are errors on the op.

    `method=gptq` chooses the codes with GPTQ (numerics::gptq), using each
    site's Gram matrix X^T X from `calibration` (lowbit-calibrate --gram);
    its scheme needs one scale per output channel (block 1 along `out`).
    A site without statistics is an error naming it. `method=hqq`
    (numerics::hqq, no calibration) refits zero points and scales of an
    asymmetric integer scheme with groups along `in`. `method=awq`
    (numerics::awq) searches per-input-channel scales s and clipping with
    the calibration samples (lowbit-calibrate --samples N), jointly for the
    sites that share an activation; the weights are stored as W diag(s)
    and the activation is divided by s, folded into a norm's weight when
    possible (as lowbit-smooth-activations does).

    Before:
    ```mlir
    %w = arith.constant dense<...> : tensor<64x32xf32>
    %y = linalg.matmul ins(%x, %w : tensor<8x64xf32>, tensor<64x32xf32>)
                       outs(%z : tensor<8x32xf32>) -> tensor<8x32xf32>
    ```
    After (`scheme="i4, per_group<[in : 32]>"`):
    ```mlir
    %q = lowbit.constant codes(dense<...> : tensor<64x16xi8>)
         scales(dense<...> : tensor<2x32xf32>)
         : !lowbit.qtensor<64x32xi4, per_group<[0 : 32]>>
    %w = lowbit.dequantize %q : !lowbit.qtensor<64x32xi4, per_group<[0 : 32]>>
         -> tensor<64x32xf32>
    %y = linalg.matmul ins(%x, %w : ...) outs(%z : ...) -> tensor<8x32xf32>
    ```
  }];
  let options = [
    Option<"method", "method", "std::string", "\"rtn\"",
           "Weight quantization algorithm: rtn (round to nearest), gptq, hqq or awq">,
    Option<"calibration", "calibration", "std::string", "\"\"",
           "Statistics directory of lowbit-calibrate (gptq: with --gram)">,
    Option<"damp", "damp", "double", "0.01",
           "gptq: dampening, as a fraction of mean(diag(H))">,
    Option<"actOrder", "act-order", "bool", "false",
           "gptq: quantize input channels by decreasing diag(H)">,
    Option<"staticGroups", "static-groups", "bool", "false",
           "gptq: group scales from the original weights">,
    Option<"progress", "progress", "bool", "false",
           "Print one line per quantized site to stderr (large models)">,
    Option<"scheme", "scheme", "std::string", "\"i8, per_axis<out>\"",
           "Scheme body for weights (axis names in/out/last allowed)">,
    Option<"policy", "policy", "std::string", "\"\"",
           "Per-site overrides: glob=scheme-body|keep, ';'-separated">
  ];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

def LowbitFuseDequantMatmul : Pass<"lowbit-fuse-dequant-matmul", "func::FuncOp"> {
  let summary = "Fuse lowbit.dequantize into contractions as lowbit.qmatmul";
  let description = [{
    Rewrites `linalg.matmul` (plain or transposed-B) and
    `linalg.batch_matmul` whose accumulator is a zero fill and whose
    operands come from `lowbit.dequantize` (either or both) into
    `lowbit.qmatmul` on the quantized values, so that code generation sees
    the quantized operands. Dequantize ops left without users are erased.

    IR from other frontends gets fused too: a `linalg.generic` that
    dequantizes constant integer codes, `(uitofp|sitofp(ext(codes)) [-
    zp]) * scale` with scales (f32, or f16/bf16 widened by `arith.extf`)
    and zero points indexed by `dK` / `dK floordiv g` maps, is first raised
    to `lowbit.dequantize` of a `lowbit.constant` with packed codes and the
    matching scheme (per_tensor, per_axis, per_group; asymmetric with zero
    points; full_range when the most negative code occurs). It is raised
    only when lowbit's dequantization reproduces every value bit for bit
    (integral zero points, representable scheme).

    Before:
    ```mlir
    %w = lowbit.dequantize %q : !lowbit.qtensor<32x64xi4, per_group<[1 : 32]>>
         -> tensor<32x64xf32>
    %y = linalg.matmul indexing_maps = [...transposed B...]
         ins(%x, %w : tensor<8x64xf32>, tensor<32x64xf32>)
         outs(%zero : tensor<8x32xf32>) -> tensor<8x32xf32>
    ```
    After:
    ```mlir
    %y = lowbit.qmatmul %x, %q {transpose_b} : tensor<8x64xf32>,
         !lowbit.qtensor<32x64xi4, per_group<[1 : 32]>> -> tensor<8x32xf32>
    ```
  }];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

def LowbitInstrumentCalibration
    : Pass<"lowbit-instrument-calibration", "ModuleOp"> {
  let summary = "Record the activations of every contraction site (calibration)";
  let description = [{
    Before every contraction site (the sites of `lowbit-quantize-weights`,
    named and numbered the same way), passes the left operand, the
    activations feeding the weight, to the external function
    `@lowbitCalibRecord(i64 site, tensor<*xf32>)`. The module attribute
    `lowbit.calibration_sites` lists the site names by id. With `entry`, it
    also adds `@__lowbit_calibrate`, which calls the entry function and
    drops its results; it has a C interface, so a JIT (lowbit-calibrate)
    can call it with memref descriptors. Activations must be f32.

    ```mlir
    %y = linalg.matmul ins(%x, %w : ...) ... loc("layers.0.up")
    ```
    becomes
    ```mlir
    %id = arith.constant 0 : i64
    %u = tensor.cast %x : tensor<8x64xf32> to tensor<*xf32>
    call @lowbitCalibRecord(%id, %u) : (i64, tensor<*xf32>) -> ()
    %y = linalg.matmul ins(%x, %w : ...) ...
    ```
  }];
  let options = [
    Option<"entry", "entry", "std::string", "\"\"",
           "Function that lowbit-calibrate calls per calibration input">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::tensor::TensorDialect"];
}

def LowbitSmoothActivations : Pass<"lowbit-smooth-activations", "ModuleOp"> {
  let summary = "Migrate activation outliers into the weights (SmoothQuant)";
  let description = [{
    SmoothQuant (Xiao et al.; mit-han-lab/smoothquant `smooth.py`). For
    every group of contraction sites that share one activation X (e.g.
    q/k/v projections of one normalised input) and have constant weights:
    s_j = max|X_j|^alpha / max|W_j|^(1-alpha), clamped to >= 1e-5, where
    max|X_j| comes from the calibration statistics (`calibration=DIR` of
    lowbit-calibrate) and max|W_j| is taken over all weights of the group
    (input channel j). Each weight's input channel j is multiplied by s_j
    and X is divided by s: folded into the producer when it is an
    elementwise `linalg.generic` whose result is a product with a constant
    per-channel vector (a norm's weight, which becomes gamma / s), else as
    an explicit division inserted before the sites. In exact arithmetic the
    function is unchanged; quantizing activations afterwards (W8A8) loses
    less on inputs with outlier channels.

    ```mlir
    %y = linalg.matmul ins(%x, %w : tensor<8x64xf32>, tensor<64x32xf32>) ...
    ```
    becomes
    ```mlir
    %xs = linalg.generic ... { %q = arith.divf %xi, %si : f32 ... }  // x / s
    %y = linalg.matmul ins(%xs, %ws : ...) ...  // %ws = diag(s) %w, constant
    ```
  }];
  let options = [
    Option<"alpha", "alpha", "double", "0.5",
           "Migration strength (0.5 default; 0.85 Llama-2/3, 0.8 Mistral)">,
    Option<"calibration", "calibration", "std::string", "\"\"",
           "Statistics directory of lowbit-calibrate">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def LowbitFoldConstantQuantize
    : Pass<"lowbit-fold-constant-quantize", "ModuleOp"> {
  let summary = "Quantize constants at compile time (lowbit.quantize of a constant)";
  let description = [{
    Replaces `lowbit.quantize` of a float constant (dense or
    `dense_resource`, no static scale operands) by a `lowbit.constant`
    computed by the numerics library, so weights that a pass quantized at
    run time (e.g. `lowbit-quantize-matmuls`) are stored quantized. The
    codes are the ones the run-time lowering would compute (the library
    and the reference lowering agree bit for bit). Non-finite constants are
    an error on the op.

    ```mlir
    %w = arith.constant dense<...> : tensor<64x32xf32>
    %q = lowbit.quantize %w : tensor<64x32xf32> -> !lowbit.qtensor<64x32xi8, per_axis<1>>
    ```
    becomes
    ```mlir
    %q = lowbit.constant codes(dense_resource<...> : tensor<64x32xi8>)
         scales(dense<...> : tensor<32xf32>) : !lowbit.qtensor<64x32xi8, per_axis<1>>
    ```
  }];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

def LowbitParallelizeRows
    : Pass<"lowbit-parallelize-rows", "func::FuncOp"> {
  let summary = "Split the rows of a function's elementwise and row-wise "
                "linalg ops over threads (scf.forall)";
  let description = [{
    A prefill step (docs/Prefill.md) runs its norms, RoPE, activations
    and residual adds on [rows, width] tensors: serial, they keep all but
    one thread waiting between the parallel kernels. This pass tiles each
    linalg op directly in a function body (not in a loop or a kernel)
    whose first loop is parallel, with at least `min-rows` iterations and
    `min-work` iterations in all, into an `scf.forall` over blocks of
    rows (`tasks` blocks; OpenMP threads after lowering). Every output
    element is computed as before (a row's reductions stay within its
    task), so the results do not change. Ops of one row (a decode step)
    are left as they are. Part of lowbit-compile's bufferize phase for the
    CPU backends.

    ```mlir
    %y = linalg.generic {..., iterator_types = ["parallel", "parallel"]}
        ins(%x : tensor<64x576xf32>) outs(%e : tensor<64x576xf32>) {...}
    ```
    becomes
    ```mlir
    %y = scf.forall (%i) = (0) to (64) step (4)
        shared_outs(%o = %e) -> (tensor<64x576xf32>) {
      ... linalg.generic on tensor<4x576xf32> slices ...
    }
    ```
  }];
  let options = [
    Option<"minRows", "min-rows", "int64_t", "8",
           "Fewest iterations of the first loop to split">,
    Option<"minWork", "min-work", "int64_t", "16384",
           "Fewest iterations of all loops to split">,
    Option<"tasks", "tasks", "int64_t", "16",
           "Blocks of rows per op (at most one row each)">,
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def LowbitFreeAfterLastUse
    : Pass<"lowbit-free-after-last-use", "func::FuncOp"> {
  let summary = "Move each memref.dealloc to just after the last use of its "
                "buffer";
  let description = [{
    MLIR's ownership-based buffer deallocation frees a block's buffers at
    the end of the block: in a function that is one block (a compiled
    model's step) every temporary lives until the function returns, and
    a prefill step of 30 layers and 128 rows holds all of its layers'
    (docs/Prefill.md). This pass moves each `memref.dealloc` up to just
    after the last op of its block that uses the buffer or any view of it
    (`BufferViewFlowAnalysis`: subviews, reshapes, casts, loop arguments;
    a use inside a region counts as its ancestor op in the block). A
    buffer with a use outside the block, or whose aliases it cannot see
    through, keeps its dealloc where it is. Runs after
    `buffer-deallocation-pipeline` in lowbit-compile's bufferize phase.

    ```mlir
    %a = memref.alloc() : memref<4x32xf32>
    call @k(%x, %a) : (memref<4x32xf32>, memref<4x32xf32>) -> ()
    call @k(%a, %y) : (memref<4x32xf32>, memref<4x32xf32>) -> ()
    %b = memref.alloc() : memref<4x32xf32>
    ...
    memref.dealloc %a : memref<4x32xf32>
    ```
    becomes the same with `memref.dealloc %a` right after the second call.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def LowbitApproximateExp
    : Pass<"lowbit-approximate-exp", "ModuleOp"> {
  let summary = "f32 math.exp as f64 arithmetic rounded once (vectorizes)";
  let description = [{
    `math.exp` becomes a libm call per element (`expf`), which the loop
    vectorizer cannot widen: a compiled model's softmax and SiLU / GELU
    spent 13% of a prefill step in it (`perf record` of
    bench/models/prefill_speed.py, docs/Performance.md). This pass
    rewrites f32 `math.exp`, scalar or vector, as arithmetic in f64:
    k = roundeven(x log2 e), r = x - k ln 2 (two-part ln 2), the Taylor
    polynomial of e^r to degree 10 (Horner, FMA), times 2^k built from
    its exponent bits, rounded once to f32; x clamped to [-110, 90] first
    (underflow to 0, overflow to +inf) and NaN passed through. The f64
    value is within about 1e-15 of exp(x), so the result is the correctly
    rounded exp but where exp(x) lies that close to a midpoint between two
    f32 values: what glibc's expf (also evaluated in double) returns. The
    same arithmetic on scalars and vectors, so a decode step and a
    prefill step round alike. Part of lowbit-compile's llvm phase for the
    CPU backends (not the reference lowering).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

def LowbitTieInplaceResults
    : Pass<"lowbit-tie-inplace-results", "ModuleOp"> {
  let summary = "Drop buffer results that are arguments written in place";
  let description = [{
    After bufferization at function boundaries, a public function that
    updates an argument in place (a KV cache the caller owns, written
    with `tensor.insert_slice` and returned) returns that argument's
    buffer. This pass removes such results and records, per original
    result, the argument it is (`lowbit.tied_results`, -1 for results of
    their own), so `bufferization`'s results-to-out-params adds no buffer
    and no copy for them; lowbit-compile's C API documents the argument
    as updated in place. Part of `lowbit-cpu-to-llvm{bare-ptr-abi=1}`.

    ```mlir
    func.func @step(%c: memref<4x8xf32>, %v: memref<1x8xf32>)
        -> (memref<2xf32>, memref<4x8xf32>) {
      ...
      return %alloc, %c : memref<2xf32>, memref<4x8xf32>
    }
    ```
    becomes
    ```mlir
    func.func @step(%c: memref<4x8xf32>, %v: memref<1x8xf32>)
        -> memref<2xf32> attributes {lowbit.tied_results = [-1, 0]} {
      ...
      return %alloc : memref<2xf32>
    }
    ```
  }];
}

def LowbitSplitOutliers : Pass<"lowbit-split-outliers", "func::FuncOp"> {
  let summary = "LLM.int8() outlier splitting: int8 matmul + float matmul of outlier channels";
  let description = [{
    LLM.int8() (Dettmers et al.; bitsandbytes): for every 2-D site with a
    constant weight (plain or transposed-B), input channels whose |x|
    reaches `threshold` are outliers. The product becomes

      qmatmul(quantize(X_reg), quantize(W_reg)) + X_out W_out

    with X_reg = X whose outlier columns are zero (so per-token scales
    ignore them), W_reg = W without the outlier rows, quantized with
    `activation-scheme` (default i8 per token) and `weight-scheme`
    (default i8 per output channel), and the outlier part in f32.

    `mode=static` takes the outlier set from calibration (`calibration=DIR`,
    channels whose absmax >= threshold): X_out gathers those columns and
    W_out is the constant of those rows. `mode=dynamic` decides at run
    time (column max |X| >= threshold over the tokens of the call), with
    masks instead of gathers. Sites with no outliers (static) get just the
    int8 product.
  }];
  let options = [
    Option<"mode", "mode", "std::string", "\"static\"",
           "static (outliers from calibration) or dynamic (decided per call)">,
    Option<"threshold", "threshold", "double", "6.0",
           "Outlier threshold on |x| (LLM.int8() default 6.0)">,
    Option<"calibration", "calibration", "std::string", "\"\"",
           "Statistics directory of lowbit-calibrate (mode=static)">,
    Option<"weightScheme", "weight-scheme", "std::string",
           "\"i8, per_axis<out>\"", "Scheme of the regular weights">,
    Option<"activationScheme", "activation-scheme", "std::string",
           "\"i8, per_axis<out>\"", "Scheme of the regular activations">
  ];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def LowbitApplyHadamard : Pass<"lowbit-apply-hadamard", "ModuleOp"> {
  let summary = "Randomised Hadamard rotation of contraction inputs (QuaRot)";
  let description = [{
    Incoherence processing (QuaRot, QuIP#): for every group of 2-D sites
    with constant f32 weights sharing one activation X whose K (input
    channels) has a Hadamard matrix (K = k * 2^m, numerics::hadamardMatrix),
    with the orthogonal R = H D / sqrt(K) (D random signs from `seed`):
    X is rotated once, X R, and every weight becomes R^T W (offline, by the
    numerics library), so the function is unchanged in exact arithmetic
    while outliers spread over all channels and quantize better. The online
    rotation is emitted as a `linalg.matmul` with the constant R (the
    reference form; a fast Walsh-Hadamard kernel is code generation's
    business); it carries `lowbit.not_a_site`, so the quantization passes
    leave it in float. Sites whose K has no construction are left alone,
    with a remark.

    ```mlir
    %y = linalg.matmul ins(%x, %w : tensor<8x64xf32>, tensor<64x32xf32>) ...
    ```
    becomes
    ```mlir
    %xr = linalg.matmul ins(%x, %r : tensor<8x64xf32>, tensor<64x64xf32>) ...
    %y = linalg.matmul ins(%xr, %wr : tensor<8x64xf32>, tensor<64x32xf32>) ...
    ```
  }];
  let options = [
    Option<"seed", "seed", "uint64_t", "0", "Seed of the random signs D">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // LOWBIT_TRANSFORMS_PASSES_TD
