//===- Safetensors.h - reading safetensors model files ----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The safetensors container (Hugging Face): an 8-byte little-endian header
// size, a JSON header naming each tensor's dtype, shape and byte range,
// and the tensors' bytes. The reader maps the file read-only, parses the
// JSON with its own strict parser (UTF-8 checked, nesting bounded, numbers
// exact) and checks what the reference implementation checks: header size
// within the file and at most 100 MB, a '{' first, known dtypes, byte
// ranges equal to shape x dtype size, ranges that tile the data section
// with no gap, overlap or excess, string-to-string __metadata__ (or
// null). Stricter than the reference in one point: a name given twice is
// an error (the reference keeps one of them silently). Errors
// name the byte offset; no input makes it crash or allocate more than the
// header's size. Plain C++ (no MLIR), for lowbit-compile's importer.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_IMPORT_SAFETENSORS_H
#define LOWBIT_IMPORT_SAFETENSORS_H

#include "lowbit/Numerics/Numerics.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lowbit::safetensors {

enum class DType {
  Bool,
  F4,
  F6E2M3,
  F6E3M2,
  U8,
  I8,
  F8E5M2,
  F8E4M3,
  F8E8M0,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  C64,
  F64,
  I64,
  U64,
};
/// The header's spelling ("F32", "BF16", "F8_E4M3", ...).
const char *dtypeName(DType t);
/// Bits per element (F4: 4, F6_*: 6); a tensor's size is whole bytes.
unsigned dtypeBits(DType t);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // row-major, outermost first
  uint64_t begin = 0, end = 0; // byte range in the data section
  int64_t numElements() const;
};

struct File {
  uint64_t headerSize = 0;
  /// __metadata__, in header order.
  std::vector<std::pair<std::string, std::string>> metadata;
  /// Tensors in header order.
  std::vector<TensorInfo> tensors;
  uint64_t dataOffset = 0; // 8 + headerSize
  uint64_t fileSize = 0;
  /// The mapped file (null for parse()): tensor t's bytes are at
  /// data() + dataOffset + t.begin.
  std::shared_ptr<const uint8_t> mapping;
  const uint8_t *data() const { return mapping.get(); }

  const TensorInfo *find(const std::string &name) const;
};

/// The most header bytes accepted (the reference's limit).
constexpr uint64_t kMaxHeaderSize = 100'000'000;

/// Parses a safetensors image of `size` bytes (`out.mapping` stays null).
numerics::Status parse(const uint8_t *data, uint64_t size, File &out);
/// Maps `path` read-only and parses it; the mapping lives as long as
/// `out` (or a copy of its `mapping`).
numerics::Status read(const std::string &path, File &out);

} // namespace lowbit::safetensors

#endif // LOWBIT_IMPORT_SAFETENSORS_H
