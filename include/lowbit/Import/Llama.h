//===- Llama.h - MLIR for a Llama-architecture decoder ----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Builds the decode step of a Llama-family model (token embedding,
// RMSNorm, RoPE, grouped-query attention over a KV cache, SwiGLU MLP,
// output head) as tensor-level MLIR, from a GGUF file or a safetensors
// file with its config.json. Weights are not copied where the file holds
// them as used: f32 tensors and kept GGUF blocks are dense_resource blobs
// pointing into the mapped file. The importer's parts: the file's weights
// (WeightSource.h), the architecture read from its metadata
// (Architecture.h) and the IR blocks built with OpBuilder
// (lib/Import/Builders.h). docs/Import.md.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_IMPORT_LLAMA_H
#define LOWBIT_IMPORT_LLAMA_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::lowbit {

struct LlamaConfig {
  int64_t dim = 0, layers = 0, heads = 0, kvHeads = 0, headDim = 0;
  int64_t ffn = 0, vocab = 0;
  int64_t contextLength = 0; // the model's
  double ropeTheta = 10000.0, rmsEps = 1e-5;
  /// RoPE pairs (2i, 2i+1) as GGUF stores llama weights; false: (i,
  /// i + headDim/2), Hugging Face's rotate_half.
  bool ropeInterleaved = true;
  bool tiedEmbeddings = false; // no separate output head
};

struct LlamaImportOptions {
  /// KV cache length (tokens) of the compiled decode step; 0: the model's
  /// context length, at most 2048.
  int64_t maxSeq = 0;
  /// GGUF weights stay as stored (lowbit.constant of the GGUF format, a
  /// lowbit.qmatmul with int8 inputs quantized per block as llama.cpp's);
  /// otherwise they are dequantized to f32 at import.
  bool keepGGUF = true;
  /// f16 / bf16 matrices and embedding tables (GGUF or safetensors) stay
  /// as stored: linalg.matmul of f32 activations and the halves, which the
  /// CPU kernels widen exactly as they read them (the same results as f32
  /// constants, half the memory). lowbit-compile sets it unless a
  /// quantization pipeline, which quantizes f32 matmuls, is given.
  bool keepHalf = true;
  /// KV cache storage: "f32"; "f16" (llama.cpp's default cache: keys,
  /// values, and the attention's other operands rounded to f16, f32
  /// sums); "int8" or "fp8" (E4M3), each token's keys
  /// and values quantized per head (one f32 scale per token and head);
  /// "int4" or "int2", KIVI (Liu et al. 2024): keys quantized per channel
  /// over groups of 32 tokens, values per token, asymmetric, the current
  /// group kept in f32 until it is complete.
  std::string kvCache = "f32";
  /// Chunk sizes of the prefill steps (docs/Prefill.md): one entry point
  /// `prefill_<C>` per size C (2 to the cache's length), which runs C
  /// prompt tokens in one call. Empty: only `decode`.
  std::vector<int64_t> prefillChunks;
};

/// The module of `path` (.gguf, or .safetensors with config.json in the
/// same directory): one entry point
///
///   func.func @decode(%token: tensor<1xi32>, %pos: tensor<1xi32>,
///                     %k_cache: tensor<LxTxKVxHDxf32>,
///                     %v_cache: tensor<LxTxKVxHDxf32>)
///       -> (tensor<1xVOCABxf32>, k_cache, v_cache)
///
/// which writes token `token`'s keys and values at position `pos` into
/// the caches (returned, updated in place), attends over positions 0..pos
/// and returns the next-token logits. A quantized KV cache replaces each
/// cache by its parts (docs/Import.md). Token and position are clamped to
/// their ranges. With `prefillChunks`, also for each chunk size C
///
///   func.func @prefill_C(%tokens: tensor<Cxi32>, %start: tensor<1xi32>,
///                        caches...) -> (tensor<1xVOCABxf32>, caches...)
///
/// which does what C decode steps at positions start.. do (the cache
/// written alike) and returns the last one's logits: the projections as
/// GEMMs over the C rows. Errors: null result, `error` says why (metadata that
/// would change the results and that the importer does not implement
/// included, naming the key or tensor).
OwningOpRef<ModuleOp> importLlama(MLIRContext *ctx, const std::string &path,
                                  const LlamaImportOptions &options,
                                  LlamaConfig &config, std::string &error);

} // namespace mlir::lowbit

#endif // LOWBIT_IMPORT_LLAMA_H
