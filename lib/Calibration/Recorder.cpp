//===- Recorder.cpp - per-site activation statistics ----------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lowbit/Calibration/Calibration.h"
#include "lowbit/Numerics/Algorithms.h"
#include "lowbit/Numerics/Npy.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>

using namespace lowbit;
using namespace lowbit::calibration;
using numerics::Status;

std::string calibration::siteFileName(const std::string &name) {
  std::string out;
  for (char c : name)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
            c == '_' || c == '-')
               ? c
               : '_';
  return out.empty() ? "_" : out;
}

Recorder::Recorder(std::vector<std::string> siteNames, Options options)
    : options(options) {
  for (std::string &n : siteNames) {
    SiteStats s;
    s.name = std::move(n);
    stats.push_back(std::move(s));
  }
}

Status Recorder::record(int64_t site, const float *data, int64_t tokens,
                        int64_t channels) {
  if (site < 0 || site >= int64_t(stats.size()))
    return Status::error("activation of unknown site " + std::to_string(site));
  SiteStats &s = stats[size_t(site)];
  if (s.channels == 0) {
    s.channels = channels;
    s.absmax.assign(size_t(channels), 0.0f);
    s.min.assign(size_t(channels), INFINITY);
    s.max.assign(size_t(channels), -INFINITY);
    s.sumAbs.assign(size_t(channels), 0.0);
    s.hist.assign(size_t(options.bins), 0.0);
    if (options.gram)
      s.gram.assign(size_t(channels * channels), 0.0f);
  } else if (s.channels != channels) {
    return Status::error("site '" + s.name + "' saw " +
                         std::to_string(channels) + " channels after " +
                         std::to_string(s.channels));
  }
  // Grow the histogram range (doubling, merging bin pairs) to cover the
  // largest finite |x| of this batch.
  float amax = 0.0f;
  for (int64_t i = 0; i < tokens * channels; ++i)
    if (std::isfinite(data[i]))
      amax = std::fmax(amax, std::fabs(data[i]));
  if (amax > 0.0f && s.histRange == 0.0f)
    s.histRange = std::ldexp(1.0f, std::ilogb(amax) + 1);
  while (s.histRange > 0.0f && amax >= s.histRange) {
    const size_t n = s.hist.size();
    for (size_t k = 0; k < n / 2; ++k)
      s.hist[k] = s.hist[2 * k] + s.hist[2 * k + 1];
    std::fill(s.hist.begin() + n / 2, s.hist.end(), 0.0);
    s.histRange *= 2.0f;
  }
  const double binScale =
      s.histRange > 0.0f ? double(options.bins) / s.histRange : 0.0;
  std::vector<float> clean;
  if (options.gram)
    clean.resize(size_t(tokens * channels));
  for (int64_t t = 0; t < tokens; ++t) {
    const float *row = data + t * channels;
    for (int64_t c = 0; c < channels; ++c) {
      const float v = row[c];
      if (!std::isfinite(v)) {
        ++s.nonFinite;
        if (options.gram)
          clean[size_t(t * channels + c)] = 0.0f;
        continue;
      }
      const float a = std::fabs(v);
      s.absmax[size_t(c)] = std::fmax(s.absmax[size_t(c)], a);
      s.min[size_t(c)] = std::fmin(s.min[size_t(c)], v);
      s.max[size_t(c)] = std::fmax(s.max[size_t(c)], v);
      s.sumAbs[size_t(c)] += a;
      if (binScale > 0.0) {
        int64_t bin = int64_t(double(a) * binScale);
        s.hist[size_t(std::min<int64_t>(bin, options.bins - 1))] += 1.0;
      } else {
        s.hist[0] += 1.0;
      }
      if (options.gram)
        clean[size_t(t * channels + c)] = v;
    }
  }
  if (options.gram)
    numerics::accumulateGram(clean.data(), tokens, channels, s.gram.data());
  // Samples as the other statistics see them: non-finite values are 0.
  for (int64_t t = 0; t < tokens && s.sampleRows < options.samples; ++t) {
    for (int64_t c = 0; c < channels; ++c) {
      const float v = data[t * channels + c];
      s.samples.push_back(std::isfinite(v) ? v : 0.0f);
    }
    ++s.sampleRows;
  }
  s.tokens += tokens;
  float lo = INFINITY, hi = -INFINITY;
  for (int64_t i = 0; i < tokens * channels; ++i)
    if (std::isfinite(data[i])) {
      lo = std::fmin(lo, data[i]);
      hi = std::fmax(hi, data[i]);
    }
  if (lo <= hi) {
    s.batchMinSum += lo;
    s.batchMaxSum += hi;
    ++s.batches;
  }
  return Status::success();
}

Status calibration::writeStatistics(const std::string &dir,
                                    const std::vector<SiteStats> &stats) {
  if (std::error_code ec = llvm::sys::fs::create_directories(dir))
    return Status::error(dir + ": cannot create directory: " + ec.message());
  llvm::json::Array sites;
  auto toFloat = [](const std::vector<double> &v) {
    return std::vector<float>(v.begin(), v.end());
  };
  for (const SiteStats &s : stats) {
    const std::string base = dir + "/" + siteFileName(s.name);
    llvm::json::Object entry{{"name", s.name},
                             {"file", siteFileName(s.name)},
                             {"channels", s.channels},
                             {"tokens", s.tokens},
                             {"non_finite", s.nonFinite},
                             {"batch_min_sum", s.batchMinSum},
                             {"batch_max_sum", s.batchMaxSum},
                             {"batches", s.batches},
                             {"hist_range", double(s.histRange)},
                             {"gram", !s.gram.empty()},
                             {"samples", s.sampleRows}};
    sites.push_back(std::move(entry));
    if (s.channels == 0)
      continue; // never executed
    const std::vector<int64_t> c{s.channels};
    std::vector<float> meanAbs(size_t(s.channels));
    for (int64_t i = 0; i < s.channels; ++i)
      meanAbs[size_t(i)] = float(s.sumAbs[size_t(i)] / double(s.tokens));
    std::vector<float> hist = toFloat(s.hist);
    for (auto [suffix, data, shape] :
         {std::tuple{".absmax.npy", s.absmax.data(), c},
          std::tuple{".min.npy", s.min.data(), c},
          std::tuple{".max.npy", s.max.data(), c},
          std::tuple{".meanabs.npy", static_cast<const float *>(meanAbs.data()),
                     c},
          std::tuple{".hist.npy", static_cast<const float *>(hist.data()),
                     std::vector<int64_t>{int64_t(hist.size())}}}) {
      Status st = numerics::writeNpyFloat32(base + suffix, shape, data);
      if (!st.ok())
        return st;
    }
    if (!s.gram.empty()) {
      Status st = numerics::writeNpyFloat32(
          base + ".gram.npy", {s.channels, s.channels}, s.gram.data());
      if (!st.ok())
        return st;
    }
    if (s.sampleRows) {
      Status st = numerics::writeNpyFloat32(
          base + ".samples.npy", {s.sampleRows, s.channels}, s.samples.data());
      if (!st.ok())
        return st;
    }
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::formatv("{0:2}", llvm::json::Value(llvm::json::Object{
                                   {"format", "lowbit-calibration-1"},
                                   {"sites", std::move(sites)}}))
     << "\n";
  return numerics::writeFileAtomic(dir + "/index.json",
                                   {{text.data(), text.size()}});
}

Status calibration::readStatistics(const std::string &dir,
                                   std::vector<SiteStats> &out, bool withGram) {
  auto buf = llvm::MemoryBuffer::getFile(dir + "/index.json");
  if (!buf)
    return Status::error(dir + "/index.json: " + buf.getError().message());
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buf)->getBuffer());
  if (!json)
    return Status::error(dir +
                         "/index.json: " + llvm::toString(json.takeError()));
  const llvm::json::Object *root = json->getAsObject();
  const llvm::json::Array *sites = root ? root->getArray("sites") : nullptr;
  if (!sites || root->getString("format") != "lowbit-calibration-1")
    return Status::error(dir + "/index.json: not a lowbit calibration index");
  out.clear();
  for (const llvm::json::Value &v : *sites) {
    const llvm::json::Object *o = v.getAsObject();
    if (!o || !o->getString("name") || !o->getString("file") ||
        !o->getInteger("channels") || !o->getInteger("tokens"))
      return Status::error(dir + "/index.json: malformed site entry");
    SiteStats s;
    s.name = o->getString("name")->str();
    s.channels = *o->getInteger("channels");
    s.tokens = *o->getInteger("tokens");
    s.nonFinite = o->getInteger("non_finite").value_or(0);
    s.batchMinSum = o->getNumber("batch_min_sum").value_or(0.0);
    s.batchMaxSum = o->getNumber("batch_max_sum").value_or(0.0);
    s.batches = o->getInteger("batches").value_or(0);
    s.histRange = float(o->getNumber("hist_range").value_or(0.0));
    if (s.channels > 0) {
      const std::string base = dir + "/" + o->getString("file")->str();
      std::vector<int64_t> shape;
      std::vector<float> meanAbs, hist;
      for (auto [suffix, dst] :
           {std::pair{".absmax.npy", &s.absmax}, std::pair{".min.npy", &s.min},
            std::pair{".max.npy", &s.max}, std::pair{".meanabs.npy", &meanAbs},
            std::pair{".hist.npy", &hist}}) {
        Status st = numerics::readNpyFloat(base + suffix, shape, *dst);
        if (!st.ok())
          return st;
        if (std::string(suffix) != ".hist.npy" &&
            (shape.size() != 1 || shape[0] != s.channels))
          return Status::error(base + suffix + ": expected " +
                               std::to_string(s.channels) + " channels");
      }
      s.sumAbs.resize(meanAbs.size());
      for (size_t i = 0; i < meanAbs.size(); ++i)
        s.sumAbs[i] = double(meanAbs[i]) * double(s.tokens);
      s.hist.assign(hist.begin(), hist.end());
      s.sampleRows = o->getInteger("samples").value_or(0);
      if (withGram && s.sampleRows > 0) {
        Status st =
            numerics::readNpyFloat(base + ".samples.npy", shape, s.samples);
        if (!st.ok())
          return st;
        if (shape != std::vector<int64_t>{s.sampleRows, s.channels})
          return Status::error(base + ".samples.npy: expected " +
                               std::to_string(s.sampleRows) + " x " +
                               std::to_string(s.channels));
      }
      if (withGram && o->getBoolean("gram").value_or(false)) {
        Status st = numerics::readNpyFloat(base + ".gram.npy", shape, s.gram);
        if (!st.ok())
          return st;
        if (shape != std::vector<int64_t>{s.channels, s.channels})
          return Status::error(base + ".gram.npy: expected " +
                               std::to_string(s.channels) + " x " +
                               std::to_string(s.channels));
      }
    }
    out.push_back(std::move(s));
  }
  return Status::success();
}

Status calibration::activationRange(const SiteStats &s, RangeMethod method,
                                    double percentile, unsigned bits, float &lo,
                                    float &hi) {
  if (s.channels == 0 || s.tokens == 0)
    return Status::error("site '" + s.name + "' has no statistics");
  switch (method) {
  case RangeMethod::MinMax:
    lo = *std::min_element(s.min.begin(), s.min.end());
    hi = *std::max_element(s.max.begin(), s.max.end());
    return Status::success();
  case RangeMethod::AvgMinMax:
    if (s.batches == 0)
      return Status::error("site '" + s.name + "' has no per-call ranges");
    lo = float(s.batchMinSum / double(s.batches));
    hi = float(s.batchMaxSum / double(s.batches));
    return Status::success();
  case RangeMethod::Percentile:
  case RangeMethod::MSE:
    break;
  }
  const size_t bins = s.hist.size();
  double total = 0;
  for (double c : s.hist)
    total += c;
  if (bins == 0 || total == 0 || s.histRange <= 0.0f) {
    lo = hi = 0.0f; // all zero: any scale works
    return Status::success();
  }
  const double width = double(s.histRange) / double(bins);
  float c = s.histRange;
  if (method == RangeMethod::Percentile) {
    if (!(percentile > 0.0 && percentile <= 100.0))
      return Status::error("percentile must be in (0, 100]");
    double want = total * percentile / 100.0, acc = 0;
    for (size_t i = 0; i < bins; ++i) {
      acc += s.hist[i];
      if (acc >= want) {
        c = float(double(i + 1) * width);
        break;
      }
    }
  } else {
    // Expected squared error of a symmetric b-bit quantizer with clip c
    // over the histogram (bin centres), for every bin edge as candidate.
    const double qmax = double((1 << (bits - 1)) - 1);
    double best = INFINITY;
    for (size_t e = 1; e <= bins; ++e) {
      const double clip = double(e) * width, step = clip / qmax;
      double err = 0;
      for (size_t i = 0; i < bins; ++i) {
        if (s.hist[i] == 0)
          continue;
        const double x = (double(i) + 0.5) * width;
        const double q = std::min(std::nearbyint(x / step), qmax) * step;
        err += s.hist[i] * (x - q) * (x - q);
      }
      if (err < best) {
        best = err;
        c = float(clip);
      }
    }
  }
  lo = -c;
  hi = c;
  return Status::success();
}
