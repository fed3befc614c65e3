//===- Builders.h - IR building blocks of a decoder step --------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The third part of the model importer (docs/Import.md): the blocks a
// decode step is made of (embedding, RMSNorm, linear layers, RoPE,
// attention, KV cache, SwiGLU, residual adds), each built with an
// ImplicitLocOpBuilder at its insertion point, on tensors of batch 1.
// Weights come from `WeightConstants`: dense_resource blobs that point into
// the mapped model file where it holds them as used (no copy). The ops are
// the ones lowbit-compile's pipeline expects: f32 matmul sites are
// `linalg.matmul` with transposed-B maps and a zero fill, kept GGUF blocks
// are `lowbit.qmatmul {transpose_b}` of a `lowbit.constant`.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_IMPORT_BUILDERS_H
#define LOWBIT_LIB_IMPORT_BUILDERS_H

#include "lowbit/Import/Architecture.h"
#include "lowbit/Import/WeightSource.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <string>

namespace mlir::lowbit {
class QTensorType;
} // namespace mlir::lowbit

namespace mlir::lowbit::importer {

/// The weights of a WeightSource as constants of the function being built.
/// A weight the file holds as used (f32, or GGUF blocks kept as stored) is
/// a dense_resource blob pointing into the mapped file; f16 and bf16 are
/// converted and other GGUF blocks dequantized to f32 copies. Each blob is
/// made once and shared (a tied head reads the embedding's). Records the
/// weights used; errors go to `error`.
class WeightConstants {
public:
  WeightConstants(ImplicitLocOpBuilder &b, const WeightSource &source)
      : b(b), source(source) {}

  /// The weight `name`, which must have `shape`; null (error set) if the
  /// model has no such tensor or its shape differs.
  const Weight *lookup(StringRef name, ArrayRef<int64_t> shape);

  /// `arith.constant` of weight `name` as f32 of `shape`; null on error.
  Value f32(StringRef name, ArrayRef<int64_t> shape);

  /// A blob named `key` of `type`: `data` itself where it is aligned to
  /// `align`, a copy otherwise or when `copy`. A key made before returns
  /// the blob made then. `data` lies in the mapped file(s), or in memory
  /// that `owner` keeps alive (the blob then keeps `owner`).
  DenseResourceElementsAttr blob(StringRef key, ShapedType type,
                                 ArrayRef<char> data, size_t align, bool copy,
                                 std::shared_ptr<const void> owner = nullptr);

  /// Whether weight `name` was looked up.
  bool used(StringRef name) const { return usedNames.contains(name); }

  std::string error;

private:
  ImplicitLocOpBuilder &b;
  const WeightSource &source;
  llvm::StringMap<DenseResourceElementsHandle> blobs;
  llvm::StringSet<> usedNames;
};

/// Values the blocks of one step share, made once at the top of the step
/// function (in this order: the index constants 0, 1, 2 and head size / 2;
/// f32 0 and -inf; the model width and RMSNorm epsilon; the attention
/// scale 1/sqrt(head size); then the clamped first position). A step runs
/// `rows` tokens at positions pos, pos + 1, ...: one for a decode step, a
/// chunk of a prompt for a prefill step (docs/Prefill.md); activations are
/// [rows, ...].
struct StepValues {
  Value c0, c1, c2, cHalf;
  Value zero, negInf;
  Value dim, eps, scale;
  /// The model width that `dim` holds.
  int64_t width = 0;
  /// Tokens of the step.
  int64_t rows = 1;
  /// The tokens (tensor<rows x i32>, as given: tokenAt clamps them) and
  /// the first position (index), clamped so that all rows fit the cache.
  Value tokens, pos;
  /// The vocabulary's last token (i32), tokenAt's clamp.
  Value lastToken;
};

/// Makes the StepValues of a step over `tokens` (tensor<rows x i32>) at
/// positions pos.. (`pos` a tensor<1xi32>) for `hp` and a cache of
/// `cacheLength` tokens.
StepValues buildStepValues(ImplicitLocOpBuilder &b, const HyperParameters &hp,
                           int64_t cacheLength, Value tokens, Value pos);

/// Row `row`'s token (index), clamped to the vocabulary.
Value tokenAt(ImplicitLocOpBuilder &b, const StepValues &v, Value row);

/// The embedding rows of the step's tokens [rows, D]: a GGUF table of
/// 32-input blocks kept as stored (`keepGGUF`) is decoded row by row from
/// its blocks (q8_0: q * d, exact in f32, as llama.cpp's
/// dequantize_row_q8_0), an f16 / bf16 one (`keepHalf`) widened, anything
/// else read from an f32 table. Null on error.
Value buildEmbedding(ImplicitLocOpBuilder &b, const StepValues &v,
                     WeightConstants &w, const HyperParameters &hp,
                     bool keepGGUF, bool keepHalf = false);

/// RMSNorm over the last dimension of x ([rows, D], or [rows, heads, D]) with
/// weight `gamma` [D]: x / sqrt(mean(x^2) + eps) * g. Null on error.
/// With `plusOne`, the weight is (1 + gamma) (Gemma as Hugging Face
/// stores it).
Value buildRMSNorm(ImplicitLocOpBuilder &b, const StepValues &v,
                   WeightConstants &w, Value x, StringRef gamma,
                   bool plusOne = false);

/// `kind` norm of each head of x [rows, heads * headDim] with the weights
/// `gamma` [headDim] shared by the heads (Qwen3's Q and K norms).
Value buildHeadNorm(ImplicitLocOpBuilder &b, const StepValues &v,
                    WeightConstants &w, NormKind kind, Value x, int64_t heads,
                    int64_t headDim, StringRef gamma);

/// Columns [offset, offset + size) of x [rows, n].
Value buildSlice(ImplicitLocOpBuilder &b, Value x, int64_t offset,
                 int64_t size);

/// x [rows, n] + the weight `name` [n]; null on error.
Value buildBias(ImplicitLocOpBuilder &b, WeightConstants &w, Value x,
                StringRef name);

/// A norm of `kind` (RMSNorm so far).
Value buildNorm(ImplicitLocOpBuilder &b, const StepValues &v,
                WeightConstants &w, NormKind kind, Value x, StringRef gamma);

/// x [rows, in] times weight `name` [out, in] transposed, at site `site` (the
/// op's NameLoc, which the quantization passes report): GGUF q4_0, q8_0
/// and the other GGUF types with a CPU kernel, kept as stored
/// (`keepGGUF`), are `lowbit.qmatmul` with x quantized to int8 per block
/// as llama.cpp's; pre-quantized safetensors weights are
/// buildPrequantizedLinear; f16 / bf16 weights with `keepHalf` a
/// `linalg.matmul` of f32 x and the weights as stored; anything else a
/// `linalg.matmul` of an f32 constant. Null on error.
Value buildLinear(ImplicitLocOpBuilder &b, const StepValues &v,
                  WeightConstants &w, Value x, StringRef name, int64_t out,
                  int64_t in, StringRef site, bool keepGGUF,
                  bool keepHalf = false);

/// x [rows, in] times the pre-quantized weight `wt` (a Quantized weight
/// [out, in] named `name`): `lowbit.qmatmul {transpose_b}` of a
/// `lowbit.constant` holding the checkpoint's codes, scales and zero
/// points, x permuted first where the weight's columns are (act-order).
Value buildPrequantizedLinear(ImplicitLocOpBuilder &b, WeightConstants &w,
                              Value x, StringRef name, const Weight &wt,
                              Location site);

/// cos and sin of p * f_i for each row's position p and the RoPE
/// frequencies f_i of `hp` (ropeFrequencies: theta^(-2i/hd), scaled),
/// times the attention factor (YaRN), as [rows, 2, hd/2] (cos, then sin):
/// computed once per step for every RoPE.
/// The frequencies are the constant `name`.
Value buildRopeTable(ImplicitLocOpBuilder &b, const StepValues &v,
                     WeightConstants &w, const HyperParameters &hp,
                     StringRef name = "rope_freqs");

/// RoPE of x [rows, heads * hd] with `table` (buildRopeTable): [rows,
/// heads, hd].
Value buildRope(ImplicitLocOpBuilder &b, const StepValues &v, Value x,
                int64_t heads, int64_t headDim, Value table, RopeStyle style);

class KVCache;

/// Grouped-query attention of q [rows, H, hd] (after RoPE) over layer
/// `layer` of `cache`, row r at position pos + r over positions
/// 0..pos + r: softmax(q k^T * scale) v with the later positions masked,
/// and with a `window` > 0 also those at or before pos + r - window
/// (sliding-window attention); [rows, H * hd]. The rows' keys and values
/// must be in the cache already. Only the cache's blocks that hold
/// attended positions are read (cost in proportion to pos, or to the
/// window, not to the cache's length), each as stored (KVCache::block)
/// and once for all rows; each row's softmax and values' sum add the same
/// terms in the same order as a decode step at its position over the
/// whole cache.
///
/// With an f16 cache it computes what llama.cpp's attention does over its
/// default f16 cache without flash attention: both dot products take
/// their other operand rounded to f16 (q, then the normalized
/// probabilities) and accumulate in f32; q is rounded before the scale,
/// which multiplies the scores, unless `scaleQueriesFirst` (llama.cpp's
/// Gemma 3 and Phi-3 scale q in f32 and round q * scale).
/// `scaleQueriesFirst` changes nothing with other caches.
Value buildAttention(ImplicitLocOpBuilder &b, const StepValues &v, Value q,
                     KVCache &cache, int64_t layer, int64_t heads,
                     int64_t kvHeads, int64_t headDim, int64_t window = 0,
                     bool scaleQueriesFirst = false);

/// x (f32) rounded to f16, to nearest even (`arith.truncf`), elementwise.
Value buildRoundToF16(ImplicitLocOpBuilder &b, Value x);

/// silu(gate) * up, elementwise on [rows, F].
Value buildSwiGLU(ImplicitLocOpBuilder &b, Value gate, Value up);

/// gelu_tanh(gate) * up (Gemma's GeGLU, GELU with the tanh
/// approximation), elementwise on [rows, F].
Value buildGeGLU(ImplicitLocOpBuilder &b, Value gate, Value up);

/// x [rows, n] * factor.
Value buildScale(ImplicitLocOpBuilder &b, Value x, double factor);

/// a + c on [rows, n].
Value buildAdd(ImplicitLocOpBuilder &b, Value a, Value c);

/// [rows, n * d] as [rows, n, d].
Value buildSplitHeads(ImplicitLocOpBuilder &b, Value x, int64_t n, int64_t d);

/// The KV cache of a decode step: f32 or f16 keys and values, or a
/// quantized cache's run-time parts (docs/Import.md), each a function
/// argument that the step updates and returns.
class KVCache {
public:
  /// The parts of a cache in `mode` (f32, f16, int8, fp8, int4, int2) for
  /// `layers` layers of `length` tokens.
  KVCache(MLIRContext *ctx, StringRef mode, int64_t layers, int64_t length,
          int64_t kvHeads, int64_t headDim);

  /// KIVI's group of tokens (keys are quantized per channel over it).
  static constexpr int64_t kKiviGroup = 32;

  /// The parts' types, in argument order.
  SmallVector<Type> types() const;
  /// Starts the step: the parts are `args`; makes what every layer's step
  /// shares (KIVI: the current group, its first position, the slot in it).
  void begin(ImplicitLocOpBuilder &b, const StepValues &v, ValueRange args);
  /// The parts are `args` from here on (a loop's results).
  void setParts(ValueRange args);
  /// Writes layer `layer`'s new keys (`key`) or values [1, KV, HD] at pos
  /// (rounded to f16 with an f16 cache, quantized with a quantized one).
  void append(ImplicitLocOpBuilder &b, const StepValues &v, bool key,
              Value fresh, int64_t layer);
  /// Positions [start, start + blockSize()) of KV head `head` of layer
  /// `layer`'s keys, as f32 [1, HD, B], or values, as f32 [B, 1, HD]:
  /// read as stored and widened (f16) or dequantized (int8, fp8, KIVI;
  /// KIVI's current group is its f32 window) in the block. `start` is a
  /// multiple of blockSize().
  Value block(ImplicitLocOpBuilder &b, bool key, int64_t layer, Value start,
              Value head);
  /// The positions per block: KIVI's group, else the largest power of two
  /// up to 32 that divides the cache's length.
  int64_t blockSize() const;
  /// Whether keys and values are stored as f16 (llama.cpp's default cache,
  /// whose attention rounds its other operands to f16; buildAttention).
  bool isHalf() const { return mode == "f16"; }
  /// KIVI (int4, int2): a position reads differently once its group is
  /// complete (quantized rather than the f32 window), so a prefill step's
  /// rows attend one at a time, each after its own append.
  bool isKivi() const { return mode == "int4" || mode == "int2"; }
  /// The parts' current values, in argument order.
  SmallVector<Value> results() const;

private:
  struct Part {
    RankedTensorType type;
    Value current;
  };
  void insert(ImplicitLocOpBuilder &b, size_t part, Value x,
              ArrayRef<OpFoldResult> offsets);
  Value extract(ImplicitLocOpBuilder &b, size_t part,
                ArrayRef<OpFoldResult> offsets, ArrayRef<int64_t> sizes);
  void appendFloat(ImplicitLocOpBuilder &b, const StepValues &v, bool key,
                   Value fresh, int64_t layer);
  void appendPerToken(ImplicitLocOpBuilder &b, const StepValues &v, bool key,
                      Value fresh, int64_t layer);
  void appendKivi(ImplicitLocOpBuilder &b, bool key, Value fresh,
                  int64_t layer);
  Value blockFloat(ImplicitLocOpBuilder &b, bool key, int64_t layer,
                   Value start, Value head);
  Value blockPerToken(ImplicitLocOpBuilder &b, bool key, int64_t layer,
                      Value start, Value head);
  Value blockKivi(ImplicitLocOpBuilder &b, bool key, int64_t layer, Value start,
                  Value head);
  /// The cache's qtensor types of `n` positions of `heads` KV heads.
  mlir::lowbit::QTensorType perTokenType(int64_t n, int64_t heads) const;
  mlir::lowbit::QTensorType kiviType(bool key, int64_t n, int64_t heads) const;

  MLIRContext *ctx;
  std::string mode;
  int64_t length, kvHeads, headDim;
  SmallVector<Part> parts;
  /// KIVI: the current group's index, its first position and pos in it.
  Value groupIndex, groupStart, slot;
};

} // namespace mlir::lowbit::importer

#endif // LOWBIT_LIB_IMPORT_BUILDERS_H
