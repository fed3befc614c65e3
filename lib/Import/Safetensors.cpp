//===- Safetensors.cpp - reading safetensors model files ------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// See Safetensors.h. The JSON header is parsed in one pass against the
// schema (no document tree): memory stays proportional to what is kept,
// and unknown fields are skipped with bounded nesting.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Import/Safetensors.h"
#include "lowbit/Import/MappedFile.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>

namespace lowbit::safetensors {

using numerics::Status;

namespace {
struct DTypeEntry {
  DType type;
  const char *name;
  unsigned bits;
};
constexpr DTypeEntry kDTypes[] = {
    {DType::Bool, "BOOL", 8},      {DType::F4, "F4", 4},
    {DType::F6E2M3, "F6_E2M3", 6}, {DType::F6E3M2, "F6_E3M2", 6},
    {DType::U8, "U8", 8},          {DType::I8, "I8", 8},
    {DType::F8E5M2, "F8_E5M2", 8}, {DType::F8E4M3, "F8_E4M3", 8},
    {DType::F8E8M0, "F8_E8M0", 8}, {DType::I16, "I16", 16},
    {DType::U16, "U16", 16},       {DType::F16, "F16", 16},
    {DType::BF16, "BF16", 16},     {DType::I32, "I32", 32},
    {DType::U32, "U32", 32},       {DType::F32, "F32", 32},
    {DType::C64, "C64", 64},       {DType::F64, "F64", 64},
    {DType::I64, "I64", 64},       {DType::U64, "U64", 64},
};
} // namespace

const char *dtypeName(DType t) {
  for (const DTypeEntry &e : kDTypes)
    if (e.type == t)
      return e.name;
  return "?";
}

unsigned dtypeBits(DType t) {
  for (const DTypeEntry &e : kDTypes)
    if (e.type == t)
      return e.bits;
  return 0;
}

int64_t TensorInfo::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

const TensorInfo *File::find(const std::string &name) const {
  for (const TensorInfo &t : tensors)
    if (t.name == name)
      return &t;
  return nullptr;
}

namespace {

/// A strict JSON reader over the header bytes, checking each token as it
/// goes; the first error sticks and names the file offset.
struct Json {
  const char *text;
  uint64_t size, pos = 0;
  uint64_t base; // file offset of text[0]
  std::string error;

  static constexpr int kMaxDepth = 32;
  /// Dimensions a shape may have (memory stays proportional to the
  /// header: no 50-million-entry shape).
  static constexpr size_t kMaxRank = 16;

  bool fail(const std::string &what) {
    if (error.empty())
      error = "at byte " + std::to_string(base + pos) + ": " + what;
    return false;
  }
  void space() {
    while (pos < size && (text[pos] == ' ' || text[pos] == '\t' ||
                          text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }
  bool atEnd() {
    space();
    return pos >= size;
  }
  /// Consumes `c` after whitespace.
  bool expect(char c) {
    space();
    if (pos >= size)
      return fail(std::string("header ends where '") + c + "' is expected");
    if (text[pos] != c)
      return fail(std::string("expected '") + c + "'");
    ++pos;
    return true;
  }
  /// Consumes `c` if it is next (after whitespace).
  bool accept(char c) {
    space();
    if (pos < size && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  static void appendUtf8(std::string &out, uint32_t cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }
  bool hex4(uint32_t &v) {
    if (size - pos < 4)
      return fail("truncated \\u escape");
    v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text[pos++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= uint32_t(c - 'A' + 10);
      else
        return fail("bad \\u escape");
    }
    return true;
  }
  /// A string (the header is already known to be valid UTF-8).
  bool string(std::string &out) {
    if (!expect('"'))
      return false;
    out.clear();
    while (true) {
      if (pos >= size)
        return fail("unterminated string");
      unsigned char c = (unsigned char)text[pos];
      if (c == '"') {
        ++pos;
        return true;
      }
      if (c < 0x20)
        return fail("control character in a string");
      if (c != '\\') {
        out += char(c);
        ++pos;
        continue;
      }
      if (++pos >= size)
        return fail("unterminated string");
      char e = text[pos++];
      switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t cp = 0;
        if (!hex4(cp))
          return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
          return fail("unpaired low surrogate in a \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t lo = 0;
          if (size - pos < 2 || text[pos] != '\\' || text[pos + 1] != 'u')
            return fail("unpaired high surrogate in a \\u escape");
          pos += 2;
          if (!hex4(lo))
            return false;
          if (lo < 0xDC00 || lo > 0xDFFF)
            return fail("unpaired high surrogate in a \\u escape");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        return fail("bad escape in a string");
      }
    }
  }
  /// A number per the JSON grammar; `isUInt` when it is a plain
  /// non-negative integer below 2^63 (then `value` holds it).
  bool number(bool &isUInt, uint64_t &value) {
    space();
    uint64_t start = pos;
    isUInt = true;
    value = 0;
    bool overflow = false;
    if (pos < size && text[pos] == '-') {
      isUInt = false;
      ++pos;
    }
    if (pos >= size || text[pos] < '0' || text[pos] > '9')
      return fail("expected a number");
    if (text[pos] == '0' && pos + 1 < size && text[pos + 1] >= '0' &&
        text[pos + 1] <= '9')
      return fail("number with a leading zero");
    while (pos < size && text[pos] >= '0' && text[pos] <= '9') {
      unsigned d = unsigned(text[pos++] - '0');
      if (value > (uint64_t(INT64_MAX) - d) / 10)
        overflow = true;
      else
        value = value * 10 + d;
    }
    if (pos < size && text[pos] == '.') {
      isUInt = false;
      ++pos;
      if (pos >= size || text[pos] < '0' || text[pos] > '9')
        return fail("expected a digit after '.'");
      while (pos < size && text[pos] >= '0' && text[pos] <= '9')
        ++pos;
    }
    if (pos < size && (text[pos] == 'e' || text[pos] == 'E')) {
      isUInt = false;
      ++pos;
      if (pos < size && (text[pos] == '+' || text[pos] == '-'))
        ++pos;
      if (pos >= size || text[pos] < '0' || text[pos] > '9')
        return fail("expected a digit in an exponent");
      while (pos < size && text[pos] >= '0' && text[pos] <= '9')
        ++pos;
    }
    if (isUInt && overflow) {
      pos = start;
      return fail("integer too large");
    }
    return true;
  }
  bool literal(const char *word) {
    size_t n = std::strlen(word);
    if (size - pos < n || std::memcmp(text + pos, word, n) != 0)
      return fail("unexpected character");
    pos += n;
    return true;
  }
  /// Any value, checked and dropped.
  bool skip(int depth) {
    if (depth > kMaxDepth)
      return fail("nesting deeper than " + std::to_string(kMaxDepth));
    space();
    if (pos >= size)
      return fail("header ends where a value is expected");
    char c = text[pos];
    if (c == '{') {
      ++pos;
      if (accept('}'))
        return true;
      std::string key;
      do {
        if (!string(key) || !expect(':') || !skip(depth + 1))
          return false;
      } while (accept(','));
      return expect('}');
    }
    if (c == '[') {
      ++pos;
      if (accept(']'))
        return true;
      do {
        if (!skip(depth + 1))
          return false;
      } while (accept(','));
      return expect(']');
    }
    if (c == '"') {
      std::string s;
      return string(s);
    }
    if (c == 't')
      return literal("true");
    if (c == 'f')
      return literal("false");
    if (c == 'n')
      return literal("null");
    bool isUInt;
    uint64_t v;
    return number(isUInt, v);
  }
  /// An array of non-negative integers below 2^63.
  bool uintArray(std::vector<int64_t> &out, const char *what) {
    out.clear();
    if (!expect('['))
      return false;
    if (accept(']'))
      return true;
    do {
      bool isUInt;
      uint64_t v;
      space();
      uint64_t at = pos;
      if (!number(isUInt, v))
        return false;
      if (!isUInt) {
        pos = at;
        return fail(std::string(what) + " must hold non-negative integers");
      }
      if (out.size() == kMaxRank) {
        pos = at;
        return fail(std::string(what) + " has more than " +
                    std::to_string(kMaxRank) + " entries");
      }
      out.push_back(int64_t(v));
    } while (accept(','));
    return expect(']');
  }
};

bool validUtf8(const uint8_t *s, uint64_t n, uint64_t &bad) {
  uint64_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    unsigned len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      bad = i;
      return false;
    }
    if (n - i < len) {
      bad = i;
      return false;
    }
    for (unsigned k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) {
        bad = i;
        return false;
      }
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      bad = i;
      return false;
    }
    i += len;
  }
  return true;
}

} // namespace

Status parse(const uint8_t *data, uint64_t size, File &out) {
  out = File();
  out.fileSize = size;
  auto error = [](uint64_t at, const std::string &what) {
    return Status::error("safetensors at byte " + std::to_string(at) + ": " +
                         what);
  };
  if (size < 8)
    return error(0, "truncated file (header size: 8 bytes, " +
                        std::to_string(size) + " left)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | data[i];
  if (n > kMaxHeaderSize)
    return error(0, "header size " + std::to_string(n) +
                        " is larger than the limit of " +
                        std::to_string(kMaxHeaderSize) + " bytes");
  if (n > size - 8)
    return error(0, "header size " + std::to_string(n) + " but only " +
                        std::to_string(size - 8) + " bytes follow");
  out.headerSize = n;
  out.dataOffset = 8 + n;
  const uint8_t *header = data + 8;
  uint64_t bad;
  if (!validUtf8(header, n, bad))
    return error(8 + bad, "header is not valid UTF-8");
  if (n == 0 || header[0] != '{')
    return error(8, "header does not start with '{'");

  Json j{reinterpret_cast<const char *>(header), n, 0, 8, {}};
  auto jsonError = [&]() { return Status::error("safetensors " + j.error); };
  std::vector<uint64_t> entryAt; // file offset of each tensor's key
  bool sawMetadata = false;
  std::unordered_set<std::string> metadataKeys;
  j.expect('{');
  if (!j.accept('}')) {
    do {
      j.space();
      uint64_t keyAt = j.base + j.pos;
      std::string key;
      if (!j.string(key) || !j.expect(':'))
        return jsonError();
      if (key == "__metadata__") {
        if (sawMetadata)
          return error(keyAt, "duplicate __metadata__");
        sawMetadata = true;
        j.space();
        if (j.size - j.pos >= 4 && std::memcmp(j.text + j.pos, "null", 4) == 0)
          j.pos += 4; // None in the reference
        else if (!j.expect('{'))
          return jsonError();
        else if (!j.accept('}')) {
          do {
            std::string k, v;
            j.space();
            uint64_t at = j.base + j.pos;
            if (!j.string(k) || !j.expect(':'))
              return jsonError();
            j.space();
            if (j.pos < j.size && j.text[j.pos] != '"')
              return error(j.base + j.pos,
                           "__metadata__ value of '" + k + "' is not a string");
            if (!j.string(v))
              return jsonError();
            if (!metadataKeys.insert(k).second)
              return error(at, "duplicate __metadata__ key '" + k + "'");
            out.metadata.emplace_back(std::move(k), std::move(v));
          } while (j.accept(','));
          if (!j.expect('}'))
            return jsonError();
        }
        continue;
      }
      TensorInfo t;
      t.name = std::move(key);
      bool haveDType = false, haveShape = false, haveOffsets = false;
      if (!j.expect('{'))
        return jsonError();
      if (!j.accept('}')) {
        do {
          std::string field;
          j.space();
          uint64_t fieldAt = j.base + j.pos;
          if (!j.string(field) || !j.expect(':'))
            return jsonError();
          bool *seen = field == "dtype"          ? &haveDType
                       : field == "shape"        ? &haveShape
                       : field == "data_offsets" ? &haveOffsets
                                                 : nullptr;
          if (seen && *seen)
            return error(fieldAt, "tensor '" + t.name + "' has two '" + field +
                                      "' fields");
          if (seen)
            *seen = true;
          if (field == "dtype") {
            std::string name;
            j.space();
            uint64_t at = j.base + j.pos;
            if (!j.string(name))
              return jsonError();
            const DTypeEntry *e = nullptr;
            for (const DTypeEntry &d : kDTypes)
              if (name == d.name)
                e = &d;
            if (!e)
              return error(at, "tensor '" + t.name +
                                   "' has unsupported dtype '" + name + "'");
            t.dtype = e->type;
          } else if (field == "shape") {
            if (!j.uintArray(t.shape, "shape"))
              return jsonError();
          } else if (field == "data_offsets") {
            std::vector<int64_t> offsets;
            j.space();
            uint64_t at = j.base + j.pos;
            if (!j.uintArray(offsets, "data_offsets"))
              return jsonError();
            if (offsets.size() != 2)
              return error(at, "tensor '" + t.name +
                                   "': data_offsets must be [begin, end]");
            t.begin = uint64_t(offsets[0]);
            t.end = uint64_t(offsets[1]);
          } else if (!j.skip(1)) {
            return jsonError();
          }
        } while (j.accept(','));
        if (!j.expect('}'))
          return jsonError();
      }
      if (!haveDType || !haveShape || !haveOffsets)
        return error(keyAt, "tensor '" + t.name + "' lacks " +
                                (!haveDType   ? "dtype"
                                 : !haveShape ? "shape"
                                              : "data_offsets"));
      out.tensors.push_back(std::move(t));
      entryAt.push_back(keyAt);
    } while (j.accept(','));
    if (!j.expect('}'))
      return jsonError();
  }
  if (!j.error.empty())
    return jsonError();
  if (!j.atEnd())
    return error(j.base + j.pos, "data after the header's JSON object");

  // Names are unique; sizes agree with shapes; the byte ranges, in order,
  // tile the data section exactly.
  std::vector<size_t> order(out.tensors.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return out.tensors[a].name < out.tensors[b].name;
  });
  for (size_t i = 1; i < order.size(); ++i)
    if (out.tensors[order[i]].name == out.tensors[order[i - 1]].name)
      return error(entryAt[std::max(order[i], order[i - 1])],
                   "duplicate tensor '" + out.tensors[order[i]].name + "'");
  for (size_t i = 0; i < out.tensors.size(); ++i) {
    const TensorInfo &t = out.tensors[i];
    uint64_t bits = dtypeBits(t.dtype);
    for (int64_t d : t.shape) {
      if (d != 0 && bits > uint64_t(INT64_MAX) / uint64_t(d))
        return error(entryAt[i], "tensor '" + t.name + "' is too large");
      bits *= uint64_t(d);
    }
    if (bits % 8)
      return error(entryAt[i], "tensor '" + t.name + "' of " +
                                   dtypeName(t.dtype) +
                                   " does not fill whole bytes");
    uint64_t bytes = bits / 8;
    if (t.end < t.begin)
      return error(entryAt[i],
                   "tensor '" + t.name + "' ends (" + std::to_string(t.end) +
                       ") before it begins (" + std::to_string(t.begin) + ")");
    if (t.end - t.begin != bytes)
      return error(entryAt[i], "tensor '" + t.name + "' spans " +
                                   std::to_string(t.end - t.begin) +
                                   " bytes but its " + dtypeName(t.dtype) +
                                   " shape needs " + std::to_string(bytes));
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const TensorInfo &x = out.tensors[a], &y = out.tensors[b];
    return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
  });
  uint64_t dataSize = size - out.dataOffset, at = 0;
  for (size_t i : order) {
    const TensorInfo &t = out.tensors[i];
    if (t.begin != at)
      return error(entryAt[i], "tensor '" + t.name + "' begins at " +
                                   std::to_string(t.begin) +
                                   " of the data, expected " +
                                   std::to_string(at) +
                                   (t.begin < at ? " (overlaps another tensor)"
                                                 : " (a gap before it)"));
    if (t.end > dataSize)
      return error(entryAt[i], "tensor '" + t.name +
                                   "' extends past the end of the file (" +
                                   std::to_string(t.end) + " > " +
                                   std::to_string(dataSize) +
                                   " bytes of data)");
    at = t.end;
  }
  if (at != dataSize)
    return error(out.dataOffset + at,
                 std::to_string(dataSize - at) +
                     " bytes after the last tensor belong to no tensor");
  return Status::success();
}

Status read(const std::string &path, File &out) {
  return import::mapAndParse(path, out,
                             [](const uint8_t *data, uint64_t size, File &f) {
                               return parse(data, size, f);
                             });
}

} // namespace lowbit::safetensors
