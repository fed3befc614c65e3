//===- GGUFIQuants.cpp - llama.cpp iq4 and ternary blocks, byte-exact -----===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// IQ4_NL and IQ4_XS (4-bit indices into a 16-value non-linear table) and
// the ternary TQ1_0 and TQ2_0, as llama.cpp's quantize_row_*_ref in
// ggml-quants.c computes them (the iq4 ones through
// quantize_row_iq4_nl_impl without importance weights). As in GGUF.cpp,
// every fp32 expression keeps the reference's evaluation order and nothing
// is contracted to FMA.
//
//===----------------------------------------------------------------------===//

#include "GGUFImpl.h"

namespace lowbit::numerics::gguf_detail {

namespace {

// ggml-common.h's kvalues_iq4nl.
constexpr int8_t kIQ4NLValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};

/// best_index_int8: the index of the table value nearest to `x` by binary
/// search; a tie between two neighbours goes to the upper one, NaN to the
/// last.
inline int bestIndexIQ4(float x) {
  const int8_t *val = kIQ4NLValues;
  if (x <= val[0])
    return 0;
  if (x >= val[15])
    return 15;
  int ml = 0, mu = 15;
  while (mu - ml > 1) {
    int mav = (ml + mu) / 2;
    if (x < val[mav])
      mu = mav;
    else
      ml = mav;
  }
  return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

/// One sub-block of 32 of quantize_row_iq4_nl_impl without importance
/// weights (weights x²): the scale from the first element of largest |x|
/// (d = max / -127, or -max / -127 when `ntry` > 0), codes by nearest table
/// value, the least-squares scale, then 2 * ntry + 1 candidate scales
/// (itry - 127) / max kept when they raise sumqx² / sumq2. Returns false,
/// leaving L alone, for a block whose largest |x| is below 1e-15 (scale 0).
bool fitIQ4Block(const float *xb, int ntry, uint8_t *L, float &scale) {
  float weight[32];
  for (int j = 0; j < 32; ++j)
    weight[j] = xb[j] * xb[j];
  float amax = 0, max = 0;
  for (int j = 0; j < 32; ++j) {
    float ax = std::fabs(xb[j]);
    if (ax > amax) {
      amax = ax;
      max = xb[j];
    }
  }
  if (amax < kGroupMaxEps) {
    scale = 0;
    return false;
  }
  const float v0 = kIQ4NLValues[0];
  float d = ntry > 0 ? -max / v0 : max / v0;
  float id = 1 / d;
  float sumqx = 0, sumq2 = 0;
  for (int j = 0; j < 32; ++j) {
    float al = id * xb[j];
    int l = bestIndexIQ4(al);
    L[j] = uint8_t(l);
    float q = kIQ4NLValues[l];
    float w = weight[j];
    sumqx += w * q * xb[j];
    sumq2 += w * q * q;
  }
  d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
  float best = d * sumqx;
  for (int itry = -ntry; itry <= ntry; ++itry) {
    id = (itry + kIQ4NLValues[0]) / max;
    sumqx = sumq2 = 0;
    for (int j = 0; j < 32; ++j) {
      float al = id * xb[j];
      int l = bestIndexIQ4(al);
      float q = kIQ4NLValues[l];
      float w = weight[j];
      sumqx += w * q * xb[j];
      sumq2 += w * q * q;
    }
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  scale = d;
  return true;
}

/// Two 4-bit codes per byte: element j in the low nibble, j + 16 in the
/// high one, per 32.
void packIQ4(const uint8_t *L, uint8_t *q4, int n) {
  for (int i = 0; i < n / 32; ++i)
    for (int j = 0; j < 16; ++j)
      q4[16 * i + j] = uint8_t(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

} // namespace

// IQ4_NL: f16 d, qs[16]; quantize_row_iq4_nl_ref (ntry -1: no scale
// search). A block whose largest |x| is below 1e-15 gets d = 0 and the
// reference packs its code buffer without writing it: the codes of the
// previous block of the row. lowbit starts each row with zero codes.
void quantizeIQ4_NLRow(const float *x, uint8_t *y, int64_t nblocks) {
  uint8_t L[32] = {};
  for (int64_t ib = 0; ib < nblocks; ++ib, x += 32, y += 18) {
    float scale;
    fitIQ4Block(x, -1, L, scale);
    storeHalf(y, scale);
    packIQ4(L, y + 2, 32);
  }
}

// IQ4_XS: f16 d, u16 scales_h (high 2 bits), scales_l[4] (low nibbles) of
// eight 6-bit sub-block scales offset by 32, qs[128]; quantize_iq4_xs with
// ntry 7 and no importance weights.
void quantizeIQ4_XS(const float *x, uint8_t *y) {
  uint8_t L[kQKK] = {};
  float scales[kQKK / 32];
  float maxScale = 0, amaxScale = 0;
  for (int ib = 0; ib < kQKK / 32; ++ib) {
    if (!fitIQ4Block(x + 32 * ib, 7, L + 32 * ib, scales[ib]))
      continue;
    const float absD = std::fabs(scales[ib]);
    if (absD > amaxScale) {
      amaxScale = absD;
      maxScale = scales[ib];
    }
  }
  uint8_t *scalesL = y + 4;
  uint16_t scalesH = 0;
  const float d = -maxScale / 32;
  storeHalf(y, d);
  const float id = d != 0.0f ? 1 / d : 0.f;
  for (int ib = 0; ib < kQKK / 32; ++ib) {
    int l = nearestInt(id * scales[ib]);
    l = imax(-32, imin(31, l));
    const float dl = d * l;
    const float idl = dl != 0.0f ? 1 / dl : 0.f;
    for (int j = 0; j < 32; ++j)
      L[32 * ib + j] = uint8_t(bestIndexIQ4(idl * x[32 * ib + j]));
    l += 32;
    const uint8_t lLow = uint8_t(l & 0xF), lHigh = uint8_t(l >> 4);
    if (ib % 2 == 0)
      scalesL[ib / 2] = lLow;
    else
      scalesL[ib / 2] |= uint8_t(lLow << 4);
    scalesH = uint16_t(scalesH | (lHigh << (2 * ib)));
  }
  y[2] = uint8_t(scalesH);
  y[3] = uint8_t(scalesH >> 8);
  packIQ4(L, y + 8, kQKK);
}

// TQ1_0: qs[48] (five trits per byte), qh[4] (four per byte), f16 d = amax.
// Trits t = lroundf(x / amax) + 1 in base 3, most significant first, stored
// as ceil(v * 256 / 243) so that the trits read back as the top digits of
// byte * 3^k. qs[0..31] hold elements m + 32n (n = 0..4), qs[32..47]
// elements 160 + m + 16n, qh[j] elements 240 + j + 4n (n = 0..3, and a
// fifth trit 0).
void quantizeTQ1_0(const float *x, uint8_t *y) {
  float amax = 0.0f;
  for (int j = 0; j < kQKK; ++j) {
    const float a = std::fabs(x[j]);
    amax = amax > a ? amax : a;
  }
  const float d = amax;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  storeHalf(y + 52, d);
  auto pack = [&](const float *xs, int stride, int n, int pad) {
    uint8_t q = 0;
    for (int k = 0; k < n; ++k) {
      const int xi = lroundToInt(xs[k * stride] * id) + 1;
      q = uint8_t(q * 3);
      q = uint8_t(q + xi);
    }
    for (int k = 0; k < pad; ++k)
      q = uint8_t(q * 3);
    return uint8_t((uint16_t(q) * 256 + (243 - 1)) / 243);
  };
  for (int m = 0; m < 32; ++m)
    y[m] = pack(x + m, 32, 5, 0);
  x += 5 * 32;
  for (int m = 0; m < 16; ++m)
    y[32 + m] = pack(x + m, 16, 5, 0);
  x += 5 * 16;
  for (int j = 0; j < 4; ++j)
    y[48 + j] = pack(x + j, 4, 4, 1);
}

// TQ2_0: qs[64] (four 2-bit trits + 1 per byte: element m + 32n of each
// 128 at bits 2n of qs[m]), f16 d = amax.
void quantizeTQ2_0(const float *x, uint8_t *y) {
  float amax = 0.0f;
  for (int j = 0; j < kQKK; ++j) {
    const float a = std::fabs(x[j]);
    amax = amax > a ? amax : a;
  }
  const float d = amax;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  storeHalf(y + 64, d);
  for (int j = 0; j < 64; j += 32) {
    for (int m = 0; m < 32; ++m) {
      uint8_t q = 0;
      for (int n = 0; n < 4; ++n) {
        const int xi = lroundToInt(x[m + n * 32] * id) + 1;
        q = uint8_t(q + ((xi & 3) << (2 * n)));
      }
      y[j + m] = q;
    }
    x += 4 * 32;
  }
}

void dequantizeIQ4_NL(const uint8_t *b, float *y) {
  const float d = loadHalf(b);
  const uint8_t *qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * kIQ4NLValues[qs[j] & 0xF];
    y[j + 16] = d * kIQ4NLValues[qs[j] >> 4];
  }
}

void dequantizeIQ4_XS(const uint8_t *b, float *y) {
  const float d = loadHalf(b);
  const unsigned scalesH = unsigned(b[2] | (b[3] << 8));
  const uint8_t *scalesL = b + 4, *qs = b + 8;
  for (int ib = 0; ib < kQKK / 32; ++ib) {
    const int ls = ((scalesL[ib / 2] >> 4 * (ib % 2)) & 0xF) |
                   (((scalesH >> 2 * ib) & 3) << 4);
    const float dl = d * (ls - 32);
    for (int j = 0; j < 16; ++j) {
      y[j + 0] = dl * kIQ4NLValues[qs[j] & 0xF];
      y[j + 16] = dl * kIQ4NLValues[qs[j] >> 4];
    }
    y += 32;
    qs += 16;
  }
}

void dequantizeTQ1_0(const uint8_t *b, float *y) {
  static constexpr uint8_t kPow3[6] = {1, 3, 9, 27, 81, 243};
  const float d = loadHalf(b + 52);
  auto trit = [&](uint8_t byte, int n) {
    const uint8_t q = uint8_t(byte * kPow3[n]);
    const int xi = (uint16_t(q) * 3) >> 8;
    return float(xi - 1) * d;
  };
  for (int n = 0; n < 5; ++n)
    for (int m = 0; m < 32; ++m)
      *y++ = trit(b[m], n);
  for (int n = 0; n < 5; ++n)
    for (int m = 0; m < 16; ++m)
      *y++ = trit(b[32 + m], n);
  for (int n = 0; n < 4; ++n)
    for (int j = 0; j < 4; ++j)
      *y++ = trit(b[48 + j], n);
}

void dequantizeTQ2_0(const uint8_t *b, float *y) {
  const float d = loadHalf(b + 64);
  for (int j = 0; j < 64; j += 32)
    for (int l = 0; l < 4; ++l)
      for (int m = 0; m < 32; ++m)
        *y++ = float(((b[j + m] >> (l * 2)) & 3) - 1) * d;
}

} // namespace lowbit::numerics::gguf_detail
