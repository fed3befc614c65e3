//===- NumericsTest.cpp - the numerics library's C++ API ------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Hand-checked values for the rules of docs/Numerics.md that the
// reference-driven conformance tests (python/tests, test/GGUF, test/E2E)
// reach only indirectly: tie and overflow corners, E8M0, the constant and
// underflowing blocks, multi-axis blocks, empty tensors and error paths.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Numerics.h"
#include "lowbit/Numerics/Algorithms.h"
// Private encoder internals (lib/Numerics), to test the fp4 fast path.
#include "MiniFloatImpl.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

using namespace lowbit;
using namespace lowbit::numerics;

namespace {

float bitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(NumericsCast, E4M3TiesAndOverflow) {
  // 464 is the midpoint of 448 (0x7E) and 480 (0x7F, NaN): ties to even.
  EXPECT_EQ(encodeMiniFloat(kF8E4M3FN, 464.0f, false), 0x7Eu);
  EXPECT_EQ(encodeMiniFloat(kF8E4M3FN, 464.1f, false), 0x7Fu);
  EXPECT_EQ(encodeMiniFloat(kF8E4M3FN, 464.1f, true), 0x7Eu);
  EXPECT_EQ(encodeMiniFloat(kF8E4M3FN, -1e30f, true), 0xFEu);
  EXPECT_EQ(encodeMiniFloat(kF8E4M3FN, INFINITY, false), 0x7Fu);
  // Smallest subnormal 2^-9; half of it ties to zero, above it rounds up.
  EXPECT_EQ(encodeMiniFloat(kF8E4M3FN, std::ldexp(1.0f, -10), true), 0x00u);
  EXPECT_EQ(encodeMiniFloat(kF8E4M3FN, std::ldexp(1.5f, -10), true), 0x01u);
  EXPECT_EQ(encodeMiniFloat(kF8E4M3FN, -0.0f, true), 0x80u);
  EXPECT_EQ(decodeMiniFloat(kF8E4M3FN, 0x01), std::ldexp(1.0f, -9));
  EXPECT_TRUE(std::isnan(decodeMiniFloat(kF8E4M3FN, 0xFF)));
}

TEST(NumericsCast, E5M2AndFP4) {
  EXPECT_EQ(encodeMiniFloat(kF8E5M2, 61440.0f, false), 0x7Cu); // to Inf
  EXPECT_EQ(encodeMiniFloat(kF8E5M2, 61440.0f, true), 0x7Bu);
  EXPECT_EQ(encodeMiniFloat(kF8E5M2, -INFINITY, false), 0xFCu);
  // fp4: 0.25 ties to 0, 0.75 to 1.0 (even), 2.5 to 2, 5 to 4, 7 saturates.
  EXPECT_EQ(encodeMiniFloat(kF4E2M1FN, 0.25f, true), 0x0u);
  EXPECT_EQ(encodeMiniFloat(kF4E2M1FN, 0.75f, true), 0x2u);
  EXPECT_EQ(encodeMiniFloat(kF4E2M1FN, 2.5f, true), 0x4u);
  EXPECT_EQ(encodeMiniFloat(kF4E2M1FN, 5.0f, true), 0x6u);
  EXPECT_EQ(encodeMiniFloat(kF4E2M1FN, -7.0f, false), 0xFu);
  EXPECT_EQ(encodeMiniFloat(kF4E2M1FN, 0.75f, true, Rounding::NearestAway),
            0x2u);
  EXPECT_EQ(encodeMiniFloat(kF4E2M1FN, 0.25f, true, Rounding::NearestAway),
            0x1u);
  // NaN has no fp4 code: ml_dtypes gives a zero with the sign inverted.
  EXPECT_EQ(encodeMiniFloat(kF4E2M1FN, bitsToFloat(0x7FC00000), true), 0x8u);
}

TEST(NumericsCast, E8M0) {
  EXPECT_EQ(encodeE8M0(1.0f, false), 127);
  EXPECT_EQ(encodeE8M0(1.5f, false), 128); // half up
  EXPECT_EQ(encodeE8M0(1.4999999f, false), 127);
  EXPECT_EQ(encodeE8M0(3.0f, false), 129);
  EXPECT_EQ(encodeE8M0(0.0f, false), 0xFF);
  EXPECT_EQ(encodeE8M0(0.0f, true), 0x00);
  EXPECT_EQ(encodeE8M0(-2.0f, true), 0xFF);
  EXPECT_EQ(encodeE8M0(std::ldexp(1.0f, -130), false), 0x00);
  EXPECT_EQ(encodeE8M0(std::ldexp(1.5f, -127), false), 0x01);
  EXPECT_EQ(encodeE8M0(std::ldexp(1.5f, 127), false), 0xFF);
  EXPECT_EQ(encodeE8M0(std::ldexp(1.5f, 127), true), 0xFE);
  EXPECT_EQ(decodeE8M0(0), std::ldexp(1.0f, -127));
  EXPECT_TRUE(std::isnan(decodeE8M0(0xFF)));
}

TEST(NumericsCast, ExactIlogb) {
  // 0x40FFFFFF = 7.9999995: floorf(log2f(x)) is 3 in glibc, the exponent 2.
  EXPECT_EQ(exactIlogb(bitsToFloat(0x40FFFFFF)), 2);
  EXPECT_EQ(exactIlogb(bitsToFloat(0x00000001)), -149);
  EXPECT_EQ(exactIlogb(-1.0f), 0);
}

Scheme intScheme(unsigned bits, std::vector<int64_t> blocks, bool sym) {
  Scheme s;
  s.kind = ElementKind::Int;
  s.bits = bits;
  s.isSigned = sym;
  s.symmetric = sym;
  s.blockSizes = std::move(blocks);
  return s;
}

TEST(NumericsQuantize, ConstantNonZeroBlock) {
  for (float c : {0.3f, -2.5f, 1e-20f, 3.0e38f}) {
    for (bool sym : {true, false}) {
      std::vector<float> x(32, c), y(32);
      Scheme s = intScheme(4, {1, 32}, sym);
      QTensor q;
      ASSERT_TRUE(quantize(x.data(), {1, 32}, s, q).ok());
      ASSERT_TRUE(dequantize(q, y.data()).ok());
      for (float v : y) {
        ASSERT_TRUE(std::isfinite(v)) << c << " sym " << sym;
        EXPECT_LE(std::fabs(v - c),
                  std::nextafter(std::fabs(c), INFINITY) - std::fabs(c))
            << c << " sym " << sym;
      }
    }
  }
}

TEST(NumericsQuantize, ZeroBlockDecodesToPositiveZero) {
  std::vector<float> x(64, 0.0f), y(64, 1.0f);
  for (bool sym : {true, false}) {
    QTensor q;
    ASSERT_TRUE(
        quantize(x.data(), {2, 32}, intScheme(8, {1, 32}, sym), q).ok());
    EXPECT_EQ(q.scaleAt(0), 1.0f);
    ASSERT_TRUE(dequantize(q, y.data()).ok());
    for (float v : y)
      EXPECT_EQ(std::signbit(v) ? 1 : 0, 0);
  }
}

TEST(NumericsQuantize, MultiAxisBlocks) {
  // per_group<[0 : 2, 1 : 4]> on 4 x 8: scales 2 x 2, each the amax of its
  // 2 x 4 block over 7.
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i)
    x[i] = float((i * 7) % 11) - 5.0f;
  QTensor q;
  ASSERT_TRUE(quantize(x.data(), {4, 8}, intScheme(4, {2, 4}, true), q).ok());
  ASSERT_EQ(q.scaleShape(), (std::vector<int64_t>{2, 2}));
  for (int br = 0; br < 2; ++br)
    for (int bc = 0; bc < 2; ++bc) {
      float amax = 0;
      for (int r = 0; r < 2; ++r)
        for (int c = 0; c < 4; ++c)
          amax = std::fmax(amax, std::fabs(x[(2 * br + r) * 8 + 4 * bc + c]));
      EXPECT_EQ(q.scaleAt(br * 2 + bc), amax / 7.0f);
    }
  // Per column (per_axis<1>): blocks {4, 1}.
  ASSERT_TRUE(quantize(x.data(), {4, 8}, intScheme(8, {4, 1}, true), q).ok());
  ASSERT_EQ(q.scaleShape(), (std::vector<int64_t>{1, 8}));
  for (int c = 0; c < 8; ++c) {
    float amax = 0;
    for (int r = 0; r < 4; ++r)
      amax = std::fmax(amax, std::fabs(x[r * 8 + c]));
    EXPECT_EQ(q.scaleAt(c), amax / 127.0f);
  }
}

TEST(NumericsQuantize, NVFP4ScaleUnderflow) {
  // Tensor amax 448*6 gives S = 1; a block of amax 5e-3 (s_b = 8.3e-4, below
  // half of E4M3's smallest subnormal) keeps scale code 1 instead of 0.
  std::vector<float> x(32, 0.0f), y(32);
  x[0] = 2688.0f;
  x[16] = 1e-4f;
  x[17] = -5e-3f;
  Scheme s;
  s.kind = ElementKind::MiniFloat;
  s.minifloat = ElementType::F4E2M1FN;
  s.scale = ScaleType::E4M3;
  s.tensorScale = true;
  s.blockSizes = {1, 16};
  QTensor q;
  ASSERT_TRUE(quantize(x.data(), {1, 32}, s, q).ok());
  EXPECT_EQ(q.tensorScale, 1.0f);
  ASSERT_EQ(q.scales.size(), 2u);
  EXPECT_EQ(q.scales[1], 0x01);
  ASSERT_TRUE(dequantize(q, y.data()).ok());
  EXPECT_EQ(y[16], 0.0f);                         // 1e-4 / 2^-9 = 0.05 -> 0
  EXPECT_EQ(y[17], -3.0f * std::ldexp(1.0f, -9)); // -2.56 -> -3 (RNE)
}

TEST(NumericsQuantize, EmptyTensor) {
  QTensor q;
  std::vector<float> none;
  ASSERT_TRUE(
      quantize(none.data(), {0, 32}, intScheme(4, {1, 32}, true), q).ok());
  EXPECT_TRUE(q.codes.empty());
  EXPECT_TRUE(q.scales.empty());
  ASSERT_TRUE(dequantize(q, none.data()).ok());
}

TEST(NumericsQuantize, Errors) {
  std::vector<float> x(48, 1.0f);
  QTensor q;
  Status st = quantize(x.data(), {1, 48}, intScheme(4, {1, 32}, true), q);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(),
            "axis 1 has 48 elements, not a multiple of the block size 32");
  st = quantize(x.data(), {1, 48}, intScheme(9, {1, 48}, true), q);
  EXPECT_FALSE(st.ok());
  x[7] = std::numeric_limits<float>::quiet_NaN();
  st = quantize(x.data(), {2, 24}, intScheme(8, {1, 24}, true), q, true);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(),
            "element [0, 7] is NaN, which this format cannot represent");
  // Non-strict: NaN encodes to the zero-point code (0).
  ASSERT_TRUE(quantize(x.data(), {2, 24}, intScheme(8, {1, 24}, true), q).ok());
  EXPECT_EQ(q.codes[7], 0);
  // dequantize checks the part sizes.
  q.codes.pop_back();
  std::vector<float> y(48);
  EXPECT_FALSE(dequantize(q, y.data()).ok());
}

TEST(NumericsGGUF, ZeroBlocks) {
  std::vector<float> x(256, 0.0f), y(256, 1.0f);
  for (GGUFKind k :
       {GGUFKind::Q4_0, GGUFKind::Q4_1, GGUFKind::Q5_0, GGUFKind::Q8_0,
        GGUFKind::Q4_K, GGUFKind::Q6_K, GGUFKind::MXFP4}) {
    std::vector<uint8_t> b(size_t(256 / ggufBlockSize(k) * ggufBlockBytes(k)));
    ggufQuantizeRow(k, x.data(), b.data(), 256);
    ggufDequantizeRow(k, b.data(), y.data(), 256);
    for (float v : y)
      EXPECT_EQ(v, 0.0f) << ggufName(k);
  }
  // q4_0 of zeros: d = 0 and every nibble 8 (value 0).
  std::vector<uint8_t> b(18);
  ggufQuantizeRow(GGUFKind::Q4_0, x.data(), b.data(), 32);
  EXPECT_EQ(b[0], 0);
  EXPECT_EQ(b[2], 0x88);
}

TEST(NumericsFormats, Names) {
  Scheme s;
  EXPECT_TRUE(schemeForFormat("q4_k", {2, 512}, {}, s).ok());
  EXPECT_EQ(s.kind, ElementKind::GGUF);
  FormatOptions g;
  g.groupSize = 128;
  ASSERT_TRUE(schemeForFormat("int4", {3, 256}, g, s).ok());
  EXPECT_EQ(s.blockSizes, (std::vector<int64_t>{1, 128}));
  Status st = schemeForFormat("fp5", {32}, {}, s);
  EXPECT_FALSE(st.ok());
  g.asymmetric = true;
  EXPECT_FALSE(schemeForFormat("mxfp4", {32}, g, s).ok());
}

} // namespace

namespace {
// The fp4 threshold encoder against the generic bit-rounding encoder: every
// 97th fp32 bit pattern, and every pattern within 4096 ulps of each
// midpoint of the E2M1 grid, in both rounding modes.
TEST(NumericsCast, E2M1FastPathMatchesBitRounding) {
  for (Rounding r : {Rounding::NearestEven, Rounding::NearestAway}) {
    detail::MiniFloatEncoder enc(kF4E2M1FN, true, r);
    auto check = [&](uint32_t u) {
      float x;
      std::memcpy(&x, &u, 4);
      ASSERT_EQ(enc.encodeE2M1(x), enc.encodeBits(x)) << std::hex << u;
    };
    for (uint64_t u = 0; u < (uint64_t(1) << 32); u += 97)
      check(uint32_t(u));
    for (float mid : {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f, 6.0f}) {
      uint32_t m;
      std::memcpy(&m, &mid, 4);
      for (uint32_t d = 0; d < 8192; ++d) {
        check(m - 4096 + d);
        check((m - 4096 + d) | 0x80000000u);
      }
    }
  }
}
} // namespace

namespace {
// Subnormal constant blocks: never NaN or Inf, and within the absolute
// error docs/Numerics.md states (at most |c|).
TEST(NumericsQuantize, SubnormalConstantBlock) {
  for (float c : {1.469e-39f, -3e-44f, 1e-45f}) {
    for (bool sym : {true, false}) {
      std::vector<float> x(32, c), y(32);
      QTensor q;
      ASSERT_TRUE(
          quantize(x.data(), {1, 32}, intScheme(8, {1, 32}, sym), q).ok());
      ASSERT_TRUE(dequantize(q, y.data()).ok());
      for (float v : y) {
        ASSERT_TRUE(std::isfinite(v));
        EXPECT_LE(std::fabs(v - c), std::fabs(c)) << c << " sym " << sym;
      }
    }
  }
}
} // namespace

namespace {
// Every order the constructions promise is a Hadamard matrix (H H^T = n I),
// including the sizes of common layers (14336 = 28 * 512 is checked by
// its base 28 and Sylvester's doubling).
TEST(NumericsHadamard, Orthogonal) {
  for (int64_t n :
       {1, 2, 4, 12, 20, 28, 36, 40, 44, 60, 108, 140, 24, 56, 112, 256, 280}) {
    std::vector<int8_t> h = hadamardMatrix(n);
    ASSERT_EQ(h.size(), size_t(n * n)) << n;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        int64_t dot = 0;
        for (int64_t k = 0; k < n; ++k)
          dot += int64_t(h[size_t(i * n + k)]) * h[size_t(j * n + k)];
        ASSERT_EQ(dot, i == j ? n : 0)
            << "n " << n << " rows " << i << ", " << j;
      }
  }
  EXPECT_TRUE(hadamardMatrix(52).empty());
  EXPECT_TRUE(hadamardMatrix(3).empty());
  // The rotation is orthogonal in f32 up to rounding.
  std::vector<float> r = hadamardRotation(40, 7);
  for (int64_t i = 0; i < 40; ++i) {
    double dot = 0;
    for (int64_t k = 0; k < 40; ++k)
      dot += double(r[size_t(i * 40 + k)]) * r[size_t(i * 40 + k)];
    EXPECT_NEAR(dot, 1.0, 1e-6);
  }
}
} // namespace

// transposeMatrix keeps every value: 2-bit asymmetric codes in groups along
// the rows (sub-byte packing, padded rows, zero points), dequantized before
// and after, compared element by element at [i, j] and [j, i].
TEST(Numerics, TransposeMatrixKeepsValues) {
  const int64_t rows = 8, cols = 6;
  std::vector<float> x(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i)
    x[i] = std::sin(0.7f * float(i)) * float(1 + i % 5);
  Scheme s;
  s.bits = 2;
  s.isSigned = false;
  s.symmetric = false;
  s.blockSizes = {4, 1}; // groups of 4 along axis 0, one per column
  QTensor q, t;
  ASSERT_TRUE(quantize(x.data(), {rows, cols}, s, q).ok());
  ASSERT_TRUE(transposeMatrix(q, t).ok());
  EXPECT_EQ(t.shape, (std::vector<int64_t>{cols, rows}));
  EXPECT_EQ(t.scheme.blockSizes, (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(t.codes.size(), size_t(cols * 2)); // 8 codes of 2 bits per row
  std::vector<float> a(rows * cols), b(rows * cols);
  ASSERT_TRUE(dequantize(q, a.data()).ok());
  ASSERT_TRUE(dequantize(t, b.data()).ok());
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      EXPECT_EQ(a[i * cols + j], b[j * rows + i]) << i << "," << j;
  QTensor g;
  g.scheme.kind = ElementKind::GGUF;
  g.shape = {2, 32};
  EXPECT_FALSE(transposeMatrix(g, t).ok());
}

// The int8 panel layout: every code lands at [p][k / 4][n % 16][k % 4],
// biased by 128; the padding (channels 19..31, inputs 9..11) is byte 128.
TEST(Numerics, PackInt8Panels) {
  const int64_t n = 19, k = 9;
  std::vector<float> x(n * k);
  for (int64_t i = 0; i < n * k; ++i)
    x[i] = std::sin(1.3f * float(i)) * float(1 + i % 7);
  Scheme s;
  s.blockSizes = {1, k};
  QTensor q;
  ASSERT_TRUE(quantize(x.data(), {n, k}, s, q).ok());
  std::vector<uint8_t> p;
  ASSERT_TRUE(packInt8Panels(q, p).ok());
  ASSERT_EQ(int64_t(p.size()), panelBytes(n, k));
  ASSERT_EQ(p.size(), size_t(2 * 3 * 64));
  std::vector<int> seen(p.size(), 0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      size_t at =
          size_t((r / 16) * 3 * 64 + (c / 4) * 64 + (r % 16) * 4 + c % 4);
      EXPECT_EQ(int(p[at]), int(int8_t(q.codes[r * k + c])) + 128)
          << r << "," << c;
      ++seen[at];
    }
  for (size_t i = 0; i < p.size(); ++i) {
    if (!seen[i]) {
      EXPECT_EQ(int(p[i]), 128) << i;
    }
  }
  Scheme four = s;
  four.bits = 4;
  QTensor q4;
  ASSERT_TRUE(quantize(x.data(), {n, k}, four, q4).ok());
  EXPECT_FALSE(packInt8Panels(q4, p).ok());
}

// The GPU "mma-b" layout, read back the way the kernel reads it: lane
// 4 g + t, word ni, nibbles p and p + 4 of pair p = 2 ks + j hold channel
// 32 nb + 8 ni + g at inputs 32 kb + 16 ks + 8 j + 2 t and + 1; channels
// beyond N (40 -> 64) are code 0.
TEST(Numerics, PackInt4MmaB) {
  const int64_t n = 40, k = 64;
  std::vector<float> x(n * k);
  for (int64_t i = 0; i < n * k; ++i)
    x[i] = std::sin(0.37f * float(i)) * float(1 + i % 9);
  Scheme s;
  s.bits = 4;
  s.blockSizes = {1, 32};
  QTensor q;
  ASSERT_TRUE(quantize(x.data(), {n, k}, s, q).ok());
  std::vector<uint8_t> p;
  ASSERT_TRUE(packInt4MmaB(q, p).ok());
  ASSERT_EQ(p.size(), size_t(2 * 2 * 512));
  auto code = [&](int64_t c, int64_t kk) -> int {
    if (c >= n)
      return 0;
    uint8_t byte = q.codes[size_t(c * (k / 2) + kk / 2)];
    return kk % 2 ? byte >> 4 : byte & 15;
  };
  for (int64_t nb = 0; nb < 2; ++nb)
    for (int64_t kb = 0; kb < 2; ++kb)
      for (int64_t lane = 0; lane < 32; ++lane)
        for (int64_t ni = 0; ni < 4; ++ni) {
          const uint8_t *w =
              &p[size_t((nb * 2 + kb) * 512 + 16 * lane + 4 * ni)];
          uint32_t word = w[0] | w[1] << 8 | w[2] << 16 | uint32_t(w[3]) << 24;
          int64_t g = lane / 4, t = lane % 4, c = 32 * nb + 8 * ni + g;
          for (int64_t pair = 0; pair < 4; ++pair) {
            int64_t ks = pair / 2, j = pair % 2;
            int64_t k0 = 32 * kb + 16 * ks + 8 * j + 2 * t;
            EXPECT_EQ(int((word >> (4 * pair)) & 15), code(c, k0))
                << c << "," << k0;
            EXPECT_EQ(int((word >> (4 * (pair + 4))) & 15), code(c, k0 + 1))
                << c << "," << k0 + 1;
          }
        }
  Scheme eight;
  eight.blockSizes = {1, 32};
  QTensor q8;
  ASSERT_TRUE(quantize(x.data(), {n, k}, eight, q8).ok());
  EXPECT_FALSE(packInt4MmaB(q8, p).ok());
  // E2M1 (MXFP4) codes pack the same way.
  Scheme mx;
  mx.kind = ElementKind::MiniFloat;
  mx.minifloat = ElementType::F4E2M1FN;
  mx.scale = ScaleType::E8M0;
  mx.blockSizes = {1, 32};
  QTensor qm;
  ASSERT_TRUE(quantize(x.data(), {n, k}, mx, qm).ok());
  std::vector<uint8_t> pm;
  ASSERT_TRUE(packInt4MmaB(qm, pm).ok());
  EXPECT_EQ(pm.size(), p.size());
}
