//===- WeightSource.cpp - the tensors of a model file ---------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// See WeightSource.h: GGUF and safetensors files to weights pointing into
// the mapped file, config.json parsed for Architecture.cpp.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Import/WeightSource.h"

#include "Prequantized.h"
#include "lowbit/Import/Safetensors.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>

using namespace mlir::lowbit::importer;
namespace nx = ::lowbit::numerics;

int64_t Weight::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

/// GGUF's ggml type numbers of the block formats lowbit knows.
static std::optional<nx::GGUFKind> ggufKindOf(uint32_t ggmlType) {
  switch (ggmlType) {
  case 2:
    return nx::GGUFKind::Q4_0;
  case 3:
    return nx::GGUFKind::Q4_1;
  case 6:
    return nx::GGUFKind::Q5_0;
  case 7:
    return nx::GGUFKind::Q5_1;
  case 8:
    return nx::GGUFKind::Q8_0;
  case 10:
    return nx::GGUFKind::Q2_K;
  case 11:
    return nx::GGUFKind::Q3_K;
  case 12:
    return nx::GGUFKind::Q4_K;
  case 13:
    return nx::GGUFKind::Q5_K;
  case 14:
    return nx::GGUFKind::Q6_K;
  case 20:
    return nx::GGUFKind::IQ4_NL;
  case 23:
    return nx::GGUFKind::IQ4_XS;
  case 34:
    return nx::GGUFKind::TQ1_0;
  case 35:
    return nx::GGUFKind::TQ2_0;
  case 39:
    return nx::GGUFKind::MXFP4;
  default:
    return std::nullopt;
  }
}

static bool openGGUF(WeightSource &src, std::string &error) {
  ::lowbit::gguf::File &f = src.ggufFile;
  if (nx::Status s = ::lowbit::gguf::read(src.path, f); !s.ok()) {
    error = s.message();
    return false;
  }
  src.mapping = f.mapping;
  for (const ::lowbit::gguf::TensorInfo &t : f.tensors) {
    Weight w;
    for (auto it = t.dims.rbegin(); it != t.dims.rend(); ++it)
      w.shape.push_back(*it);
    w.data = f.data() + f.dataOffset + t.offset;
    w.bytes = t.bytes;
    if (t.type == 0) {
      w.kind = Weight::Kind::F32;
    } else if (t.type == 1) {
      w.kind = Weight::Kind::F16;
    } else if (t.type == 30) {
      w.kind = Weight::Kind::BF16;
    } else if (std::optional<nx::GGUFKind> k = ggufKindOf(t.type)) {
      w.kind = Weight::Kind::GGUFBlocks;
      w.gguf = *k;
    } else {
      const char *name = "?";
      ::lowbit::gguf::ggmlTypeInfo(t.type, &name, nullptr, nullptr);
      error = src.path + ": tensor '" + t.name + "' has type " + name +
              ", which the importer does not read";
      return false;
    }
    src.weights[t.name] = w;
  }
  return true;
}

/// Reads `dir`/config.json into `src`.
static bool readConfig(WeightSource &src, llvm::StringRef dir,
                       std::string &error) {
  llvm::SmallString<256> cfgPath(dir);
  llvm::sys::path::append(cfgPath, "config.json");
  src.configPath = cfgPath.str().str();
  auto buf = llvm::MemoryBuffer::getFile(cfgPath);
  if (!buf) {
    error = src.configPath + ": " + buf.getError().message() +
            " (a safetensors model needs its config.json beside it)";
    return false;
  }
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buf)->getBuffer());
  if (!json) {
    error = src.configPath + ": " + llvm::toString(json.takeError());
    return false;
  }
  llvm::json::Object *o = json->getAsObject();
  if (!o) {
    error = src.configPath + ": not a JSON object";
    return false;
  }
  src.config = std::move(*o);
  return true;
}

/// Maps the safetensors file `path` and adds its tensors to `raw`. With
/// `listed` (a sharded checkpoint's weight_map), every tensor must be
/// listed for this file, and a tensor already read from another shard is
/// an error.
static bool addSafetensors(WeightSource &src, const std::string &path,
                           const std::map<std::string, std::string> *listed,
                           std::map<std::string, RawTensor> &raw,
                           std::string &error) {
  ::lowbit::safetensors::File f;
  if (nx::Status s = ::lowbit::safetensors::read(path, f); !s.ok()) {
    error = s.message();
    return false;
  }
  if (!src.mapping)
    src.mapping = f.mapping;
  src.shards.push_back(f.mapping);
  std::string file = llvm::sys::path::filename(path).str();
  for (const ::lowbit::safetensors::TensorInfo &t : f.tensors) {
    auto [it, fresh] = raw.try_emplace(t.name);
    if (!fresh) {
      error = path + ": tensor '" + t.name + "' is also in shard '" +
              it->second.file + "'";
      return false;
    }
    if (listed) {
      auto l = listed->find(t.name);
      if (l == listed->end() || l->second != file) {
        error = path + ": tensor '" + t.name + "' is in this shard but " +
                (l == listed->end()
                     ? "the weight_map does not list it"
                     : "the weight_map names shard '" + l->second + "'");
        return false;
      }
    }
    RawTensor &r = it->second;
    r.dtype = t.dtype;
    r.shape = t.shape;
    r.data = f.data() + f.dataOffset + t.begin;
    r.bytes = t.end - t.begin;
    r.file = file;
  }
  return true;
}

/// The shards of the index `path` (its weight_map, tensor to file) into
/// `raw`, each shard once.
static bool addSharded(WeightSource &src, const std::string &path,
                       std::map<std::string, RawTensor> &raw,
                       std::string &error) {
  auto buf = llvm::MemoryBuffer::getFile(path);
  if (!buf) {
    error = path + ": " + buf.getError().message();
    return false;
  }
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buf)->getBuffer());
  if (!json) {
    error = path + ": " + llvm::toString(json.takeError());
    return false;
  }
  const llvm::json::Object *o = json->getAsObject();
  const llvm::json::Object *map = o ? o->getObject("weight_map") : nullptr;
  if (!map) {
    error = path + ": no 'weight_map' object (a sharded checkpoint's index "
                   "maps each tensor to its shard)";
    return false;
  }
  std::map<std::string, std::string> listed;
  std::vector<std::string> files;
  for (const auto &[name, file] : *map) {
    std::optional<llvm::StringRef> f = file.getAsString();
    if (!f || f->empty() || f->contains('/') || f->contains('\\') ||
        *f == "." || *f == "..") {
      error = path + ": weight_map: tensor '" + name.str() +
              "' names no shard file in the index's directory";
      return false;
    }
    listed[name.str()] = f->str();
    if (llvm::find(files, f->str()) == files.end())
      files.push_back(f->str());
  }
  std::sort(files.begin(), files.end());
  llvm::StringRef dir = llvm::sys::path::parent_path(path);
  for (const std::string &file : files) {
    llvm::SmallString<256> shard(dir);
    llvm::sys::path::append(shard, file);
    if (!llvm::sys::fs::exists(shard)) {
      error = path + ": shard '" + file + "' (of tensor '";
      for (const auto &[name, f] : listed)
        if (f == file) {
          error += name;
          break;
        }
      error += "') does not exist";
      return false;
    }
    if (!addSafetensors(src, shard.str().str(), &listed, raw, error))
      return false;
  }
  for (const auto &[name, file] : listed)
    if (!raw.count(name)) {
      error = path + ": weight_map names tensor '" + name + "' in shard '" +
              file + "', which lacks it";
      return false;
    }
  return true;
}

static bool openSafetensors(WeightSource &src, bool sharded,
                            std::string &error) {
  if (!readConfig(src, llvm::sys::path::parent_path(src.path), error))
    return false;
  std::map<std::string, RawTensor> raw;
  if (!(sharded ? addSharded(src, src.path, raw, error)
                : addSafetensors(src, src.path, nullptr, raw, error)))
    return false;
  if (!readPrequantized(src.config, src.configPath, raw, src.weights, error)) {
    if (llvm::StringRef(error).starts_with("tensor '"))
      error = src.path + ": " + error;
    return false;
  }
  for (const auto &[name, t] : raw) {
    Weight w;
    w.shape = t.shape;
    w.data = t.data;
    w.bytes = t.bytes;
    using DT = ::lowbit::safetensors::DType;
    if (t.dtype == DT::F32) {
      w.kind = Weight::Kind::F32;
    } else if (t.dtype == DT::F16) {
      w.kind = Weight::Kind::F16;
    } else if (t.dtype == DT::BF16) {
      w.kind = Weight::Kind::BF16;
    } else {
      error = (sharded ? t.file : src.path) + ": tensor '" + name + "' is " +
              ::lowbit::safetensors::dtypeName(t.dtype) +
              " (the importer reads F32, F16 and BF16" +
              (src.config.getObject("quantization_config")
                   ? ", and the quantized matrices of the "
                     "quantization_config)"
                   : ")");
      return false;
    }
    src.weights[name] = w;
  }
  return true;
}

bool WeightSource::open(const std::string &path, WeightSource &out,
                        std::string &error) {
  out.path = path;
  llvm::StringRef p(path);
  if (llvm::sys::fs::is_directory(path)) {
    // A model directory: its index when sharded, else model.safetensors.
    llvm::SmallString<256> file(p);
    llvm::sys::path::append(file, "model.safetensors.index.json");
    bool sharded = llvm::sys::fs::exists(file);
    if (!sharded) {
      file = p;
      llvm::sys::path::append(file, "model.safetensors");
      if (!llvm::sys::fs::exists(file)) {
        error = path + ": a model directory needs model.safetensors or "
                       "model.safetensors.index.json";
        return false;
      }
    }
    out.path = file.str().str();
    out.format = Format::Safetensors;
    return openSafetensors(out, sharded, error);
  }
  if (p.ends_with(".safetensors") || p.ends_with(".safetensors.index.json")) {
    out.format = Format::Safetensors;
    return openSafetensors(out, p.ends_with(".json"), error);
  }
  out.format = Format::GGUF;
  return openGGUF(out, error);
}

const Weight *WeightSource::find(llvm::StringRef name) const {
  auto it = weights.find(name.str());
  return it == weights.end() ? nullptr : &it->second;
}

bool WeightSource::rename(
    const std::function<std::optional<std::string>(llvm::StringRef)> &canonical,
    const std::function<bool(llvm::StringRef)> &skip, llvm::StringRef what,
    std::string &error) {
  std::map<std::string, Weight> renamed;
  for (auto &[name, w] : weights) {
    std::optional<std::string> to = canonical(name);
    if (!to) {
      if (skip(name))
        continue;
      error = path + ": tensor '" + name + "' is not part of " + what.str();
      return false;
    }
    if (!renamed.emplace(*to, w).second) {
      error = path + ": tensors '" + name + "' and another one are both '" +
              *to + "'";
      return false;
    }
  }
  weights = std::move(renamed);
  return true;
}
