// RUN: lowbit-opt %s --lowbit-approximate-exp | FileCheck %s

// f32 math.exp, scalar or vector, becomes f64 arithmetic rounded once to
// f32 (docs/Passes.md); other math ops and f64 exp stay as they are.
// CHECK-LABEL: func.func @exps(
// CHECK-SAME: %[[X:[^:]+]]: f32, %[[V:[^:]+]]: vector<16xf32>, %[[D:[^:]+]]: f64)
// CHECK: %[[XD:.*]] = arith.extf %[[X]] : f32 to f64
// CHECK: arith.maxnumf %[[XD]]
// CHECK: arith.minnumf
// CHECK: %[[K:.*]] = math.roundeven
// CHECK: math.fma %[[K]]
// CHECK: arith.fptosi %[[K]] : f64 to i64
// CHECK: arith.shli
// CHECK: arith.bitcast %{{.*}} : i64 to f64
// CHECK: %[[Y:.*]] = arith.truncf %{{.*}} : f64 to f32
// CHECK: %[[NAN:.*]] = arith.cmpf uno, %[[X]], %[[X]] : f32
// CHECK: %[[A:.*]] = arith.select %[[NAN]], %[[X]], %[[Y]] : f32
// CHECK: arith.extf %[[V]] : vector<16xf32> to vector<16xf64>
// CHECK: arith.truncf %{{.*}} : vector<16xf64> to vector<16xf32>
// CHECK: %[[B:.*]] = arith.select %{{.*}} : vector<16xi1>, vector<16xf32>
// CHECK: %[[C:.*]] = math.sqrt %[[X]] : f32
// CHECK: %[[E:.*]] = math.exp %[[D]] : f64
// CHECK: return %[[A]], %[[B]], %[[C]], %[[E]]
func.func @exps(%x: f32, %v: vector<16xf32>, %d: f64) -> (f32, vector<16xf32>, f32, f64) {
  %a = math.exp %x : f32
  %b = math.exp %v : vector<16xf32>
  %c = math.sqrt %x : f32
  %e = math.exp %d : f64
  return %a, %b, %c, %e : f32, vector<16xf32>, f32, f64
}
