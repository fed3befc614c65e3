// The named quantization pipelines hand their passes schemes as values
// (OperandScheme); the pipeline printed for a reproducer carries them as
// the text that parses back to the same schemes.
// RUN: lowbit-opt %s --dump-pass-pipeline \
// RUN:   --pass-pipeline='builtin.module(lowbit-w4a8{group=64},lowbit-mxfp4,lowbit-fp8)' \
// RUN:   2>&1 >/dev/null | FileCheck %s

// CHECK: lowbit-quantize-matmuls{
// CHECK-SAME: activation-scheme={i8, per_axis<out>}
// CHECK-SAME: weight-scheme={i4, per_group<[in : 64]>}
// CHECK: lowbit-fold-constant-quantize
// CHECK: lowbit-quantize-weights{
// CHECK-SAME: scheme={f4E2M1FN, per_group<[in : 32]>, scale = f8E8M0FNU}
// CHECK: lowbit-fuse-dequant-matmul
// CHECK: lowbit-quantize-matmuls{
// CHECK-SAME: activation-scheme={f8E4M3FN, per_tensor}
// CHECK-SAME: weight-scheme={f8E4M3FN, per_axis<out>}
module {}
