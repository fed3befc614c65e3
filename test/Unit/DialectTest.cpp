//===- DialectTest.cpp - lowbit scheme and qtensor C++ API ------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Builds and queries #lowbit.scheme and !lowbit.qtensor through the C++ API:
// construction and verification, the run-time part types (codes, scales,
// zero points, tensor scale), code ranges, and parse/print round trips.
// Constraint ids ([LB-...]) are those of docs/Spec.md.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Dialect/LowbitDialect.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <string>

using namespace mlir;
using namespace mlir::lowbit;

namespace {

/// The parameters of a SchemeAttr with the defaults the parser uses; tests
/// change the fields they care about.
struct SchemeParams {
  Type storage;
  Type expressed;
  Granularity granularity = Granularity::None;
  int64_t axis = 0;
  SmallVector<int64_t> groupAxes;
  SmallVector<int64_t> groupSizes;
  bool symmetric = true;
  bool fullRange = false;
  bool ternary = false;
  Type scale;
  bool tensorScale = false;
  Rounding rounding = Rounding::NearestEven;
  bool saturate = true;
  GGUFKind gguf = GGUFKind::None;
};

class LowbitTest : public ::testing::Test {
protected:
  LowbitTest() { ctx.loadDialect<LowbitDialect>(); }

  Type i(unsigned w) { return IntegerType::get(&ctx, w); }
  Type ui(unsigned w) {
    return IntegerType::get(&ctx, w, IntegerType::Unsigned);
  }
  Type f32() { return Float32Type::get(&ctx); }

  SchemeParams params(Type storage) {
    SchemeParams p;
    p.storage = storage;
    p.expressed = f32();
    return p;
  }
  SchemeParams perTensor(Type storage) {
    SchemeParams p = params(storage);
    p.granularity = Granularity::PerTensor;
    p.scale = f32();
    return p;
  }
  SchemeParams perAxis(Type storage, int64_t axis) {
    SchemeParams p = perTensor(storage);
    p.granularity = Granularity::PerAxis;
    p.axis = axis;
    return p;
  }
  SchemeParams perGroup(Type storage, int64_t axis, int64_t size, Type scale) {
    SchemeParams p = perTensor(storage);
    p.granularity = Granularity::PerGroup;
    p.groupAxes = {axis};
    p.groupSizes = {size};
    p.scale = scale;
    return p;
  }

  SchemeAttr get(const SchemeParams &p) {
    return SchemeAttr::get(&ctx, p.storage, p.expressed, p.granularity, p.axis,
                           p.groupAxes, p.groupSizes, p.symmetric, p.fullRange,
                           p.ternary, p.scale, p.tensorScale, p.rounding,
                           p.saturate, p.gguf);
  }

  /// getChecked; the diagnostic it reports, if any, lands in `diag`. The
  /// group lists are passed as ArrayRef: a SmallVector argument would pick
  /// the inherited variadic Base::getChecked template instead, which does
  /// not compile against the storage class.
  SchemeAttr getChecked(const SchemeParams &p, std::string &diag) {
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      diag = d.str();
      return success();
    });
    return SchemeAttr::getChecked(
        [&] { return emitError(UnknownLoc::get(&ctx)); }, &ctx, p.storage,
        p.expressed, p.granularity, p.axis, ArrayRef<int64_t>(p.groupAxes),
        ArrayRef<int64_t>(p.groupSizes), p.symmetric, p.fullRange, p.ternary,
        p.scale, p.tensorScale, p.rounding, p.saturate, p.gguf);
  }

  QTensorType qtensor(ArrayRef<int64_t> shape, const SchemeParams &p) {
    return QTensorType::get(&ctx, shape, get(p));
  }

  /// Parses a type; fails the test (and returns null) on a parse error.
  Type type(StringRef text) {
    Type t = parseType(text, &ctx);
    EXPECT_TRUE(t) << "cannot parse " << text.str();
    return t;
  }

  MLIRContext ctx;
};

std::string print(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

std::string print(Attribute a) {
  std::string s;
  llvm::raw_string_ostream os(s);
  a.print(os);
  return s;
}

//===----------------------------------------------------------------------===//
// SchemeAttr
//===----------------------------------------------------------------------===//

TEST_F(LowbitTest, SchemeQueries) {
  SchemeAttr s = get(perAxis(i(8), 0));
  ASSERT_TRUE(s);
  EXPECT_TRUE(s.isInteger());
  EXPECT_FALSE(s.isFloat());
  EXPECT_FALSE(s.isGGUF());
  EXPECT_TRUE(s.hasScales());
  EXPECT_FALSE(s.hasZeroPoints());
  EXPECT_EQ(s.getStorageWidth(), 8u);
  EXPECT_EQ(s.getGranularity(), Granularity::PerAxis);
  EXPECT_EQ(s.getAxis(), 0);
  // Uniqued: the same parameters give the same attribute.
  EXPECT_EQ(s, get(perAxis(i(8), 0)));
  EXPECT_NE(s, get(perAxis(i(8), 1)));

  SchemeParams mx = perGroup(type("f4E2M1FN"), 1, 32, type("f8E8M0FNU"));
  SchemeAttr mxfp4 = get(mx);
  EXPECT_TRUE(mxfp4.isFloat());
  EXPECT_EQ(mxfp4.getStorageWidth(), 4u);

  SchemeParams g = params(i(8));
  g.gguf = GGUFKind::Q4_K;
  SchemeAttr gguf = get(g);
  EXPECT_TRUE(gguf.isGGUF());
  EXPECT_FALSE(gguf.isInteger());
  EXPECT_EQ(gguf.getStorageWidth(), 0u);
}

TEST_F(LowbitTest, SchemeQRange) {
  // Symmetric signed: the most negative code is unused.
  SchemeAttr i8 = get(perTensor(i(8)));
  EXPECT_EQ(i8.getQMin(), -127);
  EXPECT_EQ(i8.getQMax(), 127);

  SchemeParams full = perTensor(i(8));
  full.fullRange = true;
  EXPECT_EQ(get(full).getQMin(), -128);
  EXPECT_EQ(get(full).getQMax(), 127);

  SchemeAttr i4 = get(perTensor(i(4)));
  EXPECT_EQ(i4.getQMin(), -7);
  EXPECT_EQ(i4.getQMax(), 7);

  // Asymmetric signed and unsigned use the whole range.
  SchemeParams asymI8 = perTensor(i(8));
  asymI8.symmetric = false;
  EXPECT_EQ(get(asymI8).getQMin(), -128);
  EXPECT_EQ(get(asymI8).getQMax(), 127);

  SchemeParams ui4 = perGroup(ui(4), 1, 32, f32());
  ui4.symmetric = false;
  EXPECT_TRUE(get(ui4).hasZeroPoints());
  EXPECT_EQ(get(ui4).getQMin(), 0);
  EXPECT_EQ(get(ui4).getQMax(), 15);

  SchemeParams ternary = perTensor(i(2));
  ternary.ternary = true;
  EXPECT_EQ(get(ternary).getQMin(), -1);
  EXPECT_EQ(get(ternary).getQMax(), 1);
}

TEST_F(LowbitTest, SchemeGetCheckedValid) {
  std::string diag;
  EXPECT_TRUE(getChecked(perAxis(i(8), 0), diag));
  EXPECT_TRUE(
      getChecked(perGroup(type("f4E2M1FN"), 1, 32, type("f8E8M0FNU")), diag));
  SchemeParams nvfp4 = perGroup(type("f4E2M1FN"), 1, 16, type("f8E4M3FN"));
  nvfp4.tensorScale = true;
  EXPECT_TRUE(getChecked(nvfp4, diag));
  EXPECT_TRUE(getChecked(params(type("f8E4M3FN")), diag));
  EXPECT_EQ(diag, "");
}

TEST_F(LowbitTest, SchemeGetCheckedInvalid) {
  struct Case {
    const char *name;
    SchemeParams params;
    const char *id;
  };
  SchemeParams wide = perTensor(i(16));
  SchemeParams unsignedSym = perTensor(ui(8));
  SchemeParams noGranularity = params(i(8));
  SchemeParams e8m0PerAxis = perAxis(type("f4E2M1FN"), 0);
  e8m0PerAxis.scale = type("f8E8M0FNU");
  SchemeParams asymFloat = perTensor(type("f8E4M3FN"));
  asymFloat.symmetric = false;
  SchemeParams fullUnsigned = perTensor(ui(8));
  fullUnsigned.symmetric = false;
  fullUnsigned.fullRange = true;
  SchemeParams ternaryI4 = perTensor(i(4));
  ternaryI4.ternary = true;
  SchemeParams badGroups = perGroup(i(8), 1, 32, f32());
  badGroups.groupAxes = {1, 0};
  badGroups.groupSizes = {32, 2};
  SchemeParams zeroGroup = perGroup(i(8), 1, 0, f32());
  SchemeParams tensorScaleF32 = perGroup(type("f4E2M1FN"), 1, 16, f32());
  tensorScaleF32.tensorScale = true;
  SchemeParams saturateInt = perTensor(i(8));
  saturateInt.saturate = false;
  SchemeParams ggufGranularity = perTensor(i(8));
  ggufGranularity.gguf = GGUFKind::Q4_0;
  SchemeParams badExpressed = perTensor(i(8));
  badExpressed.expressed = type("f64");

  Case cases[] = {
      {"i16 storage", wide, "[LB-S1]"},
      {"f64 expressed", badExpressed, "[LB-S2]"},
      {"E8M0 scale per_axis", e8m0PerAxis, "[LB-S3]"},
      {"unsigned symmetric", unsignedSym, "[LB-S4]"},
      {"asymmetric float", asymFloat, "[LB-S4]"},
      {"full_range unsigned", fullUnsigned, "[LB-S5]"},
      {"ternary i4", ternaryI4, "[LB-S6]"},
      {"decreasing group axes", badGroups, "[LB-S7]"},
      {"zero group size", zeroGroup, "[LB-S7]"},
      {"tensor_scale with f32 scales", tensorScaleF32, "[LB-S8]"},
      {"integer without granularity", noGranularity, "[LB-S9]"},
      {"gguf with granularity", ggufGranularity, "[LB-S10]"},
      {"no_saturate on i8", saturateInt, "[LB-S11]"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    std::string diag;
    EXPECT_FALSE(getChecked(c.params, diag));
    EXPECT_NE(diag.find(c.id), std::string::npos) << "diagnostic: " << diag;
  }
}

//===----------------------------------------------------------------------===//
// QTensorType: codes
//===----------------------------------------------------------------------===//

TEST_F(LowbitTest, CodesTypeInt8) {
  QTensorType t = qtensor({4, 64}, perAxis(i(8), 0));
  EXPECT_EQ(t.getRank(), 2);
  EXPECT_EQ(t.getNumElements(), 256);
  EXPECT_EQ(t.getCodesType(), type("tensor<4x64xi8>"));
  EXPECT_EQ(t.getExpressedTensorType(), type("tensor<4x64xf32>"));
}

TEST_F(LowbitTest, CodesTypeSubBytePacking) {
  // Two 4-bit codes per byte; an odd last dimension rounds up.
  EXPECT_EQ(qtensor({4, 64}, perTensor(i(4))).getCodesType(),
            type("tensor<4x32xi8>"));
  EXPECT_EQ(qtensor({3, 5}, perTensor(i(4))).getCodesType(),
            type("tensor<3x3xi8>"));
  EXPECT_EQ(qtensor({7}, perTensor(i(4))).getCodesType(), type("tensor<4xi8>"));
  EXPECT_EQ(qtensor({1}, perTensor(i(4))).getCodesType(), type("tensor<1xi8>"));
  // Only the last dimension is packed.
  EXPECT_EQ(qtensor({5, 2}, perTensor(i(4))).getCodesType(),
            type("tensor<5x1xi8>"));
  // Four 2-bit codes per byte.
  SchemeParams ternary = perTensor(i(2));
  ternary.ternary = true;
  EXPECT_EQ(qtensor({2, 5}, ternary).getCodesType(), type("tensor<2x2xi8>"));
  // FP4 packs like i4.
  EXPECT_EQ(qtensor({2, 33}, params(type("f4E2M1FN"))).getCodesType(),
            type("tensor<2x17xi8>"));
}

TEST_F(LowbitTest, CodesTypeGGUF) {
  // q4_0: 32 elements in 18 bytes; q4_k: 256 elements in 144 bytes.
  EXPECT_EQ(getGGUFBlockElements(GGUFKind::Q4_0), 32);
  EXPECT_EQ(getGGUFBlockBytes(GGUFKind::Q4_0), 18);
  EXPECT_EQ(getGGUFBlockElements(GGUFKind::Q4_K), 256);
  EXPECT_EQ(getGGUFBlockBytes(GGUFKind::Q4_K), 144);

  SchemeParams q40 = params(i(8));
  q40.gguf = GGUFKind::Q4_0;
  QTensorType t40 = qtensor({2, 64}, q40);
  EXPECT_EQ(t40.getCodesType(), type("tensor<2x36xi8>"));
  EXPECT_FALSE(t40.getScalesType());
  EXPECT_FALSE(t40.getZeroPointsType());

  SchemeParams q4k = params(i(8));
  q4k.gguf = GGUFKind::Q4_K;
  EXPECT_EQ(qtensor({3, 512}, q4k).getCodesType(), type("tensor<3x288xi8>"));
  EXPECT_EQ(type("!lowbit.qtensor<256xgguf<q4_k>>"), qtensor({256}, q4k));
  EXPECT_EQ(
      cast<QTensorType>(type("!lowbit.qtensor<256xgguf<q4_k>>")).getCodesType(),
      type("tensor<144xi8>"));
}

TEST_F(LowbitTest, QTensorGetCheckedInvalid) {
  auto check = [&](ArrayRef<int64_t> shape, const SchemeParams &p,
                   StringRef id) {
    std::string diag;
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      diag = d.str();
      return success();
    });
    QTensorType t = QTensorType::getChecked(
        [&] { return emitError(UnknownLoc::get(&ctx)); }, &ctx, shape, get(p));
    EXPECT_FALSE(t);
    EXPECT_NE(diag.find(id.str()), std::string::npos) << "diagnostic: " << diag;
  };
  SchemeParams q4k = params(i(8));
  q4k.gguf = GGUFKind::Q4_K;
  check({4, 100}, q4k, "[LB-T4]");
  check({4, 48}, perGroup(i(8), 1, 32, f32()), "[LB-T3]");
  check({4, 64}, perGroup(i(8), 2, 32, f32()), "[LB-T3]");
  check({4, 64}, perAxis(i(8), 2), "[LB-T2]");
  check({}, perTensor(i(8)), "[LB-T1]");
  check({4, ShapedType::kDynamic}, perTensor(i(8)), "[LB-T1]");
}

//===----------------------------------------------------------------------===//
// QTensorType: scales, zero points, tensor scale
//===----------------------------------------------------------------------===//

TEST_F(LowbitTest, PartsPerTensor) {
  QTensorType t = qtensor({4, 64}, perTensor(i(8)));
  EXPECT_TRUE(t.getScaleShape().empty());
  EXPECT_EQ(t.getScalesType(), type("tensor<f32>"));
  EXPECT_FALSE(t.getZeroPointsType());
  EXPECT_FALSE(t.getTensorScaleType());
  EXPECT_EQ(t.getBlockSizes(), (SmallVector<int64_t>{4, 64}));

  SchemeParams asym = perTensor(ui(8));
  asym.symmetric = false;
  QTensorType ta = qtensor({4, 64}, asym);
  EXPECT_EQ(ta.getZeroPointsType(), type("tensor<i32>"));
  SmallVector<Type> parts;
  ta.getPartTypes(parts);
  EXPECT_EQ(parts.size(), 3u);
}

TEST_F(LowbitTest, PartsPerAxis) {
  QTensorType t0 = qtensor({4, 64}, perAxis(i(8), 0));
  EXPECT_EQ(t0.getScaleShape(), (SmallVector<int64_t>{4}));
  EXPECT_EQ(t0.getScalesType(), type("tensor<4xf32>"));
  EXPECT_FALSE(t0.getZeroPointsType());
  EXPECT_FALSE(t0.getTensorScaleType());
  EXPECT_EQ(t0.getBlockSizes(), (SmallVector<int64_t>{1, 64}));

  SchemeParams p1 = perAxis(ui(8), 1);
  p1.symmetric = false;
  p1.scale = type("f16");
  QTensorType t1 = qtensor({4, 64}, p1);
  EXPECT_EQ(t1.getScaleShape(), (SmallVector<int64_t>{64}));
  EXPECT_EQ(t1.getScalesType(), type("tensor<64xf16>"));
  EXPECT_EQ(t1.getZeroPointsType(), type("tensor<64xi32>"));

  SmallVector<Type> parts;
  t0.getPartTypes(parts);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0], type("tensor<4x64xi8>"));
  EXPECT_EQ(parts[1], type("tensor<4xf32>"));
}

TEST_F(LowbitTest, PartsPerGroup) {
  SchemeParams p = perGroup(ui(4), 1, 32, type("bf16"));
  p.symmetric = false;
  QTensorType t = qtensor({4, 64}, p);
  EXPECT_EQ(t.getScaleShape(), (SmallVector<int64_t>{4, 2}));
  EXPECT_EQ(t.getBlockSizes(), (SmallVector<int64_t>{1, 32}));
  EXPECT_EQ(t.getCodesType(), type("tensor<4x32xi8>"));
  EXPECT_EQ(t.getScalesType(), type("tensor<4x2xbf16>"));
  EXPECT_EQ(t.getZeroPointsType(), type("tensor<4x2xi32>"));
  EXPECT_FALSE(t.getTensorScaleType());

  // Groups along two axes.
  SchemeParams p2 = perTensor(i(8));
  p2.granularity = Granularity::PerGroup;
  p2.groupAxes = {0, 1};
  p2.groupSizes = {2, 16};
  QTensorType t2 = qtensor({4, 64}, p2);
  EXPECT_EQ(t2.getScaleShape(), (SmallVector<int64_t>{2, 4}));
  EXPECT_EQ(t2.getScalesType(), type("tensor<2x4xf32>"));
}

TEST_F(LowbitTest, PartsMXFP4) {
  QTensorType t =
      qtensor({4, 64}, perGroup(type("f4E2M1FN"), 1, 32, type("f8E8M0FNU")));
  EXPECT_EQ(t.getCodesType(), type("tensor<4x32xi8>"));
  EXPECT_EQ(t.getScalesType(), type("tensor<4x2xf8E8M0FNU>"));
  EXPECT_FALSE(t.getZeroPointsType());
  EXPECT_FALSE(t.getTensorScaleType());
  EXPECT_EQ(t, type("!lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 32]>, "
                    "scale = f8E8M0FNU>"));
}

TEST_F(LowbitTest, PartsNVFP4) {
  SchemeParams p = perGroup(type("f4E2M1FN"), 1, 16, type("f8E4M3FN"));
  p.tensorScale = true;
  QTensorType t = qtensor({4, 64}, p);
  EXPECT_EQ(t.getCodesType(), type("tensor<4x32xi8>"));
  EXPECT_EQ(t.getScalesType(), type("tensor<4x4xf8E4M3FN>"));
  EXPECT_FALSE(t.getZeroPointsType());
  EXPECT_EQ(t.getTensorScaleType(), type("tensor<f32>"));

  SmallVector<Type> parts;
  t.getPartTypes(parts);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[2], type("tensor<f32>"));
}

TEST_F(LowbitTest, PartsElementCast) {
  QTensorType t = qtensor({8}, params(type("f8E4M3FN")));
  EXPECT_EQ(t.getCodesType(), type("tensor<8xi8>"));
  EXPECT_FALSE(t.getScalesType());
  EXPECT_FALSE(t.getZeroPointsType());
  EXPECT_FALSE(t.getTensorScaleType());
  SmallVector<Type> parts;
  t.getPartTypes(parts);
  EXPECT_EQ(parts.size(), 1u);
}

//===----------------------------------------------------------------------===//
// Parsing and printing
//===----------------------------------------------------------------------===//

TEST_F(LowbitTest, TypeRoundTrip) {
  const char *types[] = {
      "!lowbit.qtensor<4x64xi8, per_axis<0>>",
      "!lowbit.qtensor<64x128xui4, per_group<[1 : 32]>, asymmetric>",
      "!lowbit.qtensor<8x32xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>",
      "!lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, "
      "tensor_scale>",
      "!lowbit.qtensor<2x256xgguf<q4_k>>",
      "!lowbit.qtensor<4x8xternary : bf16, per_tensor>",
      "!lowbit.qtensor<16xf8E4M3FN, no_saturate>",
      "!lowbit.qtensor<4x4xi8, per_tensor, full_range, round = nearest_away>",
  };
  for (const char *text : types) {
    SCOPED_TRACE(text);
    Type t = type(text);
    ASSERT_TRUE(t);
    EXPECT_TRUE(isa<QTensorType>(t));
    EXPECT_EQ(print(t), text);
    EXPECT_EQ(type(print(t)), t);
  }
}

TEST_F(LowbitTest, TypeParseMatchesBuilder) {
  SchemeParams p = perGroup(ui(4), 1, 32, f32());
  p.symmetric = false;
  EXPECT_EQ(type("!lowbit.qtensor<64x128xui4, per_group<[1 : 32]>, "
                 "asymmetric>"),
            qtensor({64, 128}, p));
  // Default options are not printed: an explicit f32 scale reads back equal.
  EXPECT_EQ(type("!lowbit.qtensor<4x64xi8, per_axis<0>, scale = f32>"),
            type("!lowbit.qtensor<4x64xi8, per_axis<0>>"));
}

TEST_F(LowbitTest, SchemeAttrRoundTrip) {
  const char *text =
      "#lowbit.scheme<ui4 : f16, per_group<[1 : 128]>, asymmetric>";
  Attribute a = parseAttribute(text, &ctx);
  ASSERT_TRUE(a);
  auto s = dyn_cast<SchemeAttr>(a);
  ASSERT_TRUE(s);
  EXPECT_EQ(s.getExpressedType(), type("f16"));
  ASSERT_EQ(s.getGroupSizes().size(), 1u);
  EXPECT_EQ(s.getGroupSizes()[0], 128);
  EXPECT_EQ(print(a), text);
}

TEST_F(LowbitTest, TypeParseErrors) {
  auto parseFails = [&](StringRef text, StringRef expected) {
    std::string diag;
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      diag = d.str();
      return success();
    });
    EXPECT_FALSE(parseType(text, &ctx)) << text.str();
    EXPECT_NE(diag.find(expected.str()), std::string::npos)
        << text.str() << " gave: " << diag;
  };
  parseFails("!lowbit.qtensor<4x64xi16, per_tensor>", "[LB-S1]");
  parseFails("!lowbit.qtensor<4x100xgguf<q4_k>>", "[LB-T4]");
  parseFails("!lowbit.qtensor<4x64xi8, per_axis<2>>", "[LB-T2]");
  parseFails("!lowbit.qtensor<4x64xi8, per_tensor, bogus>",
             "unknown scheme option 'bogus'");
  parseFails("!lowbit.qtensor<4x64xgguf<q9_x>>", "unknown GGUF block format");
}

} // namespace
