//===- GGUF.h - reading GGUF model files ------------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The GGUF container of llama.cpp (format versions 2 and 3): header,
// metadata key/values, tensor infos and the aligned data section. The
// reader maps the file read-only and checks everything against the file's
// size before it is used: counts, string and array lengths, dimensions,
// tensor types, alignment, offsets and byte sizes. A malformed file gives
// an error naming the byte offset, never a crash or an allocation of
// absurd size. Plain C++ (no MLIR), for lowbit-compile's importer.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_IMPORT_GGUF_H
#define LOWBIT_IMPORT_GGUF_H

#include "lowbit/Numerics/Numerics.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lowbit::gguf {

/// GGUF metadata value types (gguf.h).
enum class ValueType : uint32_t {
  UInt8 = 0,
  Int8 = 1,
  UInt16 = 2,
  Int16 = 3,
  UInt32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  UInt64 = 10,
  Int64 = 11,
  Float64 = 12,
};
const char *valueTypeName(ValueType t);

struct Value {
  ValueType type = ValueType::UInt8;
  uint64_t u = 0;                        // unsigned integers and bool
  int64_t i = 0;                         // signed integers
  double f = 0;                          // floats
  std::string s;                         // strings
  ValueType elemType = ValueType::UInt8; // arrays
  std::vector<Value> array;
};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> dims; // ggml order: dims[0] is the innermost
  uint32_t type = 0;         // ggml_type
  uint64_t offset = 0;       // in the data section
  uint64_t bytes = 0;        // computed from type and dims
};

/// ggml tensor type: name ("q4_K"), elements per block and bytes per
/// block; false for types the reader does not know.
bool ggmlTypeInfo(uint32_t type, const char **name, int64_t *blockElems,
                  int64_t *blockBytes);

struct File {
  uint32_t version = 0;
  std::vector<std::pair<std::string, Value>> metadata;
  std::vector<TensorInfo> tensors;
  uint64_t alignment = 32;
  uint64_t dataOffset = 0; // of the data section in the file
  uint64_t fileSize = 0;
  /// The mapped file (null for parse()): tensor t's bytes are at
  /// data() + dataOffset + t.offset.
  std::shared_ptr<const uint8_t> mapping;
  const uint8_t *data() const { return mapping.get(); }

  const Value *find(const std::string &key) const;
};

/// Parses a GGUF image of `size` bytes (the buffer must outlive `out`'s
/// use of tensor data; `out.mapping` stays null).
numerics::Status parse(const uint8_t *data, uint64_t size, File &out);
/// Maps `path` read-only and parses it; the mapping lives as long as
/// `out` (or a copy of its `mapping`).
numerics::Status read(const std::string &path, File &out);

} // namespace lowbit::gguf

#endif // LOWBIT_IMPORT_GGUF_H
