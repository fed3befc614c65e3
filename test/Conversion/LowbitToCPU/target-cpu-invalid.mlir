// RUN: lowbit-opt %s --lowbit-lower-to-cpu=target-cpu=pentium-foo -split-input-file -verify-diagnostics
// RUN: not lowbit-opt %s --lowbit-lower-to-cpu=target-cpu=i686 2>&1 | FileCheck %s --check-prefix=I686

// target-cpu must be host or an x86-64 CPU that LLVM knows: anything else
// is an error located at the module, before any lowering. The message
// names the accepted values.

// expected-error @+1 {{unknown target-cpu 'pentium-foo' (host, or an x86-64 CPU LLVM knows: x86-64-v3, x86-64-v4, znver4, sapphirerapids, ...)}}
module {
  func.func @f(%x: tensor<1x64xf32>, %w: !lowbit.qtensor<2x64xi4, per_group<[1 : 32]>>) -> tensor<1x2xf32> {
    %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x64xf32>, !lowbit.qtensor<2x64xi4, per_group<[1 : 32]>> -> tensor<1x2xf32>
    return %y : tensor<1x2xf32>
  }
}

// A CPU that LLVM knows only in 32-bit mode is refused the same way, at
// the module's line.
// I686: target-cpu-invalid.mlir:[[# @LINE - 9]]:1: error: unknown target-cpu 'i686' (host, or an x86-64 CPU LLVM knows:
