//===- Steps.h - steps the GPU passes share ---------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// What the GPU passes (LowerToGPU.cpp, WritePTX.cpp, Offload.cpp,
// LowerLaunches.cpp) are made of beyond the kernel families: the rounding
// ops' PTX and the host module's globals.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CONVERSION_LOWBITTOGPU_STEPS_H
#define LOWBIT_CONVERSION_LOWBITTOGPU_STEPS_H

#include "lowbit/Dialect/LowbitDialect.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::lowbit::nvptx {

/// PTX has no libdevice linked in: the rounding ops that the shared
/// encoders (codecs::roundF32) emit, which convert-gpu-to-nvvm would turn
/// into libdevice calls, become their PTX instructions: math.roundeven is
/// cvt.rni; math.round (ties away) is cvt.rzi plus one step away from zero
/// where the dropped fraction is at least 1/2.
void replaceRoundingByPTX(gpu::GPUModuleOp module);

/// Bytes of a statically shaped buffer of whole-byte elements.
int64_t getBufferBytes(ShapedType t);

/// A constant NUL-terminated string global.
LLVM::GlobalOp createStringGlobal(OpBuilder &b, Location loc, StringRef name,
                                  StringRef text);

} // namespace mlir::lowbit::nvptx

#endif // LOWBIT_CONVERSION_LOWBITTOGPU_STEPS_H
