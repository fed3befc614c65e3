//===- QTensorLayout.h - byte layout of a QTensor's parts -------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Private to lib/Numerics: the helpers the block quantizers (Quantize.cpp),
// the scheme checks (Scheme.cpp) and the kernel re-layouts
// (KernelLayouts.cpp) share: shapes as element counts and text, bytes per
// row of codes, bytes per scale, and one code read from or written into a
// row of (possibly packed) codes. Inline: the code accessors sit in inner
// loops.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_NUMERICS_QTENSORLAYOUT_H
#define LOWBIT_LIB_NUMERICS_QTENSORLAYOUT_H

#include "lowbit/Numerics/Numerics.h"

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace lowbit::numerics::detail {

/// The number of elements of `shape`.
inline int64_t product(const std::vector<int64_t> &v) {
  int64_t p = 1;
  for (int64_t d : v)
    p *= d;
  return p;
}

/// `shape` as text, "[2, 3]".
inline std::string shapeString(const std::vector<int64_t> &v) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < v.size(); ++i)
    os << (i ? ", " : "") << v[i];
  os << ']';
  return os.str();
}

/// Whether codes of `bits` bits share bytes (2 and 4 do).
inline bool packs(unsigned bits) { return bits == 2 || bits == 4; }

/// Bytes per row of packed codes for a last axis of `n` elements.
inline int64_t rowBytes(const Scheme &s, int64_t n) {
  if (s.kind == ElementKind::GGUF)
    return n / ggufBlockSize(s.gguf) * ggufBlockBytes(s.gguf);
  unsigned w = s.codeBits();
  return packs(w) ? (n * w + 7) / 8 : n;
}

/// Bytes of one stored scale of type `t` (0 without scales).
inline unsigned scaleBytes(ScaleType t) {
  switch (t) {
  case ScaleType::None:
    return 0;
  case ScaleType::F32:
    return 4;
  case ScaleType::F16:
  case ScaleType::BF16:
    return 2;
  case ScaleType::E8M0:
  case ScaleType::E4M3:
    return 1;
  }
  return 0;
}

/// Writes `code` as code `c` of a zeroed row of `w`-bit codes.
inline void putCode(uint8_t *row, int64_t c, unsigned w, uint32_t code) {
  if (w == 4) {
    row[c >> 1] |= uint8_t((code & 0xF) << ((c & 1) * 4));
  } else if (w == 2) {
    row[c >> 2] |= uint8_t((code & 0x3) << ((c & 3) * 2));
  } else {
    row[c] = uint8_t(code & ((1u << w) - 1));
  }
}

/// Code `c` of a row of `w`-bit codes.
inline uint32_t getCode(const uint8_t *row, int64_t c, unsigned w) {
  if (w == 4)
    return (row[c >> 1] >> ((c & 1) * 4)) & 0xF;
  if (w == 2)
    return (row[c >> 2] >> ((c & 3) * 2)) & 0x3;
  return row[c] & ((1u << w) - 1);
}

} // namespace lowbit::numerics::detail

#endif // LOWBIT_LIB_NUMERICS_QTENSORLAYOUT_H
