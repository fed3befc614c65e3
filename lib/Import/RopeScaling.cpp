//===- RopeScaling.cpp - RoPE frequencies for long contexts ---------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The per-pair RoPE frequencies of a decoder with its rope scaling applied
// (Architecture.h, RopeScaling), in double precision: linear position
// interpolation, Llama 3's frequency-dependent scaling, YaRN's ramp (with
// its attention factor) as Hugging Face's transformers define them, and
// llama.cpp's per-frequency factors (GGUF `rope_freqs.weight`).
//
//===----------------------------------------------------------------------===//

#include "lowbit/Import/Architecture.h"

#include <algorithm>
#include <cmath>

using namespace mlir::lowbit::importer;

namespace {
constexpr double kPi = 3.14159265358979323846;

/// YaRN's magnitude correction for a context `scale` times longer.
double yarnMscale(double scale, double mscale) {
  return scale <= 1 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

/// The (fractional) pair index whose wavelength fits `rotations` times in
/// `context` tokens.
double yarnCorrectionDim(double rotations, int64_t dim, double base,
                         int64_t context) {
  return double(dim) * std::log(double(context) / (rotations * 2 * kPi)) /
         (2 * std::log(base));
}
} // namespace

std::vector<double>
mlir::lowbit::importer::ropeFrequencies(const HyperParameters &hp) {
  const int64_t hd = hp.headDim, half = hd / 2;
  const RopeScaling &s = hp.ropeScaling;
  const int64_t original =
      s.originalContext > 0 ? s.originalContext : hp.contextLength;
  std::vector<double> f(size_t(std::max<int64_t>(half, 0)));
  for (int64_t i = 0; i < half; ++i)
    f[size_t(i)] = std::pow(hp.ropeTheta, -2.0 * double(i) / double(hd));
  switch (s.kind) {
  case RopeScaling::Kind::None:
    break;
  case RopeScaling::Kind::Linear:
    for (double &x : f)
      x /= s.factor;
    break;
  case RopeScaling::Kind::Llama3: {
    const double lowWavelength = double(original) / s.lowFreqFactor;
    const double highWavelength = double(original) / s.highFreqFactor;
    for (double &x : f) {
      double wavelength = 2 * kPi / x;
      if (wavelength < highWavelength)
        continue; // high frequency: kept
      if (wavelength > lowWavelength) {
        x /= s.factor; // low frequency: interpolated
        continue;
      }
      double smooth = (double(original) / wavelength - s.lowFreqFactor) /
                      (s.highFreqFactor - s.lowFreqFactor);
      x = (1 - smooth) * x / s.factor + smooth * x;
    }
    break;
  }
  case RopeScaling::Kind::YaRN: {
    double low = yarnCorrectionDim(s.betaFast, hd, hp.ropeTheta, original);
    double high = yarnCorrectionDim(s.betaSlow, hd, hp.ropeTheta, original);
    if (s.truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, double(hd - 1));
    if (low == high)
      high += 0.001;
    for (int64_t i = 0; i < half; ++i) {
      double ramp = std::clamp((double(i) - low) / (high - low), 0.0, 1.0);
      double extrapolated = 1 - ramp;
      double &x = f[size_t(i)];
      x = x / s.factor * (1 - extrapolated) + x * extrapolated;
    }
    break;
  }
  }
  if (!s.freqFactors.empty())
    for (int64_t i = 0; i < half; ++i)
      f[size_t(i)] /= double(s.freqFactors[size_t(i)]);
  return f;
}

double mlir::lowbit::importer::ropeAttentionFactor(const HyperParameters &hp) {
  const RopeScaling &s = hp.ropeScaling;
  if (s.kind != RopeScaling::Kind::YaRN)
    return 1.0;
  if (s.attentionFactor >= 0)
    return s.attentionFactor;
  if (s.mscale != 0 && s.mscaleAllDim != 0)
    return yarnMscale(s.factor, s.mscale) /
           yarnMscale(s.factor, s.mscaleAllDim);
  return yarnMscale(s.factor, 1.0);
}
