//===- MetadataKeys.h - reading decoder metadata --------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Private to lib/Import: GGUF `{arch}.` keys and config.json keys with
// errors that name them (Architecture.cpp, RopeScaling.cpp), and the RoPE
// scaling readers of both.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_IMPORT_METADATAKEYS_H
#define LOWBIT_LIB_IMPORT_METADATAKEYS_H

#include "lowbit/Import/Architecture.h"
#include "lowbit/Import/GGUF.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/JSON.h"

#include <cstdio>
#include <optional>
#include <string>

namespace mlir::lowbit::importer {
namespace gg = ::lowbit::gguf;
using llvm::StringRef;

/// `x` as "%g" prints it (4, 0.5, 1e+06).
inline std::string number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", x);
  return buf;
}

//===----------------------------------------------------------------------===//
// Reading metadata
//===----------------------------------------------------------------------===//

/// The `{arch}.` keys of a GGUF file, with errors that name them.
class GGUFKeys {
public:
  GGUFKeys(const WeightSource &src, std::string arch, std::string &error)
      : src(src), arch(std::move(arch)), error(error) {}

  const gg::Value *find(StringRef key) const {
    return src.ggufFile.find(arch + "." + key.str());
  }
  /// The full name of `key`.
  std::string name(StringRef key) const { return arch + "." + key.str(); }

  /// An integer key; false with `error` set when it is missing (and
  /// `required`), not an integer or absurd.
  bool integer(StringRef key, int64_t &out, bool required) {
    const gg::Value *v = find(key);
    if (!v) {
      if (required)
        error = src.path + ": missing " + name(key);
      return !required;
    }
    switch (v->type) {
    case gg::ValueType::UInt8:
    case gg::ValueType::UInt16:
    case gg::ValueType::UInt32:
    case gg::ValueType::UInt64:
      out = int64_t(v->u);
      return v->u < (uint64_t(1) << 40) ||
             (error = src.path + ": " + key.str() + " is absurd", false);
    case gg::ValueType::Int8:
    case gg::ValueType::Int16:
    case gg::ValueType::Int32:
    case gg::ValueType::Int64:
      out = v->i;
      return true;
    default:
      error = src.path + ": " + name(key) + " is not an integer";
      return false;
    }
  }

  /// A float key, left as is when missing or not a float.
  void real(StringRef key, double &out) const {
    const gg::Value *v = find(key);
    if (v && (v->type == gg::ValueType::Float32 ||
              v->type == gg::ValueType::Float64))
      out = v->f;
  }

  /// A number of any type, or nullopt.
  std::optional<double> number(StringRef key) const {
    const gg::Value *v = find(key);
    if (!v)
      return std::nullopt;
    switch (v->type) {
    case gg::ValueType::UInt8:
    case gg::ValueType::UInt16:
    case gg::ValueType::UInt32:
    case gg::ValueType::UInt64:
    case gg::ValueType::Bool:
      return double(v->u);
    case gg::ValueType::Int8:
    case gg::ValueType::Int16:
    case gg::ValueType::Int32:
    case gg::ValueType::Int64:
      return double(v->i);
    case gg::ValueType::Float32:
    case gg::ValueType::Float64:
      return v->f;
    default:
      return std::nullopt;
    }
  }

  /// An error naming `key`: "{path}: {arch}.{key} {rest}".
  bool fail(StringRef key, const std::string &rest) {
    error = src.path + ": " + name(key) + " " + rest;
    return false;
  }

  const WeightSource &src;
  std::string arch;
  std::string &error;
};

/// The keys of a config.json, with errors that name them.
class ConfigKeys {
public:
  ConfigKeys(const WeightSource &src, std::string &error)
      : src(src), o(src.config), error(error) {}

  bool integer(const char *key, int64_t &out, bool required) {
    std::optional<int64_t> v = o.getInteger(key);
    if (!v) {
      if (required)
        error = src.configPath + ": missing integer '" + key + "'";
      return !required;
    }
    out = *v;
    return true;
  }
  void real(const char *key, double &out) const {
    if (std::optional<double> v = o.getNumber(key))
      out = *v;
  }
  /// Whether `key` is present and not null.
  bool has(const char *key) const {
    const llvm::json::Value *v = o.get(key);
    return v && v->kind() != llvm::json::Value::Null;
  }
  /// An error naming the file: "{config.json}: {what}".
  bool fail(const std::string &what) {
    error = src.configPath + ": " + what;
    return false;
  }

  const WeightSource &src;
  const llvm::json::Object &o;
  std::string &error;
};

/// config.json's `rope_scaling` (or `rope_parameters`) into `c`: types
/// default, linear, llama3 and yarn; any other type, or a key the type
/// does not define, is an error naming it.
bool readConfigRopeScaling(ConfigKeys &keys, HyperParameters &c);

/// GGUF's RoPE scaling into `c`, as llama.cpp reads it:
/// `rope.scaling.type` none, linear (also when absent) or yarn, with
/// `rope.scaling.factor` (or the older `rope.scale_linear`), YaRN's
/// `rope.scaling.*` keys, and the per-frequency factors of the tensor
/// `rope_freqs.weight`. Other types, and values of those keys that llama.cpp
/// would use in a way lowbit does not implement, are errors naming the key.
bool readGGUFRopeScaling(GGUFKeys &keys, HyperParameters &c);

} // namespace mlir::lowbit::importer

#endif // LOWBIT_LIB_IMPORT_METADATAKEYS_H
