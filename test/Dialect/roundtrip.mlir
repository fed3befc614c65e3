// RUN: lowbit-opt %s | FileCheck %s
// RUN: lowbit-opt %s | lowbit-opt | FileCheck %s
// RUN: lowbit-opt %s --mlir-print-op-generic | lowbit-opt | FileCheck %s

// One function per scheme kind: each type must print back as written.

// CHECK-LABEL: func @int8_per_channel
// CHECK-SAME: !lowbit.qtensor<4x64xi8, per_axis<0>>
func.func @int8_per_channel(%x: !lowbit.qtensor<4x64xi8, per_axis<0>>) -> !lowbit.qtensor<4x64xi8, per_axis<0>> {
  return %x : !lowbit.qtensor<4x64xi8, per_axis<0>>
}
