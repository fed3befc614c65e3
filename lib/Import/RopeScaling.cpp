//===- RopeScaling.cpp - RoPE frequencies for long contexts ---------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The per-pair RoPE frequencies of a decoder with its rope scaling applied
// (Architecture.h, RopeScaling), in double precision: linear position
// interpolation, Llama 3's frequency-dependent scaling, YaRN's ramp (with
// its attention factor) as Hugging Face's transformers define them, and
// llama.cpp's per-frequency factors (GGUF `rope_freqs.weight`); and the
// readers of the scaling from GGUF keys and config.json (MetadataKeys.h).
//
//===----------------------------------------------------------------------===//

#include "MetadataKeys.h"

#include "llvm/ADT/STLExtras.h"

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
    double width = high - low;
    if (s.ggmlRamp)
      width = std::max(width, 0.001);
    else if (width == 0)
      width = 0.001;
    for (int64_t i = 0; i < half; ++i) {
      double ramp = std::clamp((double(i) - low) / width, 0.0, 1.0);
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
    return s.attentionFactor * s.magnitude;
  if (s.mscale != 0 && s.mscaleAllDim != 0)
    return yarnMscale(s.factor, s.mscale) /
           yarnMscale(s.factor, s.mscaleAllDim) * s.magnitude;
  return yarnMscale(s.factor, 1.0) * s.magnitude;
}

//===----------------------------------------------------------------------===//
// Reading the scaling from metadata
//===----------------------------------------------------------------------===//

/// config.json's `rope_scaling` (or `rope_parameters`): types default,
/// linear, llama3 and yarn; any other type, or a key the type does not
/// define, is an error naming it.
bool mlir::lowbit::importer::readConfigRopeScaling(ConfigKeys &keys,
                                                   HyperParameters &c) {
  const char *key = keys.has("rope_scaling")      ? "rope_scaling"
                    : keys.has("rope_parameters") ? "rope_parameters"
                                                  : nullptr;
  if (!key)
    return true;
  const llvm::json::Object *r = keys.o.getObject(key);
  if (!r)
    return keys.fail(std::string(key) + " is not an object");
  std::optional<StringRef> type = r->getString("rope_type");
  if (!type)
    type = r->getString("type");
  if (!type)
    return keys.fail(std::string(key) + " has no rope_type");
  static const std::pair<StringRef, std::vector<StringRef>> kKeys[] = {
      {"default", {}},
      {"linear", {"factor"}},
      {"llama3",
       {"factor", "low_freq_factor", "high_freq_factor",
        "original_max_position_embeddings"}},
      {"yarn",
       {"factor", "original_max_position_embeddings", "beta_fast", "beta_slow",
        "attention_factor", "mscale", "mscale_all_dim", "truncate"}},
  };
  const std::vector<StringRef> *known = nullptr;
  for (const auto &[name, names] : kKeys)
    if (name == *type)
      known = &names;
  if (!known)
    return keys.fail(std::string(key) + " rope_type '" + type->str() +
                     "' is not supported (default, linear, llama3, yarn)");
  for (const auto &kv : *r) {
    StringRef k = kv.first;
    if (k == "rope_type" || k == "type" || k == "rope_theta" ||
        llvm::is_contained(*known, k))
      continue;
    return keys.fail(std::string(key) + " key '" + k.str() +
                     "' is not understood for rope_type '" + type->str() + "'");
  }
  if (std::optional<double> theta = r->getNumber("rope_theta"))
    c.ropeTheta = *theta;
  RopeScaling &s = c.ropeScaling;
  auto number = [&](StringRef name, double &out, bool required) {
    const llvm::json::Value *v = r->get(name);
    if (!v || v->kind() == llvm::json::Value::Null)
      return !required ||
             keys.fail(std::string(key) + " needs '" + name.str() + "'");
    std::optional<double> x = v->getAsNumber();
    if (!x || !std::isfinite(*x) || *x <= 0 || *x > 1e9)
      return keys.fail(std::string(key) + " '" + name.str() +
                       "' must be a positive number");
    out = *x;
    return true;
  };
  double original = 0;
  if (*type == "default")
    return true;
  if (!number("factor", s.factor, true) ||
      !number("original_max_position_embeddings", original, *type == "llama3"))
    return false;
  s.originalContext = int64_t(original);
  if (*type == "linear") {
    s.kind = RopeScaling::Kind::Linear;
  } else if (*type == "llama3") {
    s.kind = RopeScaling::Kind::Llama3;
    if (!number("low_freq_factor", s.lowFreqFactor, true) ||
        !number("high_freq_factor", s.highFreqFactor, true))
      return false;
    if (s.highFreqFactor <= s.lowFreqFactor)
      return keys.fail(std::string(key) +
                       " high_freq_factor must exceed low_freq_factor");
  } else {
    s.kind = RopeScaling::Kind::YaRN;
    if (!number("beta_fast", s.betaFast, false) ||
        !number("beta_slow", s.betaSlow, false) ||
        !number("attention_factor", s.attentionFactor, false) ||
        !number("mscale", s.mscale, false) ||
        !number("mscale_all_dim", s.mscaleAllDim, false))
      return false;
    if (const llvm::json::Value *t = r->get("truncate")) {
      std::optional<bool> b = t->getAsBoolean();
      if (!b)
        return keys.fail(std::string(key) + " 'truncate' must be a boolean");
      s.truncate = *b;
    }
  }
  return true;
}

/// The per-frequency factors of the tensor `rope_freqs.weight` (Llama 3
/// as llama.cpp's converter stores it), when the file has it.
static bool readRopeFreqs(GGUFKeys &keys, HyperParameters &c) {
  RopeScaling &s = c.ropeScaling;
  const Weight *w = keys.src.find("rope_freqs.weight");
  if (!w)
    return true;
  const int64_t half = c.headDim / 2;
  auto bad = [&](const std::string &what) {
    keys.error = keys.src.path + ": tensor 'rope_freqs.weight' " + what;
    return false;
  };
  if (w->kind != Weight::Kind::F32 || w->shape.size() != 1 ||
      w->shape[0] != half)
    return bad("must be f32 of " + std::to_string(half) +
               " elements (half the head size)");
  s.freqFactors.resize(size_t(half));
  std::memcpy(s.freqFactors.data(), w->data, size_t(half) * 4);
  for (float f : s.freqFactors)
    if (!std::isfinite(f) || f <= 0)
      return bad("holds " + number(f) + ": factors must be positive");
  return true;
}

/// GGUF's RoPE scaling as llama.cpp reads it: `rope.scaling.type` (linear
/// when absent) with `rope.scaling.factor` (or the older
/// `rope.scale_linear`); for yarn also `rope.scaling.original_context_length`,
/// `yarn_beta_fast` / `yarn_beta_slow`, `yarn_log_multiplier` and
/// `attn_factor`; and the per-frequency factors of the tensor
/// `rope_freqs.weight`. Other types, and keys that would change the result
/// in a way not implemented, are errors naming the key.
bool mlir::lowbit::importer::readGGUFRopeScaling(GGUFKeys &keys,
                                                 HyperParameters &c) {
  RopeScaling &s = c.ropeScaling;
  std::string type = "linear";
  if (const gg::Value *v = keys.find("rope.scaling.type")) {
    if (v->type != gg::ValueType::String)
      return keys.fail("rope.scaling.type", "is not a string");
    type = v->s;
  }
  double factor = keys.number("rope.scaling.factor").value_or(0);
  const char *factorKey = "rope.scaling.factor";
  if (factor == 0) {
    factor = keys.number("rope.scale_linear").value_or(0);
    factorKey = "rope.scale_linear";
  }
  if (!std::isfinite(factor) || factor < 0 || factor > 1e9)
    return keys.fail(factorKey, number(factor) + " is not a scaling factor");
  const bool scaled = factor != 0 && factor != 1;
  // A positive, finite number key (when present) into `out`.
  auto positive = [&](const char *key, double &out) {
    std::optional<double> v = keys.number(key);
    if (!v)
      return true;
    if (!std::isfinite(*v) || *v <= 0 || *v > 1e9)
      return keys.fail(key, number(*v) + " must be a positive number");
    out = *v;
    return true;
  };
  // llama.cpp's ext_factor: the weight of the extrapolated frequencies in
  // YaRN's ramp (1 for yarn, 0 otherwise); other weights are not
  // implemented.
  const double ext = type == "yarn" ? 1 : 0;
  if (std::optional<double> v = keys.number("rope.scaling.yarn_ext_factor"))
    if (*v >= 0 && *v != ext)
      return keys.fail("rope.scaling.yarn_ext_factor",
                       number(*v) + ": a YaRN ramp weight other than " +
                           number(ext) + " (for rope.scaling.type '" + type +
                           "') is not supported");
  if (type == "yarn") {
    s.kind = RopeScaling::Kind::YaRN;
    s.factor = scaled ? factor : 1;
    s.ggmlRamp = true;
    int64_t original = 0;
    if (!keys.integer("rope.scaling.original_context_length", original, false))
      return false;
    if (original < 0)
      return keys.fail("rope.scaling.original_context_length",
                       "must not be negative");
    s.originalContext = original;
    double logMultiplier = 0, attnFactor = 1;
    if (!positive("rope.scaling.yarn_beta_fast", s.betaFast) ||
        !positive("rope.scaling.yarn_beta_slow", s.betaSlow) ||
        !positive("rope.scaling.attn_factor", attnFactor))
      return false;
    if (std::optional<double> v =
            keys.number("rope.scaling.yarn_log_multiplier")) {
      if (!std::isfinite(*v) || *v < 0 || *v > 1e9)
        return keys.fail("rope.scaling.yarn_log_multiplier",
                         number(*v) + " is not a multiplier");
      logMultiplier = *v;
    }
    // llama.cpp: cos and sin times get_mscale(factor, 1) /
    // get_mscale(factor, log multiplier) (or get_mscale(factor) without
    // one), times rope.scaling.attn_factor; rope.scaling.yarn_attn_factor
    // is replaced by that and changes nothing.
    s.mscale = logMultiplier != 0 ? 1 : 0;
    s.mscaleAllDim = logMultiplier;
    s.attentionFactor = -1;
    s.magnitude = attnFactor;
    return readRopeFreqs(keys, c);
  }
  if (type == "linear") {
    if (scaled) {
      s.kind = RopeScaling::Kind::Linear;
      s.factor = factor;
    }
  } else if (type != "none") {
    return keys.fail("rope.scaling.type",
                     "'" + type +
                         "': RoPE scaling of this type is not supported "
                         "(linear, yarn, or Llama 3's rope_freqs.weight)");
  } else if (scaled) {
    return keys.fail(factorKey, number(factor) +
                                    " with rope.scaling.type 'none': a "
                                    "scaling factor without a type");
  }
  // Without YaRN these scale cos and sin in llama.cpp; not implemented.
  for (const char *key :
       {"rope.scaling.attn_factor", "rope.scaling.yarn_attn_factor"})
    if (std::optional<double> v = keys.number(key))
      if (*v != 1)
        return keys.fail(key, number(*v) +
                                  ": a RoPE attention factor is supported "
                                  "with rope.scaling.type 'yarn' only");
  return readRopeFreqs(keys, c);
}
