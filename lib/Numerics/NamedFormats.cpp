//===- NamedFormats.cpp - the formats known by name -----------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The registry of named formats that lowbit-quantize and the Python
// package offer (f8e4m3fn, mxfp4, nvfp4, int4, q4_k, ...): their names and
// descriptions, and the scheme each name means for an array of a given
// shape and options (group size, asymmetric, no saturation).
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Numerics.h"

#include <string>
#include <vector>

namespace lowbit::numerics {

namespace {

/// One named format and its one-line description.
struct NamedFormat {
  const char *name;
  const char *help;
};
/// Every named format, in the order --list-formats shows them.
const NamedFormat kFormats[] = {
    {"f8e4m3fn", "FP8 E4M3 element cast (RNE, saturating), no scale"},
    {"f8e5m2", "FP8 E5M2 element cast (RNE, saturating), no scale"},
    {"f6e2m3fn", "FP6 E2M3 element cast, no scale"},
    {"f6e3m2fn", "FP6 E3M2 element cast, no scale"},
    {"f4e2m1fn", "FP4 E2M1 element cast, no scale"},
    {"mxfp8_e4m3", "OCP MX: 32 x E4M3 + E8M0 scale"},
    {"mxfp8_e5m2", "OCP MX: 32 x E5M2 + E8M0 scale"},
    {"mxfp6_e2m3", "OCP MX: 32 x E2M3 + E8M0 scale"},
    {"mxfp6_e3m2", "OCP MX: 32 x E3M2 + E8M0 scale"},
    {"mxfp4", "OCP MX: 32 x E2M1 + E8M0 scale (RNE)"},
    {"mxint8", "OCP MX: 32 x int8 (2^-6 units) + E8M0 scale"},
    {"nvfp4", "NVFP4: 16 x E2M1 + E4M3 scale + f32 tensor scale"},
    {"int8", "8-bit integer, f32 scale per row or --group-size"},
    {"int4", "4-bit integer, f32 scale per row or --group-size"},
    {"ternary", "BitNet b1.58 {-1,0,1}, absmean f32 scale per row or group"},
    {"q4_0", "GGUF Q4_0 (llama.cpp block_q4_0, 32 per block)"},
    {"q4_1", "GGUF Q4_1 (block_q4_1, 32 per block)"},
    {"q5_0", "GGUF Q5_0 (block_q5_0, 32 per block)"},
    {"q5_1", "GGUF Q5_1 (block_q5_1, 32 per block)"},
    {"q8_0", "GGUF Q8_0 (block_q8_0, 32 per block)"},
    {"q2_k", "GGUF Q2_K (block_q2_K, 256 per block)"},
    {"q3_k", "GGUF Q3_K (block_q3_K, 256 per block)"},
    {"q4_k", "GGUF Q4_K (block_q4_K, 256 per block)"},
    {"q5_k", "GGUF Q5_K (block_q5_K, 256 per block)"},
    {"q6_k", "GGUF Q6_K (block_q6_K, 256 per block)"},
    {"gguf_mxfp4", "GGUF MXFP4 (block_mxfp4: log2f exponent, ties toward 0)"},
    {"iq4_nl", "GGUF IQ4_NL (block_iq4_nl, 32 per block, non-linear)"},
    {"iq4_xs", "GGUF IQ4_XS (block_iq4_xs, 256 per block, non-linear)"},
    {"tq1_0", "GGUF TQ1_0 (block_tq1_0, 256 ternary per block, 1.69 bpw)"},
    {"tq2_0", "GGUF TQ2_0 (block_tq2_0, 256 ternary per block, 2.06 bpw)"},
};

} // namespace

const std::vector<std::string> &formatNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const NamedFormat &f : kFormats)
      v.push_back(f.name);
    return v;
  }();
  return names;
}

std::string describeFormat(const std::string &name) {
  for (const NamedFormat &f : kFormats)
    if (name == f.name)
      return f.help;
  return "";
}

Status checkFormatName(const std::string &name) {
  if (!describeFormat(name).empty())
    return Status::success();
  std::string all;
  for (const std::string &n : formatNames())
    all += (all.empty() ? "" : " ") + n;
  return Status::error("unknown format '" + name + "' (known: " + all + ")");
}

Status schemeForFormat(const std::string &name,
                       const std::vector<int64_t> &shape,
                       const FormatOptions &options, Scheme &out) {
  Status known = checkFormatName(name);
  if (!known.ok())
    return known;
  const bool grouped = name == "int8" || name == "int4" || name == "ternary";
  const bool asymOk = name == "int8" || name == "int4";
  if (options.groupSize != 0 && !grouped)
    return Status::error("--group-size applies to int8, int4 and ternary, "
                         "not " +
                         name);
  if (options.groupSize < 0)
    return Status::error("--group-size must be >= 0");
  if (options.asymmetric && !asymOk)
    return Status::error("--asymmetric applies to int8 and int4, not " + name);
  if (options.noSaturate && name != "f8e4m3fn" && name != "f8e5m2")
    return Status::error("--no-saturate applies to f8e4m3fn and f8e5m2, not " +
                         name);
  if (shape.empty())
    return Status::error("format " + name + " needs an array of rank >= 1");
  Scheme s;
  const int64_t cols = shape.back();
  auto lastAxisBlocks = [&](int64_t block) {
    s.blockSizes.assign(shape.size(), 1);
    s.blockSizes.back() = block;
  };
  auto blockCheck = [&](int64_t block) -> Status {
    if (cols % block)
      return Status::error("last axis has " + std::to_string(cols) +
                           " elements, not a multiple of the " + name +
                           " block (" + std::to_string(block) + ")");
    return Status::success();
  };
  static const struct {
    const char *name;
    ElementType type;
  } kElems[] = {{"f8e4m3fn", ElementType::F8E4M3FN},
                {"f8e5m2", ElementType::F8E5M2},
                {"f6e2m3fn", ElementType::F6E2M3FN},
                {"f6e3m2fn", ElementType::F6E3M2FN},
                {"f4e2m1fn", ElementType::F4E2M1FN},
                {"mxfp8_e4m3", ElementType::F8E4M3FN},
                {"mxfp8_e5m2", ElementType::F8E5M2},
                {"mxfp6_e2m3", ElementType::F6E2M3FN},
                {"mxfp6_e3m2", ElementType::F6E3M2FN},
                {"mxfp4", ElementType::F4E2M1FN}};
  for (size_t i = 0; i < sizeof(kElems) / sizeof(kElems[0]); ++i) {
    if (name != kElems[i].name)
      continue;
    s.kind = ElementKind::MiniFloat;
    s.minifloat = kElems[i].type;
    if (i < 5) {
      s.scale = ScaleType::None;
      s.saturate = !options.noSaturate;
    } else {
      s.scale = ScaleType::E8M0;
      Status st = blockCheck(32);
      if (!st.ok())
        return st;
      lastAxisBlocks(32);
    }
    out = s;
    return Status::success();
  }
  if (name == "mxint8") {
    s.kind = ElementKind::Int;
    s.bits = 8;
    s.scale = ScaleType::E8M0;
    Status st = blockCheck(32);
    if (!st.ok())
      return st;
    lastAxisBlocks(32);
  } else if (name == "nvfp4") {
    s.kind = ElementKind::MiniFloat;
    s.minifloat = ElementType::F4E2M1FN;
    s.scale = ScaleType::E4M3;
    s.tensorScale = true;
    Status st = blockCheck(16);
    if (!st.ok())
      return st;
    lastAxisBlocks(16);
  } else if (grouped) {
    s.kind = name == "ternary" ? ElementKind::Ternary : ElementKind::Int;
    s.bits = name == "int8" ? 8 : (name == "int4" ? 4 : 2);
    s.symmetric = !options.asymmetric;
    s.isSigned = !options.asymmetric;
    int64_t g = options.groupSize ? options.groupSize : (cols ? cols : 1);
    Status st = blockCheck(g);
    if (!st.ok())
      return st;
    lastAxisBlocks(g);
  } else {
    s.kind = ElementKind::GGUF;
    for (GGUFKind k :
         {GGUFKind::Q4_0, GGUFKind::Q4_1, GGUFKind::Q5_0, GGUFKind::Q5_1,
          GGUFKind::Q8_0, GGUFKind::Q2_K, GGUFKind::Q3_K, GGUFKind::Q4_K,
          GGUFKind::Q5_K, GGUFKind::Q6_K, GGUFKind::MXFP4, GGUFKind::IQ4_NL,
          GGUFKind::IQ4_XS, GGUFKind::TQ1_0, GGUFKind::TQ2_0})
      if (name == ggufName(k))
        s.gguf = k;
    s.scale = ScaleType::None;
    Status st = blockCheck(ggufBlockSize(s.gguf));
    if (!st.ok())
      return st;
  }
  out = s;
  return Status::success();
}

} // namespace lowbit::numerics
