// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===- lowbit-inspect.cpp - what a model file holds
//------------------------===//
//
//   lowbit-inspect model.gguf | model.safetensors
//
// GGUF: the header, every metadata key/value (long arrays abbreviated) and
// every tensor (type, dims in ggml order, offset, bytes). safetensors: the
// header size, __metadata__ and every tensor (dtype, shape, byte range).
// The format is the extension's (.gguf, .safetensors), else the magic's.
// A malformed file is an error naming the byte offset (exit 1), never a
// crash.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Import/GGUF.h"
#include "lowbit/Import/Safetensors.h"

#include <cstring>
#include <fstream>

#include <cstdio>
#include <string>

using namespace lowbit;
using gguf::ValueType;

/// Printable: bytes outside ASCII 32..126 (and quotes, backslashes) escaped.
static std::string escape(const std::string &s, size_t limit = 200) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < limit; ++i) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += char(ch);
    } else if (ch < 32 || ch > 126) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", ch);
      out += buf;
    } else {
      out += char(ch);
    }
  }
  return s.size() > limit ? out + "..." : out;
}

static std::string show(const gguf::Value &v) {
  switch (v.type) {
  case ValueType::UInt8:
  case ValueType::UInt16:
  case ValueType::UInt32:
  case ValueType::UInt64:
    return std::to_string(v.u);
  case ValueType::Int8:
  case ValueType::Int16:
  case ValueType::Int32:
  case ValueType::Int64:
    return std::to_string(v.i);
  case ValueType::Float32:
  case ValueType::Float64: {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v.f);
    return buf;
  }
  case ValueType::Bool:
    return v.u ? "true" : "false";
  case ValueType::String:
    return "\"" + escape(v.s, 60) + "\"";
  case ValueType::Array: {
    std::string s = std::to_string(v.array.size()) + " [";
    for (size_t i = 0; i < v.array.size() && i < 4; ++i)
      s += (i ? ", " : "") + show(v.array[i]);
    return s + (v.array.size() > 4 ? ", ...]" : "]");
  }
  }
  return "?";
}

static int fail(const numerics::Status &st) {
  // Names in the message come from the file: escaped.
  std::fprintf(stderr, "lowbit-inspect: error: %s\n",
               escape(st.message(), 1000).c_str());
  return 1;
}

static int inspectGGUF(const char *path) {
  gguf::File f;
  if (numerics::Status st = gguf::read(path, f); !st.ok())
    return fail(st);
  std::printf("GGUF v%u, %zu metadata, %zu tensors, alignment %llu, data at "
              "%llu of %llu bytes\n",
              f.version, f.metadata.size(), f.tensors.size(),
              (unsigned long long)f.alignment, (unsigned long long)f.dataOffset,
              (unsigned long long)f.fileSize);
  for (const auto &[key, v] : f.metadata) {
    std::string type = gguf::valueTypeName(v.type);
    if (v.type == ValueType::Array)
      type += std::string("[") + gguf::valueTypeName(v.elemType) + "]";
    std::printf("%s = %s %s\n", escape(key).c_str(), type.c_str(),
                show(v).c_str());
  }
  for (const gguf::TensorInfo &t : f.tensors) {
    const char *name = "?";
    gguf::ggmlTypeInfo(t.type, &name, nullptr, nullptr);
    std::string dims;
    for (size_t d = 0; d < t.dims.size(); ++d)
      dims += (d ? ", " : "") + std::to_string(t.dims[d]);
    std::printf("tensor %s %s [%s] offset %llu bytes %llu\n",
                escape(t.name).c_str(), name, dims.c_str(),
                (unsigned long long)t.offset, (unsigned long long)t.bytes);
  }
  return 0;
}

static int inspectSafetensors(const char *path) {
  safetensors::File f;
  if (numerics::Status st = safetensors::read(path, f); !st.ok())
    return fail(st);
  std::printf("safetensors, header %llu bytes, %zu metadata, %zu tensors, "
              "data at %llu of %llu bytes\n",
              (unsigned long long)f.headerSize, f.metadata.size(),
              f.tensors.size(), (unsigned long long)f.dataOffset,
              (unsigned long long)f.fileSize);
  for (const auto &[key, value] : f.metadata)
    std::printf("%s = \"%s\"\n", escape(key).c_str(),
                escape(value, 60).c_str());
  for (const safetensors::TensorInfo &t : f.tensors) {
    std::string dims;
    for (size_t d = 0; d < t.shape.size(); ++d)
      dims += (d ? ", " : "") + std::to_string(t.shape[d]);
    std::printf("tensor %s %s [%s] bytes %llu..%llu\n", escape(t.name).c_str(),
                safetensors::dtypeName(t.dtype), dims.c_str(),
                (unsigned long long)t.begin, (unsigned long long)t.end);
  }
  return 0;
}

static bool endsWith(const std::string &s, const char *suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr,
                 "usage: lowbit-inspect FILE.gguf | FILE.safetensors\n");
    return 2;
  }
  std::string path = argv[1];
  if (endsWith(path, ".gguf"))
    return inspectGGUF(argv[1]);
  if (endsWith(path, ".safetensors"))
    return inspectSafetensors(argv[1]);
  char magic[4] = {};
  std::ifstream in(path, std::ios::binary);
  in.read(magic, 4);
  if (in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0)
    return inspectGGUF(argv[1]);
  return inspectSafetensors(argv[1]);
}
