//===- lowbit-quantize.cpp - quantize .npy arrays with lowbit's numerics --===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//   lowbit-quantize --format NAME [--group-size G] [--asymmetric]
//                   --roundtrip IN.npy -o OUT.npy
//   lowbit-quantize --format NAME [--group-size G] [--asymmetric]
//                   IN.npy -o OUT.bin
//
// Quantization runs along the last axis. OUT.bin is the packed encoding of
// docs/Numerics.md ("lowbit-quantize output"): codes, then scales, zero
// points and tensor scale where the format has them; for GGUF formats
// exactly llama.cpp's block structs, row after row. Outputs are written to
// a temporary file and renamed, so a failure never leaves a partial file.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Npy.h"
#include "lowbit/Numerics/Numerics.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace lowbit::numerics;

namespace {

const char *kUsage =
    "usage: lowbit-quantize --format NAME [--group-size G] [--asymmetric]\n"
    "                       --roundtrip IN.npy -o OUT.npy\n"
    "       lowbit-quantize --format NAME [--group-size G] [--asymmetric]\n"
    "                       IN.npy -o OUT.bin\n"
    "       lowbit-quantize --list-formats\n";

int usageError(const std::string &msg) {
  std::fprintf(stderr, "lowbit-quantize: error: %s\n%s", msg.c_str(), kUsage);
  return 2;
}

int error(const std::string &msg) {
  std::fprintf(stderr, "lowbit-quantize: error: %s\n", msg.c_str());
  return 1;
}

void printHelp() {
  std::printf(
      "%s\nQuantizes a float32/float16 .npy array (any rank >= 1, "
      "C or Fortran order)\nalong its last axis.\n\n"
      "  --roundtrip     write dequantize(quantize(x)) as float32 "
      ".npy of the input shape\n"
      "  (default)       write the packed encoding: codes, scales, "
      "zero points (int32),\n"
      "                  tensor scale (f32), little-endian; GGUF "
      "formats: llama.cpp block structs\n"
      "  --group-size G  int8/int4/ternary: elements per scale along "
      "the last axis (0 = per row)\n"
      "  --asymmetric    int8/int4: unsigned codes with a zero point\n\n"
      "formats:\n",
      kUsage);
  for (const std::string &n : formatNames())
    std::printf("  %-12s %s\n", n.c_str(), describeFormat(n).c_str());
}

} // namespace

int main(int argc, char **argv) {
  std::string format, input, output;
  bool roundtrip = false, asymmetric = false, haveFormat = false;
  bool noSaturate = false;
  bool haveGroupSize = false, haveOutput = false;
  int64_t groupSize = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char *opt, std::string &dst) -> bool {
      std::string prefix = std::string(opt) + "=";
      if (a.compare(0, prefix.size(), prefix) == 0) {
        dst = a.substr(prefix.size());
        return true;
      }
      if (a != opt)
        return false;
      if (i + 1 >= argc) {
        dst = "\x01"; // marks a missing value
        return true;
      }
      dst = argv[++i];
      return true;
    };
    std::string v;
    // Each option at most once: a second value is a mistake, not an
    // override.
    auto once = [&](const char *opt, bool &seen) -> bool {
      if (seen) {
        usageError(std::string(opt) + " given more than once");
        return false;
      }
      seen = true;
      return true;
    };
    if (a == "-h" || a == "--help") {
      printHelp();
      return 0;
    }
    if (a == "--list-formats") {
      for (const std::string &n : formatNames())
        std::printf("%s\n", n.c_str());
      return 0;
    }
    if (a == "--roundtrip") {
      if (!once("--roundtrip", roundtrip))
        return 2;
    } else if (a == "--no-saturate") {
      if (!once("--no-saturate", noSaturate))
        return 2;
    } else if (a == "--asymmetric") {
      if (!once("--asymmetric", asymmetric))
        return 2;
    } else if (value("--format", v)) {
      if (!once("--format", haveFormat))
        return 2;
      if (v == "\x01")
        return usageError("--format needs a value");
      format = v;
    } else if (value("--group-size", v)) {
      if (!once("--group-size", haveGroupSize))
        return 2;
      char *end = nullptr;
      errno = 0;
      long long g = v == "\x01" ? -1 : std::strtoll(v.c_str(), &end, 10);
      if (v == "\x01" || v.empty() || *end || errno == ERANGE || g < 0)
        return usageError("--group-size needs a non-negative integer");
      groupSize = g;
    } else if (value("-o", v)) {
      if (!once("-o", haveOutput))
        return 2;
      if (v == "\x01")
        return usageError("-o needs a file name");
      output = v;
    } else if (a.size() > 1 && a[0] == '-') {
      return usageError("unknown option '" + a + "'");
    } else if (input.empty()) {
      input = a;
    } else {
      return usageError("more than one input file ('" + input + "', '" + a +
                        "')");
    }
  }
  if (!haveFormat)
    return usageError("--format NAME is required (--list-formats lists them)");
  Status known = checkFormatName(format);
  if (!known.ok())
    return usageError(known.message());
  if (input.empty())
    return usageError("no input .npy file");
  if (output.empty())
    return usageError("no output file (-o)");

  std::vector<int64_t> shape;
  std::vector<float> data;
  Status st = readNpyFloat(input, shape, data);
  if (!st.ok())
    return error(st.message());
  if (shape.empty())
    return error(input + ": a 0-d array has no last axis to quantize along");

  FormatOptions opts;
  opts.groupSize = groupSize;
  opts.asymmetric = asymmetric;
  opts.noSaturate = noSaturate;
  Scheme scheme;
  st = schemeForFormat(format, shape, opts, scheme);
  if (!st.ok())
    return error(input + ": " + st.message());

  QTensor q;
  st = quantize(data.data(), shape, scheme, q, /*strict=*/true);
  if (!st.ok())
    return error(input + ": " + format + ": " + st.message());

  if (roundtrip) {
    st = dequantize(q, data.data());
    if (st.ok())
      st = writeNpyFloat32(output, shape, data.data());
  } else {
    std::vector<std::pair<const void *, size_t>> parts{
        {q.codes.data(), q.codes.size()}};
    if (!q.scales.empty())
      parts.push_back({q.scales.data(), q.scales.size()});
    if (!q.zeroPoints.empty())
      parts.push_back({q.zeroPoints.data(), q.zeroPoints.size() * 4});
    if (scheme.tensorScale)
      parts.push_back({&q.tensorScale, sizeof(float)});
    st = writeFileAtomic(output, parts);
  }
  if (!st.ok())
    return error(st.message());
  return 0;
}
