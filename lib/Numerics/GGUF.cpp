//===- GGUF.cpp - llama.cpp block formats, byte-exact ---------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The reference quantizers of llama.cpp (ggml/src/ggml-quants.c,
// quantize_row_*_ref) and the block structs of ggml-common.h, rewritten
// from their documented arithmetic. Every fp32 expression keeps the
// reference's evaluation order and is compiled without FMA contraction, so
// x*id + 8.5f rounds twice exactly as the non-contracted reference does.
// docs/Numerics.md lists the layouts.
//
//===----------------------------------------------------------------------===//

#include "MiniFloatImpl.h"

#include <cmath>
#include <cstring>

namespace lowbit::numerics {

namespace {

constexpr int kQK = 32;
constexpr int kQKK = 256;

// IEEE half: ggml's GGML_FP32_TO_FP16 rounds to nearest even (and
// overflows to Inf), as the non-saturating encoder does.

inline void storeHalf(uint8_t *p, float x) {
  static const detail::MiniFloatEncoder enc(kF16, /*sat=*/false,
                                            Rounding::NearestEven);
  uint32_t h = enc.encode(x);
  p[0] = uint8_t(h);
  p[1] = uint8_t(h >> 8);
}
inline float loadHalf(const uint8_t *p) {
  return detail::decodeMiniFloatInline(kF16, uint32_t(p[0] | (p[1] << 8)));
}

/// llama.cpp's nearest_int: round to nearest even through the magic
/// constant 1.5 * 2^23 (valid for |f| <= 2^22 - 1).
inline int nearestInt(float f) {
  float v = f + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, sizeof(i));
  return (i & 0x007FFFFF) - 0x00400000;
}

/// llama.cpp's (int8_t)f and (uint8_t)f as x86-64 evaluates them
/// (cvttss2si to int32, keep the low byte; NaN and values beyond int32 give
/// INT32_MIN). C leaves out-of-range conversions undefined; they happen in
/// the reference for blocks whose 1/d overflows (subnormal d), and
/// llama.cpp's bytes there are x86's, so lowbit computes them explicitly.
inline uint8_t lowByteOfTrunc(float f) {
  int32_t i = (f != f || f >= 2147483648.0f || f < -2147483648.0f) ? INT32_MIN
                                                                   : int32_t(f);
  return uint8_t(uint32_t(i) & 0xFFu);
}
inline int8_t toInt8(float f) { return int8_t(lowByteOfTrunc(f)); }
inline uint8_t toUInt8(float f) { return lowByteOfTrunc(f); }

inline int imin(int a, int b) { return a < b ? a : b; }
inline int imax(int a, int b) { return a > b ? a : b; }

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

// make_qkx2_quants: asymmetric scale and min of one sub-block, weighted
// least squares over a grid of candidate scales.
float makeQKX2Quants(int n, int nmax, const float *x, const float *weights,
                     uint8_t *L, float *theMin, uint8_t *Laux, float rmin,
                     float rdelta, int nstep) {
  float min = x[0];
  float max = x[0];
  float sumW = weights[0];
  float sumX = sumW * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min)
      min = x[i];
    if (x[i] > max)
      max = x[i];
    float w = weights[i];
    sumW += w;
    sumX += w * x[i];
  }
  if (min > 0)
    min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i)
      L[i] = 0;
    *theMin = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float bestError = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearestInt(iscale * (x[i] - min));
    L[i] = uint8_t(imax(0, imin(nmax, l)));
    float diff = scale * L[i] + min - x[i];
    diff = diff * diff;
    bestError += weights[i] * diff;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sumL = 0, sumL2 = 0, sumXL = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearestInt(iscale * (x[i] - min));
      l = imax(0, imin(nmax, l));
      Laux[i] = uint8_t(l);
      float w = weights[i];
      sumL += w * l;
      sumL2 += w * l * l;
      sumXL += w * l * x[i];
    }
    float D = sumW * sumL2 - sumL * sumL;
    if (D > 0) {
      float thisScale = (sumW * sumXL - sumX * sumL) / D;
      float thisMin = (sumL2 * sumX - sumL * sumXL) / D;
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = sumXL / sumL2;
      }
      float curError = 0;
      for (int i = 0; i < n; ++i) {
        float diff = thisScale * Laux[i] + thisMin - x[i];
        diff = diff * diff;
        curError += weights[i] * diff;
      }
      if (curError < bestError) {
        for (int i = 0; i < n; ++i)
          L[i] = Laux[i];
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  *theMin = -min;
  return scale;
}

// make_qx_quants with rmse_type = 1 and no importance weights: symmetric
// scale of one sub-block, refined over 18 candidate scales.
float makeQXQuants(int n, int nmax, const float *x, int8_t *L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < 1e-15f) { // GROUP_MAX_EPS: all zero
    for (int i = 0; i < n; ++i)
      L[i] = 0;
    return 0.f;
  }
  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearestInt(iscale * x[i]);
    l = imax(-nmax, imin(nmax - 1, l));
    L[i] = int8_t(l + nmax);
    float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0)
      continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearestInt(iscale * x[i]);
      l = imax(-nmax, imin(nmax - 1, l));
      float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        int l = nearestInt(iscale * x[i]);
        L[i] = int8_t(nmax + imax(-nmax, imin(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Q4_K: d(f16) dmin(f16) scales[12] qs[128]; 8 sub-blocks of 32 with 6-bit
// scale and min indices packed as in get_scale_min_k4.
inline void scaleMinK4(int j, const uint8_t *q, uint8_t &d, uint8_t &m) {
  if (j < 4) {
    d = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    d = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    m = uint8_t((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

void quantizeQ4_K(const float *x, uint8_t *y) {
  uint8_t L[kQKK], Laux[32];
  float weights[32], mins[kQKK / 32], scales[kQKK / 32];
  float maxScale = 0, maxMin = 0;
  for (int j = 0; j < kQKK / 32; ++j) {
    float sumX2 = 0;
    for (int l = 0; l < 32; ++l)
      sumX2 += x[32 * j + l] * x[32 * j + l];
    float avX = std::sqrt(sumX2 / 32);
    for (int l = 0; l < 32; ++l)
      weights[l] = avX + std::fabs(x[32 * j + l]);
    scales[j] = makeQKX2Quants(32, 15, x + 32 * j, weights, L + 32 * j,
                               &mins[j], Laux, -1.f, 0.1f, 20);
    if (scales[j] > maxScale)
      maxScale = scales[j];
    if (mins[j] > maxMin)
      maxMin = mins[j];
  }
  uint8_t *sc = y + 4;
  std::memset(sc, 0, 12);
  float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
  float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
  for (int j = 0; j < kQKK / 32; ++j) {
    uint8_t ls = uint8_t(nearestInt(invScale * scales[j]));
    uint8_t lm = uint8_t(nearestInt(invMin * mins[j]));
    ls = ls < 63 ? ls : 63;
    lm = lm < 63 ? lm : 63;
    if (j < 4) {
      sc[j] = ls;
      sc[j + 4] = lm;
    } else {
      sc[j + 4] = uint8_t((ls & 0xF) | ((lm & 0xF) << 4));
      sc[j - 4] |= uint8_t((ls >> 4) << 6);
      sc[j - 0] |= uint8_t((lm >> 4) << 6);
    }
  }
  storeHalf(y, maxScale / 63.f);
  storeHalf(y + 2, maxMin / 63.f);
  const float dAll = loadHalf(y), dminAll = loadHalf(y + 2);
  for (int j = 0; j < kQKK / 32; ++j) {
    uint8_t s, m;
    scaleMinK4(j, sc, s, m);
    const float d = dAll * s;
    if (d == 0.0f)
      continue;
    const float dm = dminAll * m;
    for (int ii = 0; ii < 32; ++ii) {
      int l = nearestInt((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = uint8_t(imax(0, imin(15, l)));
    }
  }
  uint8_t *q = y + 16;
  for (int j = 0; j < kQKK; j += 64) {
    for (int l = 0; l < 32; ++l)
      q[l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
    q += 32;
  }
}

// Q6_K: ql[128] qh[64] int8 scales[16] d(f16); 16 sub-blocks of 16.
void quantizeQ6_K(const float *x, uint8_t *y) {
  int8_t L[kQKK];
  float scales[kQKK / 16];
  float maxScale = 0, maxAbsScale = 0;
  for (int ib = 0; ib < kQKK / 16; ++ib) {
    const float scale = makeQXQuants(16, 32, x + 16 * ib, L + 16 * ib);
    scales[ib] = scale;
    const float absScale = std::fabs(scale);
    if (absScale > maxAbsScale) {
      maxAbsScale = absScale;
      maxScale = scale;
    }
  }
  uint8_t *ql = y, *qh = y + 128;
  int8_t *sc = reinterpret_cast<int8_t *>(y + 192);
  uint8_t *dp = y + 208;
  if (maxAbsScale < 1e-15f) {
    std::memset(y, 0, 210);
    storeHalf(dp, 0.f);
    return;
  }
  float iscale = -128.f / maxScale;
  storeHalf(dp, 1 / iscale);
  for (int ib = 0; ib < kQKK / 16; ++ib)
    sc[ib] = int8_t(imin(127, nearestInt(iscale * scales[ib])));
  const float dAll = loadHalf(dp);
  for (int j = 0; j < kQKK / 16; ++j) {
    float d = dAll * sc[j];
    if (d == 0.0f)
      continue;
    for (int ii = 0; ii < 16; ++ii) {
      int l = nearestInt(x[16 * j + ii] / d);
      l = imax(-32, imin(31, l));
      L[16 * j + ii] = int8_t(l + 32);
    }
  }
  for (int j = 0; j < kQKK; j += 128) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t q1 = L[j + l + 0] & 0xF;
      const uint8_t q2 = L[j + l + 32] & 0xF;
      const uint8_t q3 = L[j + l + 64] & 0xF;
      const uint8_t q4 = L[j + l + 96] & 0xF;
      ql[l + 0] = uint8_t(q1 | (q3 << 4));
      ql[l + 32] = uint8_t(q2 | (q4 << 4));
      qh[l] = uint8_t((uint8_t(L[j + l]) >> 4) |
                      ((uint8_t(L[j + l + 32]) >> 4) << 2) |
                      ((uint8_t(L[j + l + 64]) >> 4) << 4) |
                      ((uint8_t(L[j + l + 96]) >> 4) << 6));
    }
    ql += 64;
    qh += 32;
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
  case GGUFKind::Q4_K: {
    const float d = loadHalf(b), min = loadHalf(b + 2);
    const uint8_t *sc = b + 4, *q = b + 16;
    int is = 0;
    for (int j = 0; j < kQKK; j += 64) {
      uint8_t s, m;
      scaleMinK4(is + 0, sc, s, m);
      const float d1 = d * s, m1 = min * m;
      scaleMinK4(is + 1, sc, s, m);
      const float d2 = d * s, m2 = min * m;
      for (int l = 0; l < 32; ++l)
        *y++ = d1 * float(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l)
        *y++ = d2 * float(q[l] >> 4) - m2;
      q += 32;
      is += 2;
    }
    return;
  }
  case GGUFKind::Q6_K: {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = reinterpret_cast<const int8_t *>(b + 192);
    const float d = loadHalf(b + 208);
    for (int n = 0; n < kQKK; n += 128) {
      for (int l = 0; l < 32; ++l) {
        int is = l / 16;
        const int8_t q1 =
            int8_t((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int8_t q2 =
            int8_t((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int8_t q3 =
            int8_t((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int8_t q4 =
            int8_t((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * sc[is + 0] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
    return;
  }
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
    {GGUFKind::Q2_K, "q2_k", 256, 84, false},
    {GGUFKind::Q3_K, "q3_k", 256, 110, false},
    {GGUFKind::Q4_K, "q4_k", 256, 144, true},
    {GGUFKind::Q5_K, "q5_k", 256, 176, false},
    {GGUFKind::Q6_K, "q6_k", 256, 210, true},
    {GGUFKind::MXFP4, "gguf_mxfp4", 32, 17, true},
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
    case GGUFKind::Q4_K:
      quantizeQ4_K(x, out);
      break;
    case GGUFKind::Q6_K:
      quantizeQ6_K(x, out);
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
