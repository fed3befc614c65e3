//===- MappedFile.h - a model file mapped read-only -------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The model readers (GGUF, safetensors) map their file read-only and keep
// the mapping alive as long as anything points into it, so tensor data is
// never copied. Plain C++ (no MLIR).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_IMPORT_MAPPEDFILE_H
#define LOWBIT_IMPORT_MAPPEDFILE_H

#include "lowbit/Numerics/Numerics.h"

#include <cstdint>
#include <memory>
#include <string>

namespace lowbit::import {

/// Maps the regular file `path` read-only. On success `mapping` holds it
/// (null for an empty file) and `size` is its size; errors name the path.
numerics::Status mapFile(const std::string &path,
                         std::shared_ptr<const uint8_t> &mapping,
                         uint64_t &size);

/// Maps `path` and parses it with `parse(data, size, out)` (the readers'
/// parse functions); on success `out.mapping` keeps the mapping alive.
/// Errors from parsing are prefixed with the path.
template <typename File, typename Parse>
numerics::Status mapAndParse(const std::string &path, File &out, Parse parse) {
  std::shared_ptr<const uint8_t> mapping;
  uint64_t size;
  if (numerics::Status s = mapFile(path, mapping, size); !s.ok())
    return s;
  static const uint8_t empty = 0;
  numerics::Status s = parse(mapping ? mapping.get() : &empty, size, out);
  if (!s.ok())
    return numerics::Status::error(path + ": " + s.message());
  out.mapping = std::move(mapping);
  return numerics::Status::success();
}

} // namespace lowbit::import

#endif // LOWBIT_IMPORT_MAPPEDFILE_H
