//===- GGUF.cpp - llama.cpp block formats, byte-exact ---------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The reference quantizers of llama.cpp (ggml/src/ggml-quants.c,
// quantize_row_*_ref) and the block structs of ggml-common.h, rewritten
// from their documented arithmetic. Every fp32 expression keeps the
// reference's evaluation order and is compiled without FMA contraction, so
// x*id + 8.5f rounds twice exactly as the non-contracted reference does.
// docs/Numerics.md lists the layouts. This file holds the 32-element
// formats, the format table and the row entry points; the K-quants are in
// GGUFKQuants.cpp, IQ4_NL/IQ4_XS and TQ1_0/TQ2_0 in GGUFIQuants.cpp.
//
//===----------------------------------------------------------------------===//

#include "GGUFImpl.h"

namespace lowbit::numerics {

using namespace gguf_detail;

namespace {

/// Signed value of the first element of largest magnitude (ties: first).
inline float signedAbsMax(const float *x, int n, float &amax) {
  float max = 0.0f;
  amax = 0.0f;
  for (int j = 0; j < n; ++j) {
    // Selects rather than a branch (the comparison is unpredictable).
    const float a = std::fabs(x[j]);
    const bool larger = amax < a;
    max = larger ? x[j] : max;
    amax = larger ? a : amax;
  }
  return max;
}

void quantizeQ4_0(const float *x, uint8_t *y) {
  float amax;
  const float max = signedAbsMax(x, kQK, amax);
  const float d = max / -8;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  storeHalf(y, d);
  for (int j = 0; j < kQK / 2; ++j) {
    const float x0 = x[j] * id;
    const float x1 = x[kQK / 2 + j] * id;
    const uint8_t q0 = uint8_t(imin(15, toInt8(x0 + 8.5f)));
    const uint8_t q1 = uint8_t(imin(15, toInt8(x1 + 8.5f)));
    y[2 + j] = uint8_t(q0 | (q1 << 4));
  }
}

void quantizeQ4_1(const float *x, uint8_t *y) {
  float min = 3.402823466e+38f, max = -3.402823466e+38f;
  for (int j = 0; j < kQK; ++j) {
    if (x[j] < min)
      min = x[j];
    if (x[j] > max)
      max = x[j];
  }
  const float d = (max - min) / ((1 << 4) - 1);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  storeHalf(y, d);
  storeHalf(y + 2, min);
  for (int j = 0; j < kQK / 2; ++j) {
    const float x0 = (x[j] - min) * id;
    const float x1 = (x[kQK / 2 + j] - min) * id;
    const uint8_t q0 = uint8_t(imin(15, toInt8(x0 + 0.5f)));
    const uint8_t q1 = uint8_t(imin(15, toInt8(x1 + 0.5f)));
    y[4 + j] = uint8_t(q0 | (q1 << 4));
  }
}

void quantizeQ5_0(const float *x, uint8_t *y) {
  float amax;
  const float max = signedAbsMax(x, kQK, amax);
  const float d = max / -16;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  storeHalf(y, d);
  uint32_t qh = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    const float x0 = x[j] * id;
    const float x1 = x[kQK / 2 + j] * id;
    const uint8_t q0 = uint8_t(imin(31, toInt8(x0 + 16.5f)));
    const uint8_t q1 = uint8_t(imin(31, toInt8(x1 + 16.5f)));
    y[6 + j] = uint8_t((q0 & 0x0F) | ((q1 & 0x0F) << 4));
    qh |= uint32_t((q0 & 0x10u) >> 4) << j;
    qh |= uint32_t((q1 & 0x10u) >> 4) << (j + kQK / 2);
  }
  for (int b = 0; b < 4; ++b)
    y[2 + b] = uint8_t(qh >> (8 * b));
}

void quantizeQ5_1(const float *x, uint8_t *y) {
  float min = 3.402823466e+38f, max = -3.402823466e+38f;
  for (int j = 0; j < kQK; ++j) {
    if (x[j] < min)
      min = x[j];
    if (x[j] > max)
      max = x[j];
  }
  const float d = (max - min) / ((1 << 5) - 1);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  storeHalf(y, d);
  storeHalf(y + 2, min);
  uint32_t qh = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    const float x0 = (x[j] - min) * id;
    const float x1 = (x[kQK / 2 + j] - min) * id;
    // No clamp to 31 (as in llama.cpp): (x - min) * id + 0.5 stays below 32.
    const uint8_t q0 = toUInt8(x0 + 0.5f);
    const uint8_t q1 = toUInt8(x1 + 0.5f);
    y[8 + j] = uint8_t((q0 & 0x0F) | ((q1 & 0x0F) << 4));
    qh |= uint32_t((q0 & 0x10u) >> 4) << j;
    qh |= uint32_t((q1 & 0x10u) >> 4) << (j + kQK / 2);
  }
  for (int b = 0; b < 4; ++b)
    y[4 + b] = uint8_t(qh >> (8 * b));
}

void quantizeQ8_0(const float *x, uint8_t *y) {
  float amax = 0.0f;
  for (int j = 0; j < kQK; ++j) {
    const float a = std::fabs(x[j]);
    amax = amax > a ? amax : a;
  }
  const float d = amax / ((1 << 7) - 1);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  storeHalf(y, d);
  for (int j = 0; j < kQK; ++j)
    y[2 + j] = uint8_t(toInt8(std::round(x[j] * id))); // ties away
}

// ggml's MXFP4: E2M1 values doubled, scale = half of the E8M0 value.
constexpr int8_t kMXFP4Values[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                     0, -1, -2, -3, -4, -6, -8, -12};

inline float e8m0Half(uint8_t e) {
  uint32_t bits = e < 2 ? (0x00200000u << e) : (uint32_t(e - 1) << 23);
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

inline int bestIndexMXFP4(float x, float e) {
  int best = 0;
  float bestErr = std::fabs(kMXFP4Values[0] * e - x);
  for (int i = 1; i < 16; ++i) {
    float err = std::fabs(kMXFP4Values[i] * e - x);
    if (err < bestErr) { // strict: ties go to the earlier (smaller) value
      best = i;
      bestErr = err;
    }
  }
  return best;
}

void quantizeMXFP4(const float *x, uint8_t *y) {
  float amax = 0.0f;
  for (int j = 0; j < kQK; ++j)
    if (amax < std::fabs(x[j]))
      amax = std::fabs(x[j]);
  // floorf(log2f(amax)) as ggml computes it (float log2, not the exponent
  // bits), converted to uint8 through int like x86's cvttss2si.
  const uint8_t e =
      amax > 0.0f ? toUInt8(std::floor(std::log2(amax)) - 2 + 127) : uint8_t(0);
  const float d = e8m0Half(e);
  y[0] = e;
  for (int j = 0; j < kQK / 2; ++j) {
    const uint8_t q0 = uint8_t(bestIndexMXFP4(x[j], d));
    const uint8_t q1 = uint8_t(bestIndexMXFP4(x[kQK / 2 + j], d));
    y[1 + j] = uint8_t(q0 | (q1 << 4));
  }
}

void dequantizeBlock(GGUFKind kind, const uint8_t *b, float *y) {
  switch (kind) {
  case GGUFKind::Q4_0: {
    const float d = loadHalf(b);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = float((b[2 + j] & 0x0F) - 8) * d;
      y[j + kQK / 2] = float((b[2 + j] >> 4) - 8) * d;
    }
    return;
  }
  case GGUFKind::Q4_1: {
    const float d = loadHalf(b), m = loadHalf(b + 2);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = float(b[4 + j] & 0x0F) * d + m;
      y[j + kQK / 2] = float(b[4 + j] >> 4) * d + m;
    }
    return;
  }
  case GGUFKind::Q5_0: {
    const float d = loadHalf(b);
    uint32_t qh = uint32_t(b[2]) | (uint32_t(b[3]) << 8) |
                  (uint32_t(b[4]) << 16) | (uint32_t(b[5]) << 24);
    for (int j = 0; j < kQK / 2; ++j) {
      const uint8_t h0 = uint8_t(((qh >> (j + 0)) << 4) & 0x10);
      const uint8_t h1 = uint8_t(((qh >> (j + 12))) & 0x10);
      const int x0 = ((b[6 + j] & 0x0F) | h0) - 16;
      const int x1 = ((b[6 + j] >> 4) | h1) - 16;
      y[j] = float(x0) * d;
      y[j + kQK / 2] = float(x1) * d;
    }
    return;
  }
  case GGUFKind::Q5_1: {
    const float d = loadHalf(b), m = loadHalf(b + 2);
    uint32_t qh = uint32_t(b[4]) | (uint32_t(b[5]) << 8) |
                  (uint32_t(b[6]) << 16) | (uint32_t(b[7]) << 24);
    for (int j = 0; j < kQK / 2; ++j) {
      const uint8_t h0 = uint8_t(((qh >> (j + 0)) << 4) & 0x10);
      const uint8_t h1 = uint8_t((qh >> (j + 12)) & 0x10);
      const int x0 = (b[8 + j] & 0x0F) | h0;
      const int x1 = (b[8 + j] >> 4) | h1;
      y[j] = float(x0) * d + m;
      y[j + kQK / 2] = float(x1) * d + m;
    }
    return;
  }
  case GGUFKind::Q8_0: {
    const float d = loadHalf(b);
    for (int j = 0; j < kQK; ++j)
      y[j] = float(int8_t(b[2 + j])) * d;
    return;
  }
  case GGUFKind::MXFP4: {
    const float d = e8m0Half(b[0]);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = float(kMXFP4Values[b[1 + j] & 0x0F]) * d;
      y[j + kQK / 2] = float(kMXFP4Values[b[1 + j] >> 4]) * d;
    }
    return;
  }
  case GGUFKind::Q2_K:
    return dequantizeQ2_K(b, y);
  case GGUFKind::Q3_K:
    return dequantizeQ3_K(b, y);
  case GGUFKind::Q4_K:
    return dequantizeQ4_K(b, y);
  case GGUFKind::Q5_K:
    return dequantizeQ5_K(b, y);
  case GGUFKind::Q6_K:
    return dequantizeQ6_K(b, y);
  case GGUFKind::IQ4_NL:
    return dequantizeIQ4_NL(b, y);
  case GGUFKind::IQ4_XS:
    return dequantizeIQ4_XS(b, y);
  case GGUFKind::TQ1_0:
    return dequantizeTQ1_0(b, y);
  case GGUFKind::TQ2_0:
    return dequantizeTQ2_0(b, y);
  default: // not ggufSupported(): verifyScheme rejects these
    return;
  }
}

} // namespace

namespace {
struct GGUFInfo {
  GGUFKind kind;
  const char *name;
  int64_t elems, bytes; // sizeof(block_*) in ggml-common.h
  bool supported;
};
constexpr GGUFInfo kGGUF[] = {
    {GGUFKind::Q4_0, "q4_0", 32, 18, true},
    {GGUFKind::Q4_1, "q4_1", 32, 20, true},
    {GGUFKind::Q5_0, "q5_0", 32, 22, true},
    {GGUFKind::Q5_1, "q5_1", 32, 24, true},
    {GGUFKind::Q8_0, "q8_0", 32, 34, true},
    {GGUFKind::Q2_K, "q2_k", 256, 84, true},
    {GGUFKind::Q3_K, "q3_k", 256, 110, true},
    {GGUFKind::Q4_K, "q4_k", 256, 144, true},
    {GGUFKind::Q5_K, "q5_k", 256, 176, true},
    {GGUFKind::Q6_K, "q6_k", 256, 210, true},
    {GGUFKind::MXFP4, "gguf_mxfp4", 32, 17, true},
    {GGUFKind::IQ4_NL, "iq4_nl", 32, 18, true},
    {GGUFKind::IQ4_XS, "iq4_xs", 256, 136, true},
    {GGUFKind::TQ1_0, "tq1_0", 256, 54, true},
    {GGUFKind::TQ2_0, "tq2_0", 256, 66, true},
};
const GGUFInfo &info(GGUFKind kind) {
  for (const GGUFInfo &i : kGGUF)
    if (i.kind == kind)
      return i;
  return kGGUF[0]; // unreachable for valid enumerators
}
} // namespace

int64_t ggufBlockSize(GGUFKind kind) { return info(kind).elems; }
int64_t ggufBlockBytes(GGUFKind kind) { return info(kind).bytes; }
const char *ggufName(GGUFKind kind) { return info(kind).name; }
bool ggufSupported(GGUFKind kind) { return info(kind).supported; }

void ggufQuantizeRow(GGUFKind kind, const float *x, uint8_t *out, int64_t n) {
  const int64_t bs = ggufBlockSize(kind), bb = ggufBlockBytes(kind);
  if (kind == GGUFKind::IQ4_NL) // codes carry over between blocks of a row
    return quantizeIQ4_NLRow(x, out, n / bs);
  for (int64_t i = 0; i < n / bs; ++i, x += bs, out += bb) {
    switch (kind) {
    case GGUFKind::Q4_0:
      quantizeQ4_0(x, out);
      break;
    case GGUFKind::Q4_1:
      quantizeQ4_1(x, out);
      break;
    case GGUFKind::Q5_0:
      quantizeQ5_0(x, out);
      break;
    case GGUFKind::Q5_1:
      quantizeQ5_1(x, out);
      break;
    case GGUFKind::Q8_0:
      quantizeQ8_0(x, out);
      break;
    case GGUFKind::Q2_K:
      quantizeQ2_K(x, out);
      break;
    case GGUFKind::Q3_K:
      quantizeQ3_K(x, out);
      break;
    case GGUFKind::Q4_K:
      quantizeQ4_K(x, out);
      break;
    case GGUFKind::Q5_K:
      quantizeQ5_K(x, out);
      break;
    case GGUFKind::Q6_K:
      quantizeQ6_K(x, out);
      break;
    case GGUFKind::IQ4_XS:
      quantizeIQ4_XS(x, out);
      break;
    case GGUFKind::TQ1_0:
      quantizeTQ1_0(x, out);
      break;
    case GGUFKind::TQ2_0:
      quantizeTQ2_0(x, out);
      break;
    case GGUFKind::MXFP4:
      quantizeMXFP4(x, out);
      break;
    default: // not ggufSupported(): verifyScheme rejects these
      return;
    }
  }
}

void ggufDequantizeRow(GGUFKind kind, const uint8_t *in, float *out,
                       int64_t n) {
  const int64_t bs = ggufBlockSize(kind), bb = ggufBlockBytes(kind);
  for (int64_t i = 0; i < n / bs; ++i)
    dequantizeBlock(kind, in + i * bb, out + i * bs);
}

} // namespace lowbit::numerics
