//===- Prequantized.h - pre-quantized safetensors checkpoints ---*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Part of the importer's weights (WeightSource.h, docs/Import.md): the
// tensors of a safetensors checkpoint as stored (any dtype), and the
// reader of config.json's `quantization_config` that turns each quantized
// matrix's tensors (GPTQ's qweight/qzeros/scales/g_idx, AWQ's, or
// compressed-tensors' weight_packed/weight_scale, FP8 weight/weight_scale)
// into one Quantized weight `<module>.weight` without requantizing.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_IMPORT_PREQUANTIZED_H
#define LOWBIT_LIB_IMPORT_PREQUANTIZED_H

#include "lowbit/Import/Safetensors.h"
#include "lowbit/Import/WeightSource.h"

#include "llvm/Support/JSON.h"

#include <map>
#include <string>

namespace mlir::lowbit::importer {

/// A safetensors tensor as stored, and the file (shard) holding it.
struct RawTensor {
  ::lowbit::safetensors::DType dtype = ::lowbit::safetensors::DType::F32;
  std::vector<int64_t> shape;
  const uint8_t *data = nullptr;
  uint64_t bytes = 0;
  std::string file;
};

/// Reads `config`'s `quantization_config` (none: nothing to do) and moves
/// the tensors of every quantized matrix out of `tensors` into `weights`
/// as one Quantized weight. Errors name `configPath`'s key or the tensor.
bool readPrequantized(const llvm::json::Object &config,
                      const std::string &configPath,
                      std::map<std::string, RawTensor> &tensors,
                      std::map<std::string, Weight> &weights,
                      std::string &error);

} // namespace mlir::lowbit::importer

#endif // LOWBIT_LIB_IMPORT_PREQUANTIZED_H
