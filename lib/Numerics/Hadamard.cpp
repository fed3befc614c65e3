//===- Hadamard.cpp - Hadamard matrices and rotations ---------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Hadamard matrices of order n = K * 2^m: a Paley matrix of order K (Paley
// I for primes q = 3 mod 4, order q + 1; Paley II for primes q = 1 mod 4,
// order 2 (q + 1)) or Sylvester's doubling, Kronecker with Sylvester's
// H_{2^m}. The rotation R = H D / sqrt(n) (D a diagonal of seeded random
// signs) is orthogonal, so y = x W = (x R)(R^T W) (QuaRot / QuIP#).
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Algorithms.h"

#include <cmath>
#include <random>

namespace lowbit::numerics {

namespace {

/// Quadratic character mod prime q: 0, 1 (residue) or -1.
int chi(int64_t a, int64_t q) {
  a = ((a % q) + q) % q;
  if (a == 0)
    return 0;
  int64_t r = 1, base = a, e = (q - 1) / 2;
  while (e) {
    if (e & 1)
      r = r * base % q;
    base = base * base % q;
    e >>= 1;
  }
  return r == 1 ? 1 : -1;
}

bool isPrime(int64_t q) {
  if (q < 2)
    return false;
  for (int64_t d = 2; d * d <= q; ++d)
    if (q % d == 0)
      return false;
  return true;
}

/// A Hadamard matrix of small order k (no power-of-two factor handled by
/// the caller), row-major, or empty.
std::vector<int8_t> baseHadamard(int64_t k) {
  if (k == 1)
    return {1};
  // Paley I: q = k - 1 prime, q = 3 mod 4. H = I + S, S = [[0, 1], [-1, Q]].
  if (isPrime(k - 1) && (k - 1) % 4 == 3) {
    const int64_t q = k - 1;
    std::vector<int8_t> h(size_t(k * k));
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j) {
        int s;
        if (i == 0 && j == 0)
          s = 0;
        else if (i == 0)
          s = 1;
        else if (j == 0)
          s = -1;
        else
          s = chi(j - i, q);
        h[size_t(i * k + j)] = int8_t((i == j ? 1 : 0) + s);
      }
    return h;
  }
  // Paley II: k = 2 (q + 1), q prime, q = 1 mod 4. S = [[0, 1], [1, Q]]
  // symmetric; 0 -> [[1, -1], [-1, -1]], +-1 -> +-[[1, 1], [1, -1]].
  if (k % 2 == 0 && isPrime(k / 2 - 1) && (k / 2 - 1) % 4 == 1) {
    const int64_t q = k / 2 - 1, m = q + 1;
    std::vector<int8_t> h(size_t(k * k));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < m; ++j) {
        int s;
        if (i == 0 && j == 0)
          s = 0;
        else if (i == 0 || j == 0)
          s = 1;
        else
          s = chi(j - i, q);
        const int blk[2][2] = {{s == 0 ? 1 : s, s == 0 ? -1 : s},
                               {s == 0 ? -1 : s, s == 0 ? -1 : -s}};
        for (int a = 0; a < 2; ++a)
          for (int b = 0; b < 2; ++b)
            h[size_t((2 * i + a) * k + 2 * j + b)] = int8_t(blk[a][b]);
      }
    return h;
  }
  return {};
}

} // namespace

std::vector<int8_t> hadamardMatrix(int64_t n) {
  if (n < 1)
    return {};
  // n = k * 2^m with the largest base order k we can build.
  std::vector<int8_t> best;
  int64_t bestK = 0;
  for (int64_t p = 1; p <= n && n % p == 0; p *= 2) {
    const int64_t k = n / p;
    std::vector<int8_t> base = baseHadamard(k);
    if (base.empty())
      continue;
    best = std::move(base);
    bestK = k;
    break; // the largest k (smallest power of two) that has a matrix
  }
  if (!bestK)
    return {};
  // Kronecker with Sylvester: H_{2k} = [[H, H], [H, -H]].
  for (int64_t k = bestK; k < n; k *= 2) {
    std::vector<int8_t> next(size_t(4 * k * k));
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j) {
        int8_t v = best[size_t(i * k + j)];
        next[size_t(i * 2 * k + j)] = v;
        next[size_t(i * 2 * k + j + k)] = v;
        next[size_t((i + k) * 2 * k + j)] = v;
        next[size_t((i + k) * 2 * k + j + k)] = int8_t(-v);
      }
    best = std::move(next);
  }
  return best;
}

std::vector<float> hadamardRotation(int64_t n, uint64_t seed) {
  std::vector<int8_t> h = hadamardMatrix(n);
  if (h.empty())
    return {};
  std::mt19937_64 rng(seed);
  std::vector<float> signs(static_cast<size_t>(n));
  for (float &s : signs)
    s = (rng() & 1) ? -1.0f : 1.0f;
  const float inv = 1.0f / std::sqrt(float(n));
  std::vector<float> r(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      r[size_t(i * n + j)] =
          float(h[size_t(i * n + j)]) * signs[size_t(j)] * inv;
  return r;
}

} // namespace lowbit::numerics
