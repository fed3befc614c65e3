//===- GGUFKQuants.cpp - llama.cpp K-quants, byte-exact -------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Q2_K, Q3_K, Q4_K, Q5_K and Q6_K: super-blocks of 256 values, sub-blocks
// fitted by llama.cpp's make_qkx2_quants (asymmetric: q2_K, q4_K, q5_K),
// make_q3_quants (q3_K) or make_qx_quants (q6_K), their scales quantized
// again against one f16 super-block scale (quantize_row_*_ref of
// ggml-quants.c). As in GGUF.cpp, every fp32 expression keeps the
// reference's evaluation order and nothing is contracted to FMA.
//
//===----------------------------------------------------------------------===//

#include "GGUFImpl.h"

namespace lowbit::numerics::gguf_detail {

namespace {

// make_qkx2_quants: asymmetric scale and min of one sub-block, weighted
// least squares over a grid of candidate scales; the error is squared or,
// with `useMad`, absolute.
float makeQKX2Quants(int n, int nmax, const float *x, const float *weights,
                     uint8_t *L, float *theMin, uint8_t *Laux, float rmin,
                     float rdelta, int nstep, bool useMad) {
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
    diff = useMad ? std::fabs(diff) : diff * diff;
    bestError += weights[i] * diff;
  }
  if (nstep < 1) {
    *theMin = -min;
    return scale;
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
        diff = useMad ? std::fabs(diff) : diff * diff;
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

/// The signed value of the first element of largest magnitude, and that
/// magnitude (make_qx_quants and make_q3_quants: strict >, first wins).
inline float firstAbsMax(int n, const float *x, float &amax) {
  float max = 0;
  amax = 0;
  for (int i = 0; i < n; ++i) {
    float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  return max;
}

// make_qx_quants with rmse_type = 1 and no importance weights: symmetric
// scale of one sub-block, refined over 18 candidate scales.
float makeQXQuants(int n, int nmax, const float *x, int8_t *L) {
  float amax;
  const float max = firstAbsMax(n, x, amax);
  if (amax < kGroupMaxEps) { // all zero
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

// make_q3_quants with do_rmse: symmetric codes in [-nmax, nmax - 1], then
// up to five passes that move one code at a time to its least-squares
// value (weights x²) while that raises sumlx² / suml2. Codes come back
// offset by nmax.
float makeQ3Quants(int n, int nmax, const float *x, int8_t *L) {
  float amax;
  const float max = firstAbsMax(n, x, amax);
  if (amax < kGroupMaxEps) { // all zero
    for (int i = 0; i < n; ++i)
      L[i] = 0;
    return 0.f;
  }
  const float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearestInt(iscale * x[i]);
    l = imax(-nmax, imin(nmax - 1, l));
    L[i] = int8_t(l);
    float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int itry = 0; itry < 5; ++itry) {
    int nChanged = 0;
    for (int i = 0; i < n; ++i) {
      float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * L[i];
      if (slx > 0) {
        float sl2 = suml2 - w * L[i] * L[i];
        int newL = nearestInt(x[i] * sl2 / slx);
        newL = imax(-nmax, imin(nmax - 1, newL));
        if (newL != L[i]) {
          slx += w * x[i] * newL;
          sl2 += w * newL * newL;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = int8_t(newL);
            sumlx = slx;
            suml2 = sl2;
            ++nChanged;
          }
        }
      }
    }
    if (!nChanged)
      break;
  }
  for (int i = 0; i < n; ++i)
    L[i] = int8_t(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Q4_K/Q5_K scales[12]: 8 sub-blocks with 6-bit scale and min indices,
// packed as get_scale_min_k4 reads them.
inline void scaleMinK4(int j, const uint8_t *q, uint8_t &d, uint8_t &m) {
  if (j < 4) {
    d = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    d = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    m = uint8_t((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

/// The sub-block fit shared by Q4_K and Q5_K: eight sub-blocks of 32 by
/// make_qkx2_quants (weights sqrt(mean x²) + |x|), their scales and mins as
/// 6-bit indices of two f16 super-block scales at y[0] and y[2], packed in
/// y[4..15]; then every code again from the stored scales (L, 0..nmax).
void quantizeK4Scales(const float *x, uint8_t *y, int nmax, float rmin,
                      int nstep, uint8_t *L) {
  uint8_t Laux[32];
  float weights[32], mins[kQKK / 32], scales[kQKK / 32];
  float maxScale = 0, maxMin = 0;
  for (int j = 0; j < kQKK / 32; ++j) {
    float sumX2 = 0;
    for (int l = 0; l < 32; ++l)
      sumX2 += x[32 * j + l] * x[32 * j + l];
    float avX = std::sqrt(sumX2 / 32);
    for (int l = 0; l < 32; ++l)
      weights[l] = avX + std::fabs(x[32 * j + l]);
    scales[j] = makeQKX2Quants(32, nmax, x + 32 * j, weights, L + 32 * j,
                               &mins[j], Laux, rmin, 0.1f, nstep, false);
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
      L[32 * j + ii] = uint8_t(imax(0, imin(nmax, l)));
    }
  }
}

/// Q2_K/Q3_K: four 2-bit codes per byte, elements l, l+32, l+64, l+96 of
/// each half super-block.
void pack2Bit(const uint8_t *L, uint8_t *qs) {
  for (int j = 0; j < kQKK; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = uint8_t(L[j + l] | (L[j + l + 32] << 2) |
                              (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

} // namespace

// Q2_K: scales[16] (low nibble scale, high nibble min), qs[64], f16 d,
// f16 dmin; 16 sub-blocks of 16.
void quantizeQ2_K(const float *x, uint8_t *y) {
  uint8_t L[kQKK], Laux[16];
  float weights[16], mins[kQKK / 16], scales[kQKK / 16];
  const float q4scale = 15.f;
  float maxScale = 0, maxMin = 0;
  for (int j = 0; j < kQKK / 16; ++j) {
    for (int l = 0; l < 16; ++l)
      weights[l] = std::fabs(x[16 * j + l]);
    scales[j] = makeQKX2Quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j],
                               Laux, -0.5f, 0.1f, 15, true);
    if (scales[j] > maxScale)
      maxScale = scales[j];
    if (mins[j] > maxMin)
      maxMin = mins[j];
  }
  uint8_t *sc = y, *qs = y + 16, *dp = y + 80, *dminp = y + 82;
  if (maxScale > 0) {
    const float iscale = q4scale / maxScale;
    for (int j = 0; j < kQKK / 16; ++j)
      sc[j] = uint8_t(nearestInt(iscale * scales[j]));
    storeHalf(dp, maxScale / q4scale);
  } else {
    for (int j = 0; j < kQKK / 16; ++j)
      sc[j] = 0;
    storeHalf(dp, 0.f);
  }
  if (maxMin > 0) {
    const float iscale = q4scale / maxMin;
    for (int j = 0; j < kQKK / 16; ++j)
      sc[j] |= uint8_t(uint32_t(nearestInt(iscale * mins[j])) << 4);
    storeHalf(dminp, maxMin / q4scale);
  } else {
    storeHalf(dminp, 0.f);
  }
  const float dAll = loadHalf(dp), dminAll = loadHalf(dminp);
  for (int j = 0; j < kQKK / 16; ++j) {
    const float d = dAll * (sc[j] & 0xF);
    if (d == 0.0f)
      continue;
    const float dm = dminAll * (sc[j] >> 4);
    for (int ii = 0; ii < 16; ++ii) {
      int l = nearestInt((x[16 * j + ii] + dm) / d);
      L[16 * j + ii] = uint8_t(imax(0, imin(3, l)));
    }
  }
  pack2Bit(L, qs);
}

// Q3_K: hmask[32] (third bit), qs[64] (low 2 bits), scales[12] (16 6-bit
// signed scales, offset 32), f16 d; 16 sub-blocks of 16.
void quantizeQ3_K(const float *x, uint8_t *y) {
  int8_t L[kQKK];
  float scales[kQKK / 16];
  float maxScale = 0, amax = 0;
  for (int j = 0; j < kQKK / 16; ++j) {
    scales[j] = makeQ3Quants(16, 4, x + 16 * j, L + 16 * j);
    const float scale = std::fabs(scales[j]);
    if (scale > amax) {
      amax = scale;
      maxScale = scales[j];
    }
  }
  uint8_t *hmask = y, *qs = y + 32, *sc = y + 96, *dp = y + 108;
  std::memset(sc, 0, 12);
  if (maxScale != 0.0f) {
    const float iscale = -32.f / maxScale;
    for (int j = 0; j < kQKK / 16; ++j) {
      int8_t l = int8_t(nearestInt(iscale * scales[j]));
      l = int8_t(imax(-32, imin(31, l)) + 32);
      if (j < 8)
        sc[j] = uint8_t(l & 0xF);
      else
        sc[j - 8] |= uint8_t((l & 0xF) << 4);
      l = int8_t(l >> 4);
      sc[j % 4 + 8] |= uint8_t(l << (2 * (j / 4)));
    }
    storeHalf(dp, 1 / iscale);
  } else {
    storeHalf(dp, 0.f);
  }
  const float dAll = loadHalf(dp);
  for (int j = 0; j < kQKK / 16; ++j) {
    int s = j < 8 ? sc[j] & 0xF : sc[j - 8] >> 4;
    s = (s | (((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
    const float d = dAll * s;
    if (d == 0.0f)
      continue;
    for (int ii = 0; ii < 16; ++ii) {
      int l = nearestInt(x[16 * j + ii] / d);
      l = imax(-4, imin(3, l));
      L[16 * j + ii] = int8_t(l + 4);
    }
  }
  // The third bit of elements 32k..32k+31 goes to bit k of hmask[0..31].
  std::memset(hmask, 0, kQKK / 8);
  uint8_t Lu[kQKK];
  for (int j = 0; j < kQKK; ++j) {
    Lu[j] = uint8_t(L[j]);
    if (L[j] > 3) {
      hmask[j % 32] |= uint8_t(1u << (j / 32));
      Lu[j] = uint8_t(L[j] - 4);
    }
  }
  pack2Bit(Lu, qs);
}

// Q4_K: d(f16) dmin(f16) scales[12] qs[128]; 8 sub-blocks of 32.
void quantizeQ4_K(const float *x, uint8_t *y) {
  uint8_t L[kQKK];
  quantizeK4Scales(x, y, 15, -1.f, 20, L);
  uint8_t *q = y + 16;
  for (int j = 0; j < kQKK; j += 64) {
    for (int l = 0; l < 32; ++l)
      q[l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
    q += 32;
  }
}

// Q5_K: d(f16) dmin(f16) scales[12] qh[32] qs[128]; 8 sub-blocks of 32 with
// 5-bit codes: low nibbles as Q4_K, the fifth bit of element n + j (n a
// multiple of 64) at bit n/32 of qh[j], of element n + 32 + j at bit
// n/32 + 1.
void quantizeQ5_K(const float *x, uint8_t *y) {
  uint8_t L[kQKK];
  quantizeK4Scales(x, y, 31, -0.5f, 15, L);
  uint8_t *qh = y + 16, *ql = y + 48;
  std::memset(qh, 0, kQKK / 8);
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < kQKK; n += 64) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j];
      if (l1 > 15) {
        l1 -= 16;
        qh[j] |= m1;
      }
      int l2 = L[n + j + 32];
      if (l2 > 15) {
        l2 -= 16;
        qh[j] |= m2;
      }
      ql[j] = uint8_t(l1 | (l2 << 4));
    }
    m1 = uint8_t(m1 << 2);
    m2 = uint8_t(m2 << 2);
    ql += 32;
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
  if (maxAbsScale < kGroupMaxEps) {
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

void dequantizeQ2_K(const uint8_t *b, float *y) {
  const float d = loadHalf(b + 80), min = loadHalf(b + 82);
  const uint8_t *sc = b, *q = b + 16;
  int is = 0;
  for (int n = 0; n < kQKK; n += 128) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int half = 0; half < 32; half += 16) {
        const uint8_t s = sc[is++];
        const float dl = d * (s & 0xF), ml = min * (s >> 4);
        for (int l = 0; l < 16; ++l)
          *y++ = dl * ((q[half + l] >> shift) & 3) - ml;
      }
    }
    q += 32;
  }
}

void dequantizeQ3_K(const uint8_t *b, float *y) {
  const uint8_t *hm = b, *q = b + 32, *sc = b + 96;
  const float dAll = loadHalf(b + 108);
  int is = 0;
  uint8_t m = 1;
  for (int n = 0; n < kQKK; n += 128) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int half = 0; half < 32; half += 16) {
        const int j = is++;
        int s = j < 8 ? sc[j] & 0xF : sc[j - 8] >> 4;
        s |= ((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4;
        const float dl = dAll * (s - 32);
        for (int l = 0; l < 16; ++l)
          *y++ = dl *
                 (((q[half + l] >> shift) & 3) - ((hm[half + l] & m) ? 0 : 4));
      }
      m = uint8_t(m << 1);
    }
    q += 32;
  }
}

void dequantizeQ4_K(const uint8_t *b, float *y) {
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
}

void dequantizeQ5_K(const uint8_t *b, float *y) {
  const float d = loadHalf(b), min = loadHalf(b + 2);
  const uint8_t *sc = b + 4, *qh = b + 16, *ql = b + 48;
  int is = 0;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0; j < kQKK; j += 64) {
    uint8_t s, m;
    scaleMinK4(is + 0, sc, s, m);
    const float d1 = d * s, m1 = min * m;
    scaleMinK4(is + 1, sc, s, m);
    const float d2 = d * s, m2 = min * m;
    for (int l = 0; l < 32; ++l)
      *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l)
      *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    ql += 32;
    is += 2;
    u1 = uint8_t(u1 << 2);
    u2 = uint8_t(u2 << 2);
  }
}

void dequantizeQ6_K(const uint8_t *b, float *y) {
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
}

} // namespace lowbit::numerics::gguf_detail
