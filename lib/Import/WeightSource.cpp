//===- WeightSource.cpp - the tensors of a model file ---------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// See WeightSource.h: GGUF and safetensors files to weights pointing into
// the mapped file, config.json parsed for Architecture.cpp.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Import/WeightSource.h"

#include "lowbit/Import/Safetensors.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

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

static bool openSafetensors(WeightSource &src, std::string &error) {
  ::lowbit::safetensors::File f;
  if (nx::Status s = ::lowbit::safetensors::read(src.path, f); !s.ok()) {
    error = s.message();
    return false;
  }
  src.mapping = f.mapping;
  llvm::SmallString<256> cfgPath(llvm::sys::path::parent_path(src.path));
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
  for (const ::lowbit::safetensors::TensorInfo &t : f.tensors) {
    Weight w;
    w.shape = t.shape;
    w.data = f.data() + f.dataOffset + t.begin;
    w.bytes = t.end - t.begin;
    using DT = ::lowbit::safetensors::DType;
    if (t.dtype == DT::F32) {
      w.kind = Weight::Kind::F32;
    } else if (t.dtype == DT::F16) {
      w.kind = Weight::Kind::F16;
    } else if (t.dtype == DT::BF16) {
      w.kind = Weight::Kind::BF16;
    } else {
      error = src.path + ": tensor '" + t.name + "' is " +
              ::lowbit::safetensors::dtypeName(t.dtype) +
              " (the importer reads F32, F16 and BF16)";
      return false;
    }
    src.weights[t.name] = w;
  }
  return true;
}

bool WeightSource::open(const std::string &path, WeightSource &out,
                        std::string &error) {
  out.path = path;
  if (llvm::StringRef(path).ends_with(".safetensors")) {
    out.format = Format::Safetensors;
    return openSafetensors(out, error);
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
