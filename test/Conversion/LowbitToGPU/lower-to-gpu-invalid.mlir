// RUN: not lowbit-opt %s --lowbit-lower-to-gpu=chip=gfx90a 2>&1 | FileCheck %s
// RUN: not lowbit-opt %s --lowbit-lower-to-gpu --lowbit-write-ptx=dir=%t 2>&1 | FileCheck %s --check-prefix=NOBIN

// CHECK: lowbit-lower-to-gpu: chip 'gfx90a' is not an NVIDIA compute capability such as sm_80 or sm_90a
// NOBIN: lowbit-write-ptx: no gpu.binary (run lowbit-lower-to-gpu and lowbit-gpu-to-ptx first)
func.func @gemv(%x: tensor<1x64xf16>, %w: !lowbit.qtensor<8x64xi4, per_group<[1 : 32]>, scale = f16>) -> tensor<1x8xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x64xf16>, !lowbit.qtensor<8x64xi4, per_group<[1 : 32]>, scale = f16> -> tensor<1x8xf16>
  return %y : tensor<1x8xf16>
}
