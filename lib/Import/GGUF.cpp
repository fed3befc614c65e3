//===- GGUF.cpp - reading GGUF model files --------------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// See GGUF.h. Every read goes through Cursor, which checks the remaining
// bytes first; counts are checked against what the remaining bytes could
// hold before anything is reserved.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Import/GGUF.h"

#include "lowbit/Import/MappedFile.h"

#include <cstring>
#include <unordered_set>

namespace lowbit::gguf {

using numerics::Status;

const char *valueTypeName(ValueType t) {
  switch (t) {
  case ValueType::UInt8:
    return "u8";
  case ValueType::Int8:
    return "i8";
  case ValueType::UInt16:
    return "u16";
  case ValueType::Int16:
    return "i16";
  case ValueType::UInt32:
    return "u32";
  case ValueType::Int32:
    return "i32";
  case ValueType::Float32:
    return "f32";
  case ValueType::Bool:
    return "bool";
  case ValueType::String:
    return "str";
  case ValueType::Array:
    return "arr";
  case ValueType::UInt64:
    return "u64";
  case ValueType::Int64:
    return "i64";
  case ValueType::Float64:
    return "f64";
  }
  return "?";
}

bool ggmlTypeInfo(uint32_t type, const char **name, int64_t *blockElems,
                  int64_t *blockBytes) {
  // ggml.h's ggml_type and ggml-common.h's block structs.
  struct Info {
    uint32_t type;
    const char *name;
    int64_t elems, bytes;
  };
  static const Info infos[] = {
      {0, "f32", 1, 4},       {1, "f16", 1, 2},         {2, "q4_0", 32, 18},
      {3, "q4_1", 32, 20},    {6, "q5_0", 32, 22},      {7, "q5_1", 32, 24},
      {8, "q8_0", 32, 34},    {9, "q8_1", 32, 36},      {10, "q2_K", 256, 84},
      {11, "q3_K", 256, 110}, {12, "q4_K", 256, 144},   {13, "q5_K", 256, 176},
      {14, "q6_K", 256, 210}, {15, "q8_K", 256, 292},   {24, "i8", 1, 1},
      {25, "i16", 1, 2},      {26, "i32", 1, 4},        {27, "i64", 1, 8},
      {28, "f64", 1, 8},      {30, "bf16", 1, 2},       {39, "mxfp4", 32, 17},
      {20, "iq4_nl", 32, 18}, {23, "iq4_xs", 256, 136}, {34, "tq1_0", 256, 54},
      {35, "tq2_0", 256, 66},
  };
  for (const Info &i : infos)
    if (i.type == type) {
      if (name)
        *name = i.name;
      if (blockElems)
        *blockElems = i.elems;
      if (blockBytes)
        *blockBytes = i.bytes;
      return true;
    }
  return false;
}

const Value *File::find(const std::string &key) const {
  for (const auto &kv : metadata)
    if (kv.first == key)
      return &kv.second;
  return nullptr;
}

namespace {

/// Reads little-endian values from [data, data + size) with bounds checks;
/// the first failure sticks (its message names the offset).
struct Cursor {
  const uint8_t *data;
  uint64_t size, pos = 0;
  std::string error;

  bool fail(const std::string &what) {
    if (error.empty())
      error = "at byte " + std::to_string(pos) + ": " + what;
    return false;
  }
  uint64_t remaining() const { return size - pos; }
  bool bytes(void *out, uint64_t n, const char *what) {
    if (!error.empty())
      return false;
    if (n > remaining())
      return fail(std::string("truncated file (") + what + ": " +
                  std::to_string(n) + " bytes, " + std::to_string(remaining()) +
                  " left)");
    std::memcpy(out, data + pos, n);
    pos += n;
    return true;
  }
  template <typename T> bool get(T &v, const char *what) {
    return bytes(&v, sizeof(T), what);
  }
  bool string(std::string &s, const char *what) {
    uint64_t n;
    if (!get(n, what))
      return false;
    if (n > remaining())
      return fail(std::string(what) + " of " + std::to_string(n) +
                  " bytes, only " + std::to_string(remaining()) + " left");
    s.assign(reinterpret_cast<const char *>(data + pos), n);
    pos += n;
    return true;
  }
};

/// Bytes one element of `t` takes at least (for bounding array counts).
uint64_t minBytes(ValueType t) {
  switch (t) {
  case ValueType::UInt8:
  case ValueType::Int8:
  case ValueType::Bool:
    return 1;
  case ValueType::UInt16:
  case ValueType::Int16:
    return 2;
  case ValueType::UInt32:
  case ValueType::Int32:
  case ValueType::Float32:
    return 4;
  case ValueType::String: // its length
  case ValueType::UInt64:
  case ValueType::Int64:
  case ValueType::Float64:
    return 8;
  case ValueType::Array: // its type and count
    return 12;
  }
  return 1;
}

bool readValue(Cursor &c, ValueType t, Value &v, int depth) {
  v.type = t;
  switch (t) {
  case ValueType::UInt8: {
    uint8_t x;
    if (!c.get(x, "u8"))
      return false;
    v.u = x;
    return true;
  }
  case ValueType::Int8: {
    int8_t x;
    if (!c.get(x, "i8"))
      return false;
    v.i = x;
    return true;
  }
  case ValueType::UInt16: {
    uint16_t x;
    if (!c.get(x, "u16"))
      return false;
    v.u = x;
    return true;
  }
  case ValueType::Int16: {
    int16_t x;
    if (!c.get(x, "i16"))
      return false;
    v.i = x;
    return true;
  }
  case ValueType::UInt32: {
    uint32_t x;
    if (!c.get(x, "u32"))
      return false;
    v.u = x;
    return true;
  }
  case ValueType::Int32: {
    int32_t x;
    if (!c.get(x, "i32"))
      return false;
    v.i = x;
    return true;
  }
  case ValueType::Float32: {
    float x;
    if (!c.get(x, "f32"))
      return false;
    v.f = x;
    return true;
  }
  case ValueType::Bool: {
    uint8_t x;
    if (!c.get(x, "bool"))
      return false;
    if (x > 1)
      return c.fail("bool value " + std::to_string(x) + " is neither 0 nor 1");
    v.u = x;
    return true;
  }
  case ValueType::String:
    return c.string(v.s, "string");
  case ValueType::UInt64:
    return c.get(v.u, "u64");
  case ValueType::Int64:
    return c.get(v.i, "i64");
  case ValueType::Float64:
    return c.get(v.f, "f64");
  case ValueType::Array: {
    uint32_t et;
    uint64_t n;
    if (!c.get(et, "array type") || !c.get(n, "array length"))
      return false;
    if (et > uint32_t(ValueType::Float64))
      return c.fail("unknown array element type " + std::to_string(et));
    v.elemType = ValueType(et);
    if (v.elemType == ValueType::Array && depth >= 2)
      return c.fail("arrays nested deeper than 2");
    if (n > c.remaining() / minBytes(v.elemType))
      return c.fail("array of " + std::to_string(n) + " " +
                    valueTypeName(v.elemType) + " cannot fit in the " +
                    std::to_string(c.remaining()) + " bytes left");
    v.array.resize(n);
    for (Value &e : v.array)
      if (!readValue(c, v.elemType, e, depth + 1))
        return false;
    return true;
  }
  }
  return c.fail("unknown value type " + std::to_string(uint32_t(t)));
}

} // namespace

Status parse(const uint8_t *data, uint64_t size, File &out) {
  out = File();
  out.fileSize = size;
  Cursor c{data, size, 0, {}};
  auto error = [&]() { return Status::error("GGUF " + c.error); };
  char magic[4];
  if (!c.bytes(magic, 4, "magic"))
    return error();
  if (std::memcmp(magic, "GGUF", 4) != 0) {
    c.pos = 0;
    c.fail("not a GGUF file (magic is not \"GGUF\")");
    return error();
  }
  if (!c.get(out.version, "version"))
    return error();
  if (out.version != 2 && out.version != 3) {
    c.fail("unsupported GGUF version " + std::to_string(out.version) +
           " (2 and 3 are)");
    return error();
  }
  uint64_t nTensors, nKV;
  if (!c.get(nTensors, "tensor count") || !c.get(nKV, "metadata count"))
    return error();
  // A key/value takes at least 12 bytes (key length, type); a tensor info
  // at least 8 + 4 + 4 + 8 (name length, n_dims, type, offset).
  if (nKV > c.remaining() / 12) {
    c.fail(std::to_string(nKV) + " metadata entries cannot fit in the file");
    return error();
  }
  out.metadata.reserve(nKV);
  for (uint64_t i = 0; i < nKV; ++i) {
    std::string key;
    uint32_t type;
    if (!c.string(key, "metadata key") || !c.get(type, "value type"))
      return error();
    if (type > uint32_t(ValueType::Float64)) {
      c.fail("metadata '" + key + "' has unknown value type " +
             std::to_string(type));
      return error();
    }
    Value v;
    if (!readValue(c, ValueType(type), v, 0))
      return error();
    out.metadata.emplace_back(std::move(key), std::move(v));
  }
  if (const Value *a = out.find("general.alignment")) {
    if (a->type != ValueType::UInt32 || a->u == 0 || (a->u & (a->u - 1))) {
      c.fail("general.alignment must be a power of two u32");
      return error();
    }
    out.alignment = a->u;
  }
  if (nTensors > c.remaining() / 24) {
    c.fail(std::to_string(nTensors) + " tensors cannot fit in the file");
    return error();
  }
  out.tensors.reserve(nTensors);
  std::unordered_set<std::string> names; // duplicate check, O(n)
  for (uint64_t i = 0; i < nTensors; ++i) {
    TensorInfo t;
    uint32_t nDims;
    if (!c.string(t.name, "tensor name") || !c.get(nDims, "n_dims"))
      return error();
    if (nDims == 0 || nDims > 4) {
      c.fail("tensor '" + t.name + "' has " + std::to_string(nDims) +
             " dimensions (1 to 4)");
      return error();
    }
    uint64_t elems = 1;
    for (uint32_t d = 0; d < nDims; ++d) {
      uint64_t dim;
      if (!c.get(dim, "dimension"))
        return error();
      if (dim == 0 || dim > (uint64_t(1) << 40) ||
          elems > (uint64_t(1) << 62) / dim) {
        c.fail("tensor '" + t.name + "' has an invalid dimension " +
               std::to_string(dim));
        return error();
      }
      elems *= dim;
      t.dims.push_back(int64_t(dim));
    }
    if (!c.get(t.type, "tensor type") || !c.get(t.offset, "tensor offset"))
      return error();
    const char *typeName;
    int64_t blockElems, blockBytes;
    if (!ggmlTypeInfo(t.type, &typeName, &blockElems, &blockBytes)) {
      c.fail("tensor '" + t.name + "' has unsupported type " +
             std::to_string(t.type));
      return error();
    }
    if (t.dims[0] % blockElems) {
      c.fail("tensor '" + t.name + "': row of " + std::to_string(t.dims[0]) +
             " elements is not whole " + typeName + " blocks of " +
             std::to_string(blockElems));
      return error();
    }
    t.bytes = elems / uint64_t(blockElems) * uint64_t(blockBytes);
    if (t.offset % out.alignment) {
      c.fail("tensor '" + t.name + "' offset " + std::to_string(t.offset) +
             " is not a multiple of the alignment " +
             std::to_string(out.alignment));
      return error();
    }
    if (!names.insert(t.name).second) {
      c.fail("duplicate tensor name '" + t.name + "'");
      return error();
    }
    out.tensors.push_back(std::move(t));
  }
  out.dataOffset = (c.pos + out.alignment - 1) / out.alignment * out.alignment;
  uint64_t dataSize = size >= out.dataOffset ? size - out.dataOffset : 0;
  if (size < out.dataOffset && !out.tensors.empty()) {
    c.fail("the data section starts at " + std::to_string(out.dataOffset) +
           ", past the end of the file");
    return error();
  }
  for (const TensorInfo &t : out.tensors)
    if (t.offset > dataSize || t.bytes > dataSize - t.offset) {
      c.pos = out.dataOffset;
      c.fail("tensor '" + t.name + "' (" + std::to_string(t.bytes) +
             " bytes at data offset " + std::to_string(t.offset) +
             ") extends past the end of the file (data section of " +
             std::to_string(dataSize) + " bytes)");
      return error();
    }
  return Status::success();
}

Status read(const std::string &path, File &out) {
  return import::mapAndParse(path, out,
                             [](const uint8_t *data, uint64_t size, File &f) {
                               return parse(data, size, f);
                             });
}

} // namespace lowbit::gguf
