//===- Numerics.h - lowbit's numerics library -------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Plain C++ (no MLIR/LLVM dependency): every element cast, scaled block
// format and GGUF block format lowbit knows, bit-exact with the references
// named in docs/Numerics.md. The passes, the tools (lowbit-quantize) and the
// Python package all call this one implementation; the reference lowering
// (lib/Conversion/LowbitToLinalg) emits the same rules as IR and a
// cross-check test keeps the two equal bit for bit.
//
// All arithmetic is fp32 without FMA contraction (the library is compiled
// with -ffp-contract=off).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_NUMERICS_NUMERICS_H
#define LOWBIT_NUMERICS_NUMERICS_H

#include "lowbit/Numerics/Formats.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lowbit::numerics {

/// Success, or an error message meant for a user (no trailing newline).
class [[nodiscard]] Status {
public:
  static Status success() { return Status(); }
  static Status error(std::string message) {
    Status s;
    s.failed = true;
    s.msg = std::move(message);
    return s;
  }
  bool ok() const { return !failed; }
  const std::string &message() const { return msg; }

private:
  bool failed = false;
  std::string msg;
};

//===----------------------------------------------------------------------===//
// Element casts
//===----------------------------------------------------------------------===//

enum class Rounding { NearestEven, NearestAway };

/// The element types of section 2 of docs/Spec.md plus f16/bf16.
enum class ElementType {
  F16,
  BF16,
  F8E4M3FN,
  F8E5M2,
  F6E2M3FN,
  F6E3M2FN,
  F4E2M1FN,
  F8E8M0FNU,
};

/// Bit layout of a float element type (nullptr for F8E8M0FNU).
const MiniFloatFormat *miniFloatFormat(ElementType type);
unsigned elementBits(ElementType type);
/// "f16", "bf16", "f8e4m3fn", ..., "f8e8m0fnu".
const char *elementTypeName(ElementType type);
/// Every element type, in declaration order.
const std::vector<ElementType> &allElementTypes();
/// The element type named `name` (elementTypeName, any case); false if none.
bool parseElementType(const std::string &name, ElementType &out);

/// Encodes `x` into the low bits of the result. Rounds to nearest (ties to
/// even unless `rounding` says away); `saturate` maps overflow and +-Inf to
/// +-max finite, otherwise overflow follows ml_dtypes' plain conversion (Inf
/// where the format has one, else NaN; fp4/fp6 always saturate). NaN rules:
/// docs/Numerics.md.
uint32_t encodeMiniFloat(const MiniFloatFormat &fmt, float x, bool saturate,
                         Rounding rounding = Rounding::NearestEven);
/// Exact decode of the low `fmt.totalBits()` bits of `code`.
float decodeMiniFloat(const MiniFloatFormat &fmt, uint32_t code);

/// E8M0 (unsigned power of two, 0xFF = NaN), as ml_dtypes converts: normal
/// and subnormal inputs round the significand half up (1.5 * 2^k ->
/// 2^(k+1); 1.5 * 2^-127 and above -> 0x01), smaller ones give 2^-127
/// (0x00);
/// zero, negatives, Inf, NaN and overflow give 0xFF unless `saturate` (then
/// +-0 -> 0x00, overflow and +Inf -> 0xFE).
uint8_t encodeE8M0(float x, bool saturate);
float decodeE8M0(uint8_t code);

uint32_t encodeElement(ElementType type, float x, bool saturate,
                       Rounding rounding = Rounding::NearestEven);
float decodeElement(ElementType type, uint32_t code);

/// Floor(log2(|x|)) from the fp32 exponent bits (subnormals included);
/// x must be finite and non-zero.
int exactIlogb(float x);

//===----------------------------------------------------------------------===//
// Schemes and quantized tensors
//===----------------------------------------------------------------------===//

enum class ElementKind { Int, MiniFloat, Ternary, GGUF };
enum class ScaleType { None, F32, F16, BF16, E8M0, E4M3 };
/// GGUF block formats, numbered as the dialect's GGUFKind enum (which
/// converts by value). Quantize/dequantize cover ggufSupported() kinds (at
/// present all of them); a kind without a quantizer would have its geometry
/// only.
enum class GGUFKind {
  Q4_0 = 1,
  Q4_1 = 2,
  Q5_0 = 3,
  Q5_1 = 4,
  Q8_0 = 5,
  Q2_K = 6,
  Q3_K = 7,
  Q4_K = 8,
  Q5_K = 9,
  Q6_K = 10,
  MXFP4 = 11,
  IQ4_NL = 12,
  IQ4_XS = 13,
  TQ1_0 = 14,
  TQ2_0 = 15,
};

/// A plain-C++ mirror of `#lowbit.scheme` (docs/Spec.md sections 1-5).
struct Scheme {
  ElementKind kind = ElementKind::Int;
  /// Int: width 2..8 and signedness. MiniFloat: the element format.
  unsigned bits = 8;
  bool isSigned = true;
  ElementType minifloat = ElementType::F8E4M3FN;
  GGUFKind gguf = GGUFKind::Q4_0;
  ScaleType scale = ScaleType::F32;
  bool tensorScale = false;
  bool symmetric = true;
  bool fullRange = false;
  bool saturate = true;
  Rounding rounding = Rounding::NearestEven;
  /// Block size per dimension (same rank as the tensor); scales have shape
  /// D_i / blockSizes[i]. Empty for element casts (scale None) and GGUF.
  std::vector<int64_t> blockSizes;

  /// MX scales (E8M0) with float or 8-bit integer elements.
  bool isMX() const { return scale == ScaleType::E8M0; }
  /// Smallest and largest integer code (Int and Ternary).
  int32_t qmin() const;
  int32_t qmax() const;
  /// Stored width of one code in bits (GGUF: 0, codes are block structs).
  unsigned codeBits() const;
};

/// A quantized tensor in the run-time layout of docs/Spec.md section 4.
struct QTensor {
  Scheme scheme;
  std::vector<int64_t> shape;
  /// Packed codes: widths 2 and 4 pack 8/w codes per byte along the last
  /// axis (element 2i of a pair in the low bits), each row padded to whole
  /// bytes; other widths one byte per code. GGUF: llama.cpp's block structs
  /// row after row.
  std::vector<uint8_t> codes;
  /// Scales in their storage encoding, little-endian (f32/f16/bf16) or one
  /// byte each (E8M0, E4M3), in row-major order of scaleShape().
  std::vector<uint8_t> scales;
  /// Asymmetric schemes only, one per scale.
  std::vector<int32_t> zeroPoints;
  /// NVFP4 second-level scale (with scheme.tensorScale).
  float tensorScale = 1.0f;

  std::vector<int64_t> scaleShape() const;
  /// Shape of `codes`: the leading dims, then the bytes of one row.
  std::vector<int64_t> codesShape() const;
  int64_t numElements() const;
  /// Decoded scale `i` as fp32.
  float scaleAt(int64_t i) const;
};

/// Checks that `shape` fits `scheme` (rank, block sizes divide dims, GGUF
/// rows are whole blocks, ...).
Status verifyScheme(const Scheme &scheme, const std::vector<int64_t> &shape);

/// Quantizes the row-major fp32 tensor `x` (numElements(shape) values).
/// The IR semantics are total (docs/Spec.md section 5); `strict` (what
/// tools taking user arrays use) instead rejects, with an error naming the
/// first offending index, NaN where the format cannot hold it (fp4/fp6,
/// integers, ternary, NVFP4, GGUF) and +-Inf where the scale rule cannot
/// absorb it (integers, ternary, NVFP4, GGUF).
Status quantize(const float *x, const std::vector<int64_t> &shape,
                const Scheme &scheme, QTensor &out, bool strict = false);
/// Static quantization: recomputes `q.codes` for `x` (q.shape) with the
/// scales, zero points and tensor scale already in `q` (scheme with scales,
/// not GGUF). Algorithms that choose scales themselves (GPTQ, AWQ, HQQ)
/// store their codes through it.
Status quantizeStatic(const float *x, QTensor &q, bool strict = false);
/// Decodes into `out` (numElements values), fp32.
Status dequantize(const QTensor &q, float *out);
/// The transpose of a rank-2 quantized tensor (not GGUF): the same values
/// at [j, i], codes repacked along the new rows, scales and zero points
/// transposed, block sizes swapped. Used to lay weights out per output
/// channel ([N, K]) for the CPU kernels (lowbit-pack-weights).
Status transposeMatrix(const QTensor &in, QTensor &out);
/// The CPU int8 GEMM kernel's weight layout (docs/CodegenCPU.md, "panels"):
/// signed int8 codes [N, K] in panels of kPanelChannels output channels,
/// each panel K in quads of kPanelDepth inputs, so that one 64-byte vector
/// holds 4 inputs of 16 channels (what one vpdpbusd multiplies with a
/// broadcast of 4 activation bytes). Byte [p][k / 4][n % 16][k % 4] is
/// codes[16 p + n % 16][k] + 128 (unsigned for vpdpbusd); channels are
/// padded to a multiple of 16 and K to a multiple of 4 with code 0 (byte
/// 128). `out` gets panelBytes(N, K) bytes. Errors unless `in` is rank 2
/// with 8-bit signed integer codes.
constexpr int64_t kPanelChannels = 16, kPanelDepth = 4;
int64_t panelBytes(int64_t n, int64_t k);
Status packInt8Panels(const QTensor &in, std::vector<uint8_t> &out);
/// The GPU W4A16 kernel's weight layout ("mma-b", docs/CodegenGPU.md):
/// 4-bit codes [N, K] (signed int4 or E2M1; K a multiple of 32) in tiles
/// of 32 channels x
/// 32 inputs, 512 bytes each, tile (nb, kb) at (nb * K/32 + kb) * 512.
/// In a tile, lane l = 4 g + t owns bytes 16 l .. 16 l + 15, four 32-bit
/// words; word ni holds channel 32 nb + 8 ni + g, and its nibbles p and
/// p + 4 (p = 2 ks + j) the codes of inputs 32 kb + 16 ks + 8 j + 2 t and
/// + 1: the lane's B fragments of mma.sync m16n8k16 for 4 n8-tiles and 2
/// k16-steps. Channels are padded to a multiple of 32 with code 0. `out`
/// gets ceil(N/32) * K/32 * 512 bytes.
Status packInt4MmaB(const QTensor &in, std::vector<uint8_t> &out);
/// dequantize(quantize(x)) into `out` (may alias `x`).
Status fakeQuant(const float *x, const std::vector<int64_t> &shape,
                 const Scheme &scheme, float *out, bool strict = false);

//===----------------------------------------------------------------------===//
// GGUF blocks (llama.cpp ggml-quants.c reference quantizers)
//===----------------------------------------------------------------------===//

/// Elements per block (32 or 256) and bytes per block struct
/// (ggml-common.h), for every kind.
int64_t ggufBlockSize(GGUFKind kind);
int64_t ggufBlockBytes(GGUFKind kind);
/// lowbit-quantize's name ("q4_k", "gguf_mxfp4", "iq4_nl").
const char *ggufName(GGUFKind kind);
/// Whether quantize/dequantize implement `kind`.
bool ggufSupported(GGUFKind kind);
/// One row of `n` values (a multiple of the block size) to block structs.
void ggufQuantizeRow(GGUFKind kind, const float *x, uint8_t *out, int64_t n);
void ggufDequantizeRow(GGUFKind kind, const uint8_t *in, float *out, int64_t n);

//===----------------------------------------------------------------------===//
// Named formats (lowbit-quantize --format, lowbit.quantize in Python)
//===----------------------------------------------------------------------===//

struct FormatOptions {
  /// int8/int4 only: elements per scale along the last axis; 0 = one scale
  /// per row.
  int64_t groupSize = 0;
  bool asymmetric = false;
  /// f8e4m3fn/f8e5m2 element casts only: ml_dtypes' plain conversion
  /// (overflow to Inf or NaN) instead of saturating.
  bool noSaturate = false;
};

/// All names lowbit-quantize accepts, in the order of its --help.
const std::vector<std::string> &formatNames();
/// One line describing format `name` (for --help), empty if unknown.
std::string describeFormat(const std::string &name);
/// Success for a known name, else an error listing the known ones.
Status checkFormatName(const std::string &name);
/// The scheme of format `name` for an array of `shape`, quantized along the
/// last axis.
Status schemeForFormat(const std::string &name,
                       const std::vector<int64_t> &shape,
                       const FormatOptions &options, Scheme &out);

//===----------------------------------------------------------------------===//
// Half-precision helpers (shared with the .npy reader)
//===----------------------------------------------------------------------===//

uint16_t floatToHalfBits(float x);
float halfBitsToFloat(uint16_t h);
uint16_t floatToBFloat16Bits(float x);
float bfloat16BitsToFloat(uint16_t h);

} // namespace lowbit::numerics

#endif // LOWBIT_NUMERICS_NUMERICS_H
