//===- MappedFile.h - a model file mapped read-only -------------*- C++ -*-===//
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

} // namespace lowbit::import

#endif // LOWBIT_IMPORT_MAPPEDFILE_H
