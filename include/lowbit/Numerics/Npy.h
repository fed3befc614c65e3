//===- Npy.h - .npy files and atomic output ---------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Reading float arrays from NumPy .npy files (format versions 1-3) and
// writing outputs so that a failure never leaves a half-written file: every
// writer goes to a temporary file next to the target and renames it into
// place only when complete.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_NUMERICS_NPY_H
#define LOWBIT_NUMERICS_NPY_H

#include "lowbit/Numerics/Numerics.h"

#include <cstdint>
#include <string>
#include <vector>

namespace lowbit::numerics {

/// Reads a .npy holding float32 or float16 (either byte order, C or Fortran
/// order) into row-major fp32 `data` with its `shape` (rank >= 0). Other
/// dtypes, truncated files and malformed headers are errors naming `path`.
Status readNpyFloat(const std::string &path, std::vector<int64_t> &shape,
                    std::vector<float> &data);

/// Writes a float32 C-order .npy atomically.
Status writeNpyFloat32(const std::string &path,
                       const std::vector<int64_t> &shape, const float *data);

/// Writes `chunks` back to back to `path` atomically ("-" is stdout).
Status
writeFileAtomic(const std::string &path,
                const std::vector<std::pair<const void *, size_t>> &chunks);

} // namespace lowbit::numerics

#endif // LOWBIT_NUMERICS_NPY_H
