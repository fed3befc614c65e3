// RUN: not lowbit-opt %s 2>&1 | FileCheck %s

// A malformed file fails with a non-zero exit status and a diagnostic that
// points at the offending source location (file:line:column).

// CHECK: bad-input.mlir:[[@LINE+2]]:{{[0-9]+}}: error: [LB-T3] group size 32 does not divide dimension 1 of size 48
// CHECK-NOT: error
func.func private @f(!lowbit.qtensor<4x48xi4, per_group<[1 : 32]>>)
