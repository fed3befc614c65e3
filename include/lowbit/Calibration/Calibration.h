//===- Calibration.h - activation statistics for the passes -----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Calibration runs a function on calibration inputs through the CPU path
// (the reference lowering, JIT-compiled) with every contraction site's
// activations recorded (lowbit-instrument-calibration), and keeps per-site
// statistics: per input channel absmax, min, max and mean |x|, a histogram
// of |x| for percentile and MSE clipping, and optionally the Gram matrix
// X^T X that GPTQ needs. They are written to a directory that the passes
// read (docs/Passes.md, "Sites and statistics").
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CALIBRATION_CALIBRATION_H
#define LOWBIT_CALIBRATION_CALIBRATION_H

#include "lowbit/Numerics/Numerics.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace lowbit::calibration {

struct Options {
  /// Histogram bins of |x| per site.
  int64_t bins = 2048;
  /// Accumulate X^T X per site (channels^2 floats each).
  bool gram = false;
  /// Keep the first `samples` activation rows per site (AWQ's search
  /// data); 0 keeps none.
  int64_t samples = 0;
};

/// The statistics of one site: activations seen as `tokens` rows of
/// `channels` values (all leading dimensions flattened).
struct SiteStats {
  std::string name;
  int64_t channels = 0;
  int64_t tokens = 0;
  std::vector<float> absmax, min, max;
  std::vector<double> sumAbs;
  /// |x| histogram: bins of width histRange / bins over [0, histRange);
  /// histRange is a power of two that doubles (merging bin pairs) when a
  /// larger value arrives.
  std::vector<double> hist;
  float histRange = 0.0f;
  /// channels x channels, row-major, with Options::gram.
  std::vector<float> gram;
  /// The first Options::samples activation rows, [sampleRows][channels].
  std::vector<float> samples;
  int64_t sampleRows = 0;
  /// Values that were NaN or infinite (never folded into the statistics).
  int64_t nonFinite = 0;
  /// Sum over record calls of each call's tensor-wide min and max (for
  /// AVERAGE_MIN_MAX) and the number of calls.
  double batchMinSum = 0, batchMaxSum = 0;
  int64_t batches = 0;
};

/// How a static activation range is chosen from the statistics (the
/// TFLite/StableHLO quantizer's calibration methods).
enum class RangeMethod {
  MinMax,     ///< min and max over all calibration data
  AvgMinMax,  ///< averages of each call's min and max
  Percentile, ///< |x| at `percentile` of the |x| histogram, symmetric
  MSE,        ///< the clip minimising the b-bit quantization MSE
};

/// The static range [lo, hi] of a site's activations (per tensor). For
/// Percentile and MSE the range is symmetric (-c, c); MSE assumes a
/// symmetric `bits`-bit integer quantizer with 2^(bits-1) - 1 levels.
numerics::Status activationRange(const SiteStats &s, RangeMethod method,
                                 double percentile, unsigned bits, float &lo,
                                 float &hi);

class Recorder {
public:
  Recorder(std::vector<std::string> siteNames, Options options);
  /// Adds `tokens` x `channels` values of site `site`.
  numerics::Status record(int64_t site, const float *data, int64_t tokens,
                          int64_t channels);
  const std::vector<SiteStats> &sites() const { return stats; }

private:
  Options options;
  std::vector<SiteStats> stats;
};

/// Writes DIR/index.json and DIR/<site>.{absmax,min,max,meanabs,hist,
/// gram}.npy (each atomically; DIR is created).
numerics::Status writeStatistics(const std::string &dir,
                                 const std::vector<SiteStats> &stats);

/// Reads what writeStatistics wrote (gram and samples loaded only if
/// `withGram`).
numerics::Status readStatistics(const std::string &dir,
                                std::vector<SiteStats> &out, bool withGram);

/// File-name-safe form of a site name.
std::string siteFileName(const std::string &name);

/// Instruments `module` (consumed), JIT-compiles it through the reference
/// lowering, and calls `entry` once per element of `inputs` (the arrays of
/// one call, in argument order), recording into a Recorder whose results
/// are returned in `out`. `progress` is called after each call.
numerics::Status
run(mlir::ModuleOp module, const std::string &entry,
    const std::vector<std::vector<std::vector<float>>> &inputs,
    const Options &options, std::vector<SiteStats> &out,
    const std::function<void(size_t done, size_t total)> &progress = {});

} // namespace lowbit::calibration

#endif // LOWBIT_CALIBRATION_CALIBRATION_H
