//===- Host.cpp - the host module's buffers and globals -------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Helpers of lowbit-offload-to-gpu and lowbit-lower-launches.
//
//===----------------------------------------------------------------------===//

#include "Steps.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::nvptx;

int64_t nvptx::getBufferBytes(ShapedType t) {
  return t.getNumElements() * (t.getElementType().getIntOrFloatBitWidth() / 8);
}

LLVM::GlobalOp nvptx::createStringGlobal(OpBuilder &b, Location loc,
                                         StringRef name, StringRef text) {
  std::string bytes = text.str();
  bytes.push_back('\0');
  auto type = LLVM::LLVMArrayType::get(b.getI8Type(), bytes.size());
  return LLVM::GlobalOp::create(b, loc, type, /*isConstant=*/true,
                                LLVM::Linkage::Internal, name,
                                b.getStringAttr(bytes), /*alignment=*/16);
}
