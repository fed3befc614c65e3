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

/// A weight as the file holds it.
struct Weight {
  enum class Kind { F32, F16, BF16, GGUFBlocks };
  Kind kind = Kind::F32;
  /// Row-major, outermost first ([out, in] for a matrix; GGUF's dims
  /// reversed).
  std::vector<int64_t> shape;
  /// The block format of a GGUFBlocks weight.
  ::lowbit::numerics::GGUFKind gguf = ::lowbit::numerics::GGUFKind::Q4_0;
  /// The weight's bytes in the mapped file, and how many.
  const uint8_t *data = nullptr;
  uint64_t bytes = 0;

  int64_t numElements() const;
};

/// A model file opened for import: its weights and its metadata.
class WeightSource {
public:
  enum class Format { GGUF, Safetensors };

  /// Opens `path`: a `.safetensors` file (with `config.json` from the same
  /// directory), anything else as GGUF. Fails on a malformed file, a
  /// missing or malformed config.json, or a tensor whose storage the
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
  /// The mapped file; every Weight::data points into it.
  std::shared_ptr<const uint8_t> mapping;
};

} // namespace mlir::lowbit::importer

#endif // LOWBIT_IMPORT_WEIGHTSOURCE_H
