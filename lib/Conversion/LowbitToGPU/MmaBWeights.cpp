//===- MmaBWeights.cpp - 4-bit weights packed into mma-b tiles ------------===//
//
// lowbit-gpu-offload packs constant 4-bit weights once, at compile time,
// into the tiles the w4-mma kernels read (numerics::packInt4MmaB,
// docs/CodegenGPU.md).
//
//===----------------------------------------------------------------------===//

#include "Steps.h"

#include "lowbit/Numerics/Numerics.h"
#include "lowbit/Transforms/NumericsBridge.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::nvptx;
namespace nx = ::lowbit::numerics;

FailureOr<Value>
nvptx::getOrCreateMmaBWeights(ConstantOp c,
                              DenseMap<Operation *, Value> &packedOf) {
  Value &packed = packedOf[c];
  if (packed)
    return packed;
  FailureOr<nx::QTensor> q = readQuantizedConstant(
      c, [&] { return c.emitOpError("packing mma-b tiles: "); });
  if (failed(q))
    return failure();
  std::vector<uint8_t> bytes;
  nx::Status st = nx::packInt4MmaB(*q, bytes);
  if (!st.ok())
    return c.emitOpError("packing mma-b tiles: ") << st.message();
  auto wt = cast<QTensorType>(c.getType());
  int64_t n = wt.getShape()[0], k = wt.getShape()[1];
  packed = createBytesConstantAfter(
      c,
      RankedTensorType::get({(n + 31) / 32, k / 32, 128},
                            IntegerType::get(c.getContext(), 32)),
      bytes, "mma_b");
  return packed;
}
