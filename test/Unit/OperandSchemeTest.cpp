//===- OperandSchemeTest.cpp - typed scheme options -------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// OperandScheme, the typed form of the quantization passes' scheme
// options: built as values, parsed from and printed to the option text,
// and resolved per operand (axis roles, expressed type, group order).
//
//===----------------------------------------------------------------------===//

#include "lowbit/Transforms/OperandScheme.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <string>

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;

namespace {

class OperandSchemeTest : public ::testing::Test {
protected:
  OperandSchemeTest() { ctx.loadDialect<LowbitDialect>(); }

  /// Parses `text`; on failure returns the diagnostic in `error`.
  FailureOr<OperandScheme> parse(StringRef text) {
    error.clear();
    ScopedDiagnosticHandler capture(&ctx, [&](Diagnostic &d) {
      error = d.str();
      return success();
    });
    return OperandScheme::parse(
        &ctx, text, [&] { return emitError(UnknownLoc::get(&ctx)); });
  }

  /// The printed `#lowbit.scheme` of `s` resolved for a weight [out, in]
  /// (transposed: [in, out]) of f32, or the diagnostic.
  std::string resolve(const OperandScheme &s, bool transposed = false,
                      int64_t rank = 2) {
    error.clear();
    ScopedDiagnosticHandler capture(&ctx, [&](Diagnostic &d) {
      error = d.str();
      return success();
    });
    SchemeAttr a = s.resolve(&ctx, Float32Type::get(&ctx), transposed ? 0 : 1,
                             transposed ? 1 : 0, rank,
                             [&] { return emitError(UnknownLoc::get(&ctx)); });
    if (!a)
      return "error: " + error;
    std::string text;
    llvm::raw_string_ostream os(text);
    os << a;
    return text;
  }

  MLIRContext ctx;
  std::string error;
};

TEST_F(OperandSchemeTest, BuiltValuesPrintTheirText) {
  OperandScheme w4 = OperandScheme::perGroup(OperandScheme::intElement(4),
                                             SchemeAxis::in(), 128);
  EXPECT_EQ(w4.str(), "i4, per_group<[in : 128]>");
  OperandScheme a8 =
      OperandScheme::perAxis(OperandScheme::intElement(8), SchemeAxis::out());
  EXPECT_EQ(a8.str(), "i8, per_axis<out>");
  nx::Scheme fp4 = OperandScheme::floatElement(nx::ElementType::F4E2M1FN);
  fp4.scale = nx::ScaleType::E8M0;
  EXPECT_EQ(OperandScheme::perGroup(fp4, SchemeAxis::in(), 32).str(),
            "f4E2M1FN, per_group<[in : 32]>, scale = f8E8M0FNU");
  EXPECT_EQ(OperandScheme::perTensor(
                OperandScheme::floatElement(nx::ElementType::F8E4M3FN))
                .str(),
            "f8E4M3FN, per_tensor");
}

TEST_F(OperandSchemeTest, TextRoundTrips) {
  for (const char *text :
       {"i8, per_axis<out>", "i4, per_group<[in : 32]>",
        "ui4, per_group<[in : 64]>, asymmetric", "i3, per_group<[last : 16]>",
        "i8, per_axis<1>", "i4, per_group<[out : 1, in : 32]>",
        "i8, per_tensor, full_range", "ternary, per_axis<out>",
        "f4E2M1FN, per_group<[in : 16]>, scale = f8E4M3FN, tensor_scale",
        "f8E5M2, per_tensor, no_saturate", "i4, per_axis<out>, scale = bf16",
        "i8, per_tensor, round = nearest_away", "f8E4M3FN", "gguf<q4_k>"}) {
    FailureOr<OperandScheme> s = parse(text);
    ASSERT_TRUE(succeeded(s)) << text << ": " << error;
    EXPECT_EQ(s->str(), text);
  }
}

TEST_F(OperandSchemeTest, RolesResolvePerOperand) {
  FailureOr<OperandScheme> s = parse("i4, per_group<[in : 32]>");
  ASSERT_TRUE(succeeded(s));
  EXPECT_EQ(resolve(*s), "#lowbit.scheme<i4, per_group<[1 : 32]>>");
  EXPECT_EQ(resolve(*s, /*transposed=*/true),
            "#lowbit.scheme<i4, per_group<[0 : 32]>>");
  FailureOr<OperandScheme> last = parse("i8, per_axis<last>");
  ASSERT_TRUE(succeeded(last));
  EXPECT_EQ(resolve(*last, false, /*rank=*/3),
            "#lowbit.scheme<i8, per_axis<2>>");
}

TEST_F(OperandSchemeTest, GroupAxesAreOrderedAfterResolving) {
  // [out : 1, in : 32] on a transposed weight [in, out] is [0 : 32, 1 : 1].
  FailureOr<OperandScheme> s = parse("i4, per_group<[out : 1, in : 32]>");
  ASSERT_TRUE(succeeded(s)) << error;
  EXPECT_EQ(resolve(*s), "#lowbit.scheme<i4, per_group<[0 : 1, 1 : 32]>>");
  EXPECT_EQ(resolve(*s, /*transposed=*/true),
            "#lowbit.scheme<i4, per_group<[0 : 32, 1 : 1]>>");
}

TEST_F(OperandSchemeTest, BadTextIsReportedWithTheDialectsMessage) {
  EXPECT_TRUE(failed(parse("i4, per_group<[in : 32]>, symmetric")));
  EXPECT_EQ(error, "invalid scheme 'i4, per_group<[in : 32]>, symmetric': "
                   "unknown scheme option 'symmetric'");
  EXPECT_TRUE(failed(parse("i4, per_axis<out>, trailing garbage")));
  EXPECT_NE(error.find("invalid scheme"), std::string::npos);
  // The operand's element type is the expressed type; a scheme option
  // that names another is an error rather than silently overridden.
  EXPECT_TRUE(failed(parse("i8 : f16, per_axis<out>")));
  EXPECT_NE(error.find("expressed type"), std::string::npos) << error;
  // Integers need a granularity: the dialect's own rule, quoted.
  EXPECT_TRUE(failed(parse("i4")));
  EXPECT_NE(error.find("[LB-S9]"), std::string::npos) << error;
}

TEST_F(OperandSchemeTest, ResolvingChecksTheOperand) {
  // An axis beyond the operand's rank is the dialect's LB-T2 at the
  // qtensor, not here; a bad expressed type is LB-S2 here.
  OperandScheme s =
      OperandScheme::perAxis(OperandScheme::intElement(8), SchemeAxis::out());
  error.clear();
  ScopedDiagnosticHandler capture(&ctx, [&](Diagnostic &d) {
    error = d.str();
    return success();
  });
  SchemeAttr a = s.resolve(&ctx, IntegerType::get(&ctx, 32), 1, 0, 2,
                           [&] { return emitError(UnknownLoc::get(&ctx)); });
  EXPECT_FALSE(a);
  EXPECT_NE(error.find("[LB-S2]"), std::string::npos) << error;
}

} // namespace
