//===- WeightSource.h - the tensors of a model file -------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The first part of the model importer (docs/Import.md): a model file
// opened for import. GGUF (llama.cpp's container) or safetensors with the
// Hugging Face config.json beside it. Each weight is its shape, how it is
// stored (f32, f16, bf16 or GGUF blocks) and a pointer to its bytes in the
// file, which stays mapped as long as the source or a copy of its mapping
// lives: nothing is copied here. The metadata that describes the
// architecture (GGUF key/values, config.json) is kept for Architecture.h,
// which also renames a safetensors file's weights to GGUF's names.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_IMPORT_WEIGHTSOURCE_H
#define LOWBIT_IMPORT_WEIGHTSOURCE_H

#include "lowbit/Import/GGUF.h"
#include "lowbit/Numerics/Numerics.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir::lowbit::importer {

/// A matrix [out, in] of a pre-quantized safetensors checkpoint (GPTQ,
/// AWQ, compressed-tensors; Prequantized.cpp) in lowbit's layout, its
/// numbers exactly the checkpoint's: element (o, j) is (q - z) * s with
/// q the code of row o, column j, and s, z the scale and zero point of
/// its block. Column j holds input `inputOrder[j]` (identity when empty):
/// GPTQ's act-order checkpoints are permuted so that groups are
/// contiguous, and the activations are permuted likewise.
struct QuantizedWeight {
  enum class Element { UInt4, UInt8, Int4, Int8, F8E4M3FN };
  enum class Scale { F16, BF16, F32 };
  Element element = Element::UInt4;
  Scale scale = Scale::F16;
  /// The checkpoint format, for messages ("GPTQ", "AWQ", ...).
  std::string format;
  /// Rows and columns per scale: {1, g} per group, {1, in} per output
  /// channel, {out, in} per tensor.
  int64_t blockRows = 1, blockCols = 1;
  /// Codes [out, in] row-major; 4-bit codes two per byte, element 2i in
  /// the low nibble (numerics::QTensor's layout).
  std::vector<uint8_t> codes;
  /// Scales in their storage encoding (little-endian), row-major
  /// [out / blockRows, in / blockCols].
  std::vector<uint8_t> scales;
  /// Zero points, one per scale; empty when symmetric.
  std::vector<int32_t> zeroPoints;
  std::vector<int64_t> inputOrder;

  bool fourBit() const {
    return element == Element::UInt4 || element == Element::Int4;
  }
  /// The code of element (o, j) as an integer (FP8: its bits).
  int32_t code(int64_t o, int64_t j, int64_t in) const;
  float scaleAt(int64_t i) const;
  /// Element (o, j) in f32: (q - z) * s, or decode(q) * s for FP8.
  float value(int64_t o, int64_t j, int64_t out, int64_t in) const;
};

/// A weight as the file holds it.
struct Weight {
  enum class Kind { F32, F16, BF16, GGUFBlocks, Quantized };
  Kind kind = Kind::F32;
  /// Row-major, outermost first ([out, in] for a matrix; GGUF's dims
  /// reversed).
  std::vector<int64_t> shape;
  /// The block format of a GGUFBlocks weight.
  ::lowbit::numerics::GGUFKind gguf = ::lowbit::numerics::GGUFKind::Q4_0;
  /// The weight's bytes in the mapped file, and how many.
  const uint8_t *data = nullptr;
  uint64_t bytes = 0;
  /// A Quantized weight's parts (`data` points to its codes).
  std::shared_ptr<const QuantizedWeight> quant;

  int64_t numElements() const;
};

/// A model file opened for import: its weights and its metadata.
class WeightSource {
public:
  enum class Format { GGUF, Safetensors };

  /// Opens `path`: a `.safetensors` file (with `config.json` from the same
  /// directory), a sharded checkpoint's `*.safetensors.index.json` or its
  /// directory (every shard its `weight_map` names), anything else as
  /// GGUF. A checkpoint whose config.json has a `quantization_config`
  /// (GPTQ, AWQ, compressed-tensors) has its quantized matrices read as
  /// Quantized weights. Fails on a malformed file, a missing or malformed
  /// config.json, an inconsistent index, or a tensor whose storage the
  /// importer does not read; `error` names the file.
  static bool open(const std::string &path, WeightSource &out,
                   std::string &error);

  /// The weight called `name`, or null.
  const Weight *find(llvm::StringRef name) const;

  /// Renames every weight with `canonical` (the file's name to the
  /// importer's, GGUF's). A name it maps to nothing is dropped when `skip`
  /// accepts it and an error otherwise (`what` completes "tensor 'X' is
  /// not part of ...").
  bool rename(const std::function<std::optional<std::string>(llvm::StringRef)>
                  &canonical,
              const std::function<bool(llvm::StringRef)> &skip,
              llvm::StringRef what, std::string &error);

  Format format = Format::GGUF;
  std::string path;
  /// GGUF: the file's header (metadata key/values, tensor infos).
  ::lowbit::gguf::File ggufFile;
  /// safetensors: the path of config.json and its top-level object.
  std::string configPath;
  llvm::json::Object config;
  /// The weights by name: GGUF's names, or a safetensors file's own
  /// (Hugging Face) names until `rename`.
  std::map<std::string, Weight> weights;
  /// The mapped file (the first shard of a sharded checkpoint); every
  /// Weight::data points into it, into `shards` or into a Weight::quant.
  std::shared_ptr<const uint8_t> mapping;
  /// Every mapped shard of a sharded checkpoint.
  std::vector<std::shared_ptr<const uint8_t>> shards;
};

} // namespace mlir::lowbit::importer

#endif // LOWBIT_IMPORT_WEIGHTSOURCE_H
